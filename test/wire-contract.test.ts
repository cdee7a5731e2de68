// Checks our generated descriptors against the wire reference (test/fixtures/wire.md, a
// byte-identical copy of the shared spec/wire.md) in both directions: everything the reference
// lists exists with exactly those properties, and our protos declare nothing more.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getOption, hasOption, ScalarType } from "@bufbuild/protobuf";
import type { DescEnum, DescField, DescMessage, DescService } from "@bufbuild/protobuf";
import type { GenFile } from "@bufbuild/protobuf/codegenv2";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import { http } from "../gen/google/api/annotations_pb.js";
import { field_behavior, FieldBehaviorSchema } from "../gen/google/api/field_behavior_pb.js";
import { file_memos_api_v1_attachment_service } from "../gen/memos/api/v1/attachment_service_pb.js";
import { file_memos_api_v1_auth_service } from "../gen/memos/api/v1/auth_service_pb.js";
import { file_memos_api_v1_common } from "../gen/memos/api/v1/common_pb.js";
import { file_memos_api_v1_idp_service } from "../gen/memos/api/v1/idp_service_pb.js";
import { file_memos_api_v1_instance_service } from "../gen/memos/api/v1/instance_service_pb.js";
import { file_memos_api_v1_memo_service } from "../gen/memos/api/v1/memo_service_pb.js";
import { file_memos_api_v1_memo_view_service } from "../gen/memos/api/v1/memo_view_service_pb.js";
import { file_memos_api_v1_user_service } from "../gen/memos/api/v1/user_service_pb.js";

const PACKAGE = "memos.api.v1";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const fixturePath = join(root, "test", "fixtures", "wire.md");
const sharedPath = join(root, "..", "shared", "spec", "wire.md");

const generatedFiles: Record<string, GenFile> = {
  "attachment_service.proto": file_memos_api_v1_attachment_service,
  "auth_service.proto": file_memos_api_v1_auth_service,
  "common.proto": file_memos_api_v1_common,
  "idp_service.proto": file_memos_api_v1_idp_service,
  "instance_service.proto": file_memos_api_v1_instance_service,
  "memo_service.proto": file_memos_api_v1_memo_service,
  "memo_view_service.proto": file_memos_api_v1_memo_view_service,
  "user_service.proto": file_memos_api_v1_user_service,
};

/**
 * Places where wire.md's table cannot be taken literally. Each entry must still match the row
 * wire.md prints (so a corrected wire.md makes the erratum test fail and the entry can go).
 *
 * The two TagsSetting.tags fields are `map<string, TagMetadata>` in the reference protos (keyed by
 * tag pattern). wire.md prints message-valued maps as a plain singular message (its scalar-valued
 * map, UserStats.tag_count, is printed as `map<string, int32>`); a singular message would change
 * the binary and JSON encoding the Memos web app reads and writes.
 */
const ERRATA: readonly { message: string; field: string; listed: string; actual: string }[] = [
  {
    message: "memos.api.v1.InstanceSetting.TagsSetting",
    field: "tags",
    listed: "memos.api.v1.InstanceSetting.TagMetadata",
    actual: "map<string, memos.api.v1.InstanceSetting.TagMetadata>",
  },
  {
    message: "memos.api.v1.UserSetting.TagsSetting",
    field: "tags",
    listed: "memos.api.v1.UserSetting.TagMetadata",
    actual: "map<string, memos.api.v1.UserSetting.TagMetadata>",
  },
];

// ---------------------------------------------------------------------------------------------
// wire.md parser. Strict: a line it does not understand inside a section is an error, so a new
// construct in the reference cannot be skipped silently.

interface WireField {
  number: number;
  name: string;
  type: string;
  oneof: string;
  behaviors: string[];
}
interface WireMessage {
  fullName: string;
  fields: WireField[];
  reserved: string[];
}
interface WireEnum {
  fullName: string;
  values: string[];
  reserved: string[];
}
interface WireMethod {
  name: string;
  input: string;
  output: string;
  verb: string;
  path: string;
  body: string;
}
interface WireService {
  fullName: string;
  methods: WireMethod[];
}
interface WireSection {
  file: string;
  services: WireService[];
  messages: WireMessage[];
  enums: WireEnum[];
}

const METHOD_HEADER = "| rpc | request | response | http | body |";
const FIELD_HEADER = "| # | field | type | oneof | behavior |";

/** Qualifies a type name: names without a package (first segment capitalised) are in memos.api.v1. */
function qualify(type: string): string {
  return /^[a-z]/.test(type) ? type : `${PACKAGE}.${type}`;
}

