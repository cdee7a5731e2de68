// A test-only service, built from a descriptor at run time, whose request message has a field of
// every kind the REST transcoder must read from a path, a query string or a body, and whose
// bindings cover every template feature (nested field paths, *, **, literal "-", custom verbs,
// body "*", a named body, no body, additional_bindings, response_body).
import { create, createFileRegistry, setExtension, type DescMessage, type DescService } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
  MethodOptionsSchema,
  file_google_protobuf_duration,
  file_google_protobuf_field_mask,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
  type DescriptorProto,
  type FieldDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { http } from "../../gen/google/api/annotations_pb.js";
import { HttpRuleSchema } from "../../gen/google/api/http_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";

type RuleInit = Omit<MessageInitShape<typeof HttpRuleSchema>, "additionalBindings" | "$typeName">;

const PKG = "rest.test.v1";

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

type FieldSpec = [name: string, number: number, type: Type, typeName?: string, label?: Label, optional?: boolean];

function message(name: string, fields: FieldSpec[], nested: Partial<DescriptorProto>[] = [], oneofs: string[] = []): Partial<DescriptorProto> {
  const decls: Array<{ name: string }> = oneofs.map((o) => ({ name: o }));
  const fieldProtos: Partial<FieldDescriptorProto>[] = fields.map(([fname, number, type, typeName, label, optional]) => {
    const f: Partial<FieldDescriptorProto> = {
      name: fname,
      number,
      type,
      jsonName: camel(fname),
      label: label ?? Label.OPTIONAL,
      ...(typeName === undefined ? {} : { typeName }),
    };
    if (optional === true) {
      f.proto3Optional = true;
      f.oneofIndex = decls.length;
      decls.push({ name: `_${fname}` });
    }
    return f;
  });
  return { name, field: fieldProtos as FieldDescriptorProto[], nestedType: nested as DescriptorProto[], oneofDecl: decls as DescriptorProto["oneofDecl"] };
}

const R = Label.REPEATED;
const T = Type;

function rule(r: RuleInit & { additional?: RuleInit[] }) {
  const { additional, ...rest } = r;
  const options = create(MethodOptionsSchema);
  setExtension(options, http, create(HttpRuleSchema, { ...rest, additionalBindings: additional ?? [] }));
  return options;
}