function cells(line: string): string[] {
  const parts = line.split("|").map((c) => c.trim());
  if (parts[0] !== "" || parts[parts.length - 1] !== "") throw new Error(`not a table row: ${line}`);
  return parts.slice(1, -1);
}

function parseReserved(text: string): string[] {
  return text.split(",").map((item) => {
    const entry = item.trim();
    if (/^\d+-\d+$/.test(entry) || /^[a-z_][a-z0-9_]*$/i.test(entry)) return entry;
    throw new Error(`unrecognised reserved entry "${entry}"`);
  });
}

function parseWire(text: string): WireSection[] {
  const sections: WireSection[] = [];
  let section: WireSection | undefined;
  let block: { kind: "service"; item: WireService } | { kind: "message"; item: WireMessage } | { kind: "enum"; item: WireEnum } | undefined;
  let tableLine = 0;
  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    const line = raw.trimEnd();
    const fail = (why: string): never => {
      throw new Error(`wire.md line ${index + 1}: ${why}: ${line}`);
    };
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^## (\S+\.proto)$/))) {
      section = { file: m[1]!, services: [], messages: [], enums: [] };
      sections.push(section);
      block = undefined;
      return;
    }
    if (!section) return; // title and preamble
    if (line === "") return;
    if ((m = line.match(/^### (service|message|enum) (\S+)$/))) {
      const fullName = m[2]!;
      if (!fullName.startsWith(`${PACKAGE}.`)) fail("type outside the package");
      tableLine = 0;
      if (m[1] === "service") {
        block = { kind: "service", item: { fullName, methods: [] } };
        section.services.push(block.item);
      } else if (m[1] === "message") {
        block = { kind: "message", item: { fullName, fields: [], reserved: [] } };
        section.messages.push(block.item);
      } else {
        block = { kind: "enum", item: { fullName, values: [], reserved: [] } };
        section.enums.push(block.item);
      }
      return;
    }
    if (!block) return fail("content outside a service, message or enum");
    if ((m = line.match(/^reserved: (.+)$/))) {
      if (block.kind === "service") fail("reserved on a service");
      else block.item.reserved.push(...parseReserved(m[1]!));
      return;
    }
    if (line.startsWith("|")) {
      tableLine++;
      if (block.kind === "enum") return fail("table under an enum");
      if (tableLine === 1) {
        const header = block.kind === "service" ? METHOD_HEADER : FIELD_HEADER;
        if (line !== header) fail(`expected header "${header}"`);
        return;
      }
      if (tableLine === 2) {
        if (!/^\|(---\|)+$/.test(line)) fail("expected the table separator");
        return;
      }
      const row = cells(line);
      if (row.length !== 5) fail("expected 5 cells");
      if (block.kind === "service") {
        const [name, input, output, binding, body] = row as [string, string, string, string, string];
        const hm = binding.match(/^(GET|PUT|POST|DELETE|PATCH) (\/\S*)$/);
        if (!hm) return fail(`unrecognised http binding "${binding}"`);
        block.item.methods.push({
          name,
          input: qualify(input),
          output: qualify(output),
          verb: hm[1]!.toLowerCase(),
          path: hm[2]!,
          body,
        });
      } else {
        const [num, name, type, oneof, behavior] = row as [string, string, string, string, string];
        if (!/^\d+$/.test(num)) fail("field number is not a number");
        block.item.fields.push({
          number: Number(num),
          name,
          type,
          oneof,
          behaviors: behavior === "" ? [] : behavior.split(",").map((b) => b.trim()),
        });
      }
      return;
    }
    if (block.kind === "enum" && /^[A-Z0-9_]+ = -?\d+(; [A-Z0-9_]+ = -?\d+)*$/.test(line)) {
      if (block.item.values.length > 0) fail("second value line for one enum");
      block.item.values = line.split("; ").map((v) => v.trim());
      return;
    }
    fail("unrecognised line");
  });
  return sections;
}

const wireText = readFileSync(fixturePath, "utf8");
const sections = parseWire(wireText);
const rawWireMessages = new Map(sections.flatMap((s) => s.messages).map((m) => [m.fullName, m]));

/** wire.md with the errata applied: what the protos must say. */
function corrected(message: WireMessage): WireMessage {
  return {
    ...message,
    fields: message.fields.map((f) => {
      const erratum = ERRATA.find((e) => e.message === message.fullName && e.field === f.name);
      return erratum ? { ...f, type: erratum.actual } : f;
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering our descriptors in wire.md's vocabulary.

function scalarName(scalar: ScalarType): string {
  return ScalarType[scalar].toLowerCase();
}

function renderType(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return `${field.proto.proto3Optional ? "optional " : ""}${scalarName(field.scalar)}`;
    case "enum":
      return `${field.proto.proto3Optional ? "optional " : ""}${field.enum.typeName}`;
    case "message":
      return `${field.proto.proto3Optional ? "optional " : ""}${field.message.typeName}`;
    case "list": {
      const element =
        field.listKind === "scalar"
          ? scalarName(field.scalar)
          : field.listKind === "enum"
            ? field.enum.typeName
            : field.message.typeName;
      return `repeated ${element}`;
    }
    case "map": {
      const value =
        field.mapKind === "scalar"
          ? scalarName(field.scalar)
          : field.mapKind === "enum"
            ? field.enum.typeName
            : field.message.typeName;
      return `map<${scalarName(field.mapKey)}, ${value}>`;
    }
  }
}

function behaviorName(value: number): string {
  return FieldBehaviorSchema.values.find((v) => v.number === value)?.name ?? `UNKNOWN(${value})`;
}

function fieldRow(f: WireField): string {
  return `${f.number} ${f.name}: ${f.type} | oneof=${f.oneof || "-"} | behavior=${f.behaviors.join(",") || "-"}`;
}

function actualFieldRow(field: DescField): string {
  return fieldRow({
    number: field.number,
    name: field.name,
    type: renderType(field),
    oneof: field.oneof?.name ?? "",
    behaviors: getOption(field, field_behavior).map(behaviorName),
  });
}

function reservedOf(desc: DescMessage | DescEnum): string[] {
  // Message reserved ranges are end-exclusive, enum reserved ranges end-inclusive; wire.md is inclusive.
  const ranges = desc.kind === "message"
    ? desc.proto.reservedRange.map((r) => `${r.start}-${r.end - 1}`)
    : desc.proto.reservedRange.map((r) => `${r.start}-${r.end}`);
  return [...ranges, ...desc.proto.reservedName];
}

function methodRow(m: WireMethod): string {
  return `${m.name}(${m.input}) returns (${m.output}) ${m.verb.toUpperCase()} ${m.path} body=${m.body || "-"}`;
}

function allMessages(list: readonly DescMessage[]): DescMessage[] {
  return list.flatMap((m) => [m, ...allMessages(m.nestedMessages)]);
}

function allEnums(file: GenFile): DescEnum[] {
  return [...file.enums, ...allMessages(file.messages).flatMap((m) => m.nestedEnums)];
}

const actualMessages = new Map<string, DescMessage>();
const actualEnums = new Map<string, DescEnum>();
const actualServices = new Map<string, DescService>();
for (const file of Object.values(generatedFiles)) {
  for (const m of allMessages(file.messages)) actualMessages.set(m.typeName, m);
  for (const e of allEnums(file)) actualEnums.set(e.typeName, e);
  for (const s of file.services) actualServices.set(s.typeName, s);
}

const sectionFiles = sections.map((s) => s.file).sort();
const wireServices = sections.flatMap((s) => s.services.map((item) => ({ file: s.file, item })));
const wireMessages = sections.flatMap((s) => s.messages.map((item) => ({ file: s.file, item: corrected(item) })));
const wireEnums = sections.flatMap((s) => s.enums.map((item) => ({ file: s.file, item })));

// ---------------------------------------------------------------------------------------------

describe("wire.md fixture", () => {
  (existsSync(sharedPath) ? test : test.skip)("test/fixtures/wire.md is byte-identical to shared spec/wire.md", () => {
    expect(readFileSync(fixturePath).equals(readFileSync(sharedPath))).toBe(true);
  });

  test("parses into sections with services, messages and enums, each named once", () => {
    expect(sections.length).toBeGreaterThan(0);
    const names = [...wireServices, ...wireMessages, ...wireEnums].map((x) => x.item.fullName);
    expect(names.length).toBeGreaterThan(100);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    for (const e of wireEnums) expect(e.item.values.length).toBeGreaterThan(0);
    for (const s of wireServices) expect(s.item.methods.length).toBeGreaterThan(0);
  });

  test.each(ERRATA.map((e) => [`${e.message}.${e.field}`, e] as const))(
    "erratum %s: wire.md still prints the listed type (remove the erratum once it is fixed)",
    (_label, erratum) => {
      const field = rawWireMessages.get(erratum.message)?.fields.find((f) => f.name === erratum.field);
      expect(field?.type).toBe(erratum.listed);
    },
  );
});

describe("proto files", () => {
  test("one proto file per wire.md section, and no others", () => {
    const protoDir = join(root, "proto", "memos", "api", "v1");
    expect(readdirSync(protoDir).sort()).toEqual(sectionFiles);
    expect(Object.keys(generatedFiles).sort()).toEqual(sectionFiles);
    const genDir = join(root, "gen", "memos", "api", "v1");
    expect(readdirSync(genDir).sort()).toEqual(sectionFiles.map((f) => f.replace(/\.proto$/, "_pb.ts")));
  });

  test.each(sectionFiles)("%s: package and contents match its wire.md section", (file) => {
    const gen = generatedFiles[file]!;
    const section = sections.find((s) => s.file === file)!;
    expect(gen.name).toBe(`memos/api/v1/${file.replace(/\.proto$/, "")}`);
    expect(gen.proto.package).toBe(PACKAGE);
    expect(gen.proto.syntax).toBe("proto3");
    expect(gen.services.map((s) => s.typeName).sort()).toEqual(section.services.map((s) => s.fullName).sort());
    expect(allMessages(gen.messages).map((m) => m.typeName).sort()).toEqual(
      section.messages.map((m) => m.fullName).sort(),
    );
    expect(allEnums(gen).map((e) => e.typeName).sort()).toEqual(section.enums.map((e) => e.fullName).sort());
    expect(gen.extensions).toEqual([]);
  });
});

describe("services", () => {
  test.each(wireServices.map((s) => [s.item.fullName, s.item] as const))("service %s", (name, wire) => {
    const service = actualServices.get(name);
    expect(service).toBeDefined();
    if (!service) return;
    const actual = service.methods.map((m) => {
      expect(hasOption(m, http)).toBe(true);
      const rule = getOption(m, http);
      const verb = rule.pattern.case ?? "none";
      const path = typeof rule.pattern.value === "string" ? rule.pattern.value : JSON.stringify(rule.pattern.value);
      return methodRow({ name: m.name, input: m.input.typeName, output: m.output.typeName, verb, path, body: rule.body });
    });
    expect(actual).toEqual(wire.methods.map(methodRow));
    for (const m of service.methods) {
      const rule = getOption(m, http);
      expect(`${m.name} ${m.methodKind}`).toBe(`${m.name} unary`);
      expect({ method: m.name, additionalBindings: rule.additionalBindings.length, responseBody: rule.responseBody })
        .toEqual({ method: m.name, additionalBindings: 0, responseBody: "" });
    }
  });

  test("no service beyond wire.md", () => {
    expect([...actualServices.keys()].sort()).toEqual(wireServices.map((s) => s.item.fullName).sort());
  });
});

describe("messages", () => {
  test.each(wireMessages.map((m) => [m.item.fullName, m.item] as const))("message %s", (name, wire) => {
    const message = actualMessages.get(name);
    expect(message).toBeDefined();
    if (!message) return;
    const byNumber = (a: { number: number }, b: { number: number }) => a.number - b.number;
    expect([...message.fields].sort(byNumber).map(actualFieldRow)).toEqual([...wire.fields].sort(byNumber).map(fieldRow));
    expect(reservedOf(message)).toEqual(wire.reserved);
    // A custom json_name would change the JSON wire; every field keeps the default lowerCamelCase.
    expect(message.fields.filter((f) => f.proto.jsonName !== protoCamelCase(f.name)).map((f) => f.name)).toEqual([]);
    expect(message.proto.extensionRange).toEqual([]);
  });

  test("no message beyond wire.md", () => {
    expect([...actualMessages.keys()].sort()).toEqual(wireMessages.map((m) => m.item.fullName).sort());
  });
});

describe("enums", () => {
  test.each(wireEnums.map((e) => [e.item.fullName, e.item] as const))("enum %s", (name, wire) => {
    const desc = actualEnums.get(name);
    expect(desc).toBeDefined();
    if (!desc) return;
    expect(desc.values.map((v) => `${v.name} = ${v.number}`)).toEqual(wire.values);
    expect(reservedOf(desc)).toEqual(wire.reserved);
  });

  test("no enum beyond wire.md", () => {
    expect([...actualEnums.keys()].sort()).toEqual(wireEnums.map((e) => e.item.fullName).sort());
  });
});