const file = create(FileDescriptorProtoSchema, {
  name: "rest/test/v1/toy.proto",
  package: PKG,
  syntax: "proto3",
  dependency: [
    "google/protobuf/timestamp.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/field_mask.proto",
    "google/protobuf/wrappers.proto",
  ],
  enumType: [{ name: "Color", value: [{ name: "COLOR_UNSPECIFIED", number: 0 }, { name: "RED", number: 1 }, { name: "GREEN", number: 2 }] }],
  messageType: [
    message("Deep", [["x", 1, T.STRING]]),
    message("Inner", [
      ["label", 1, T.STRING],
      ["count", 2, T.INT32],
      ["deep", 3, T.MESSAGE, `.${PKG}.Deep`],
    ]),
    message("Thing", [
      ["name", 1, T.STRING],
      ["title", 2, T.STRING],
      ["count", 3, T.INT32],
      ["when", 4, T.MESSAGE, ".google.protobuf.Timestamp"],
      ["inner", 5, T.MESSAGE, `.${PKG}.Inner`],
      ["items", 6, T.STRING, undefined, R],
    ]),
    message(
      "ToyRequest",
      [
        ["name", 1, T.STRING],
        ["page_size", 2, T.INT32],
        ["big", 3, T.INT64],
        ["ubig", 4, T.UINT64],
        ["flag", 5, T.BOOL],
        ["color", 6, T.ENUM, `.${PKG}.Color`],
        ["tags", 7, T.STRING, undefined, R],
        ["nums", 8, T.INT32, undefined, R],
        ["at", 9, T.MESSAGE, ".google.protobuf.Timestamp"],
        ["ttl", 10, T.MESSAGE, ".google.protobuf.Duration"],
        ["update_mask", 11, T.MESSAGE, ".google.protobuf.FieldMask"],
        ["inner", 12, T.MESSAGE, `.${PKG}.Inner`],
        ["ratio", 13, T.DOUBLE],
        ["blob", 14, T.BYTES],
        ["maybe", 15, T.STRING, undefined, undefined, true],
        ["colors", 16, T.ENUM, `.${PKG}.Color`, R],
        ["wrapped", 17, T.MESSAGE, ".google.protobuf.BoolValue"],
        ["thing", 18, T.MESSAGE, `.${PKG}.Thing`],
        ["labels", 19, T.MESSAGE, `.${PKG}.ToyRequest.LabelsEntry`, R],
        ["path", 20, T.STRING],
      ],
      [
        {
          ...message("LabelsEntry", [
            ["key", 1, T.STRING],
            ["value", 2, T.STRING],
          ]),
          options: { mapEntry: true } as DescriptorProto["options"],
        },
      ],
    ),
    message("ToyResponse", [
      ["request", 1, T.MESSAGE, `.${PKG}.ToyRequest`],
      ["mask_paths", 2, T.STRING, undefined, R],
      ["cookie", 3, T.STRING],
      ["peer", 4, T.STRING],
      ["protocol", 5, T.STRING],
      ["method", 6, T.STRING],
      ["thing", 7, T.MESSAGE, `.${PKG}.Thing`],
    ]),
  ] as DescriptorProto[],
  service: [
    {
      name: "ToyService",
      method: [
        {
          name: "GetThing",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "get", value: "/v1/{name=things/*}" }, additional: [{ pattern: { case: "get", value: "/v1/{name=shelves/*/things/*}" } }] }),
        },
        {
          name: "CreateThing",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "post", value: "/v1/things" }, body: "*" }),
        },
        {
          name: "UpdateThing",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "patch", value: "/v1/{thing.name=things/*}" }, body: "thing" }),
        },
        {
          name: "ArchiveThing",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "post", value: "/v1/{name=things/*}:archive" } }),
        },
        {
          name: "SearchThings",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "get", value: "/v1/things:search" } }),
        },
        {
          name: "SpecialThing",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "get", value: "/v1/things/-/special" } }),
        },
        {
          name: "ThingSpecial",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "get", value: "/v1/{name=things/*}/special" } }),
        },
        {
          name: "GetFile",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "get", value: "/v1/files/{path=**}" } }),
        },
        {
          name: "GetThingOnly",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "get", value: "/v1/{name=things/*}/thing" }, responseBody: "thing" }),
        },
        {
          name: "Fail",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "post", value: "/v1/fail" }, body: "*" }),
        },
        {
          name: "NotBuilt",
          inputType: `.${PKG}.ToyRequest`,
          outputType: `.${PKG}.ToyResponse`,
          options: rule({ pattern: { case: "delete", value: "/v1/{name=things/*}" } }),
        },
      ],
    },
  ],
});

const registry = createFileRegistry(file, (name) => {
  switch (name) {
    case "google/protobuf/timestamp.proto":
      return file_google_protobuf_timestamp;
    case "google/protobuf/duration.proto":
      return file_google_protobuf_duration;
    case "google/protobuf/field_mask.proto":
      return file_google_protobuf_field_mask;
    case "google/protobuf/wrappers.proto":
      return file_google_protobuf_wrappers;
  }
  return undefined;
});

/** The toy service: every method echoes what the transcoder built. */
export const ToyService: DescService = registry.getService(`${PKG}.ToyService`)!;
export const ToyRequestSchema: DescMessage = registry.getMessage(`${PKG}.ToyRequest`)!;
export const ToyResponseSchema: DescMessage = registry.getMessage(`${PKG}.ToyResponse`)!;
export const ThingSchema: DescMessage = registry.getMessage(`${PKG}.Thing`)!;
