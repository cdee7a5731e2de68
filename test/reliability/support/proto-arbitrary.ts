/**
 * fast-check arbitraries driven by protobuf descriptors: plausible request messages for any
 * method (so new RPCs are fuzzed without new code), mutations of their binary encoding, and
 * JSON of the wrong shape.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  create,
  fromJson,
  ScalarType,
  toBinary,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescService,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";
import fc from "fast-check";

const GEN_DIR = join(dirname(fileURLToPath(import.meta.url)), "../../../gen/memos/api/v1");

/** Every service of the generated `memos.api.v1` descriptors, found by listing gen/. */
export async function generatedServices(): Promise<DescService[]> {
  const services: DescService[] = [];
  for (const file of readdirSync(GEN_DIR).filter((f) => f.endsWith("_pb.ts")).sort()) {
    const mod = (await import(join(GEN_DIR, file))) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      const desc = value as Partial<DescFile>;
      if (desc.kind === "file") services.push(...(desc.services ?? []));
    }
  }
  return services;
}

/** Values the generators draw strings from: real names and tokens mixed with garbage. */
export interface Pools {
  readonly names: readonly string[];
  readonly pageTokens: readonly string[];
  readonly filters: readonly string[];
}

/** Strings that tend to break parsers and SQL: escapes, unicode, control characters, huge. */
export const nastyStringArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "%",
    "_",
    "\\",
    "'",
    "\"",
    "'; DROP TABLE memo; --",
    "../../etc/passwd",
    "users/",
    "memos/",
    "attachments/",
    "memos//reactions/",
    "memos/x/reactions/99999999999999999999",
    "memos/x/reactions/-1",
    "users/a/settings/GENERAL",
    "users/a/personalAccessTokens/x",
    "users/a/memoViews/x",
    "users/a/notifications/1",
    "users/a/linkedIdentities/x",
    "users/a/shortcuts/x",
    "instance/settings/GENERAL",
    "instance/settings/ACCESS",
    "instance/settings/NOPE",
    "identity-providers/x",
    "\ud800",
    "\u202e\u0301",
    "😀".repeat(50),
    "a".repeat(5000),
    "9".repeat(40),
    "-1",
    "NaN",
  ),
);

function stringArb(field: DescField | undefined, pools: Pools): fc.Arbitrary<string> {
  const name = field?.name ?? "";
  const options: fc.Arbitrary<string>[] = [nastyStringArb];
  if (/name|parent|creator|memo|username|resource/.test(name) && pools.names.length > 0) {
    options.push(fc.constantFrom(...pools.names), fc.constantFrom(...pools.names));
  }
  if (/filter/.test(name) && pools.filters.length > 0) options.push(fc.constantFrom(...pools.filters), fc.constantFrom(...pools.filters));
  if (/token/.test(name) && pools.pageTokens.length > 0) options.push(fc.constantFrom(...pools.pageTokens));
  if (/order_by/.test(name)) options.push(fc.constantFrom("pinned desc, create_time asc", "update_time", "display_time", "create_time up", "name,,"));
  return fc.oneof(...options);
}

/** Any JSON value (fast-check's JSON type, seen as protobuf-es's). */
function jsonValueArb(maxDepth: number): fc.Arbitrary<JsonValue> {
  return fc.jsonValue({ maxDepth }) as fc.Arbitrary<JsonValue>;
}

const int32Arb = fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1, 2147483647, -2147483648, 1000, 1001));
const uint32Arb = fc.oneof(fc.nat(), fc.constantFrom(0, 1, 4294967295));
const int64Arb = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 253402300800n, -62135596801n),
);
const uint64Arb = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 2n ** 64n - 1n));

function scalarJsonArb(field: DescField | undefined, scalar: ScalarType, pools: Pools): fc.Arbitrary<JsonValue> {
  switch (scalar) {
    case ScalarType.STRING:
      return stringArb(field, pools);
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return int32Arb;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return uint32Arb;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return int64Arb.map(String);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return uint64Arb.map(String);
    case ScalarType.FLOAT:
      return fc.float({ noDefaultInfinity: false }).map((f) => (Number.isFinite(f) ? f : String(f)));
    case ScalarType.DOUBLE:
      return fc.double().map((f) => (Number.isFinite(f) ? f : String(f)));
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString("base64"));
  }
}

/** JSON for well-known types, which have their own JSON forms. */
function wellKnownJsonArb(message: DescMessage, parent: DescMessage): fc.Arbitrary<JsonValue> | undefined {
  switch (message.typeName) {
    case "google.protobuf.Timestamp":
      return fc.oneof(
        fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }).map((d) => d.toISOString()),
        fc.constantFrom("1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"),
      );
    case "google.protobuf.Duration":
      return fc.integer({ min: -315576000, max: 315576000 }).map((s) => `${s}s`);
    case "google.protobuf.FieldMask": {
      const paths = [...parent.fields.map((f) => f.jsonName), ...parent.fields.flatMap((f) => f.message?.fields.map((g) => g.jsonName) ?? []), "*", "nope"];
      return fc.uniqueArray(fc.constantFrom(...paths), { maxLength: 4 }).map((p) => p.join(","));
    }
    case "google.protobuf.Struct":
      return fc.dictionary(fc.string({ maxLength: 8 }), jsonValueArb(2), { maxKeys: 3 }) as fc.Arbitrary<JsonValue>;
    case "google.protobuf.Value":
      return jsonValueArb(2);
    case "google.protobuf.ListValue":
      return fc.array(jsonValueArb(1), { maxLength: 3 });
    case "google.protobuf.Empty":
      return fc.constant({});
    case "google.protobuf.Any":
      return fc.constant({});
    case "google.protobuf.StringValue":
      return fc.string();
    case "google.protobuf.BoolValue":
      return fc.boolean();
    case "google.protobuf.Int32Value":
      return int32Arb;
    case "google.protobuf.Int64Value":
      return int64Arb.map(String);
    default:
      return undefined;
  }
}

function valueJsonArb(field: DescField, pools: Pools, parent: DescMessage, depth: number): fc.Arbitrary<JsonValue> {
  const single = (): fc.Arbitrary<JsonValue> => {
    if (field.enum !== undefined) {
      return fc.oneof(fc.constantFrom(...field.enum.values.map((v) => v.name)), fc.constantFrom(...field.enum.values.map((v) => v.number)));
    }
    if (field.message !== undefined) {
      return wellKnownJsonArb(field.message, parent) ?? (depth < 3 ? messageJsonArb(field.message, pools, depth + 1) : fc.constant({}));
    }
    return scalarJsonArb(field, field.scalar ?? ScalarType.STRING, pools);
  };
  switch (field.fieldKind) {
    case "list":
      return fc.array(single(), { maxLength: 3 });
    case "map": {
      const key = field.mapKey === ScalarType.STRING ? fc.string({ maxLength: 10 }) : scalarJsonArb(undefined, field.mapKey, pools).map(String);
      return fc.dictionary(key, single(), { maxKeys: 3 });
    }
    default:
      return single();
  }
}

const messageArbs = new Map<string, fc.Arbitrary<Record<string, JsonValue>>>();

/**
 * Proto3 JSON for `message` with a random subset of its fields set to values of the right type
 * (at most one member of each oneof). Nested messages are generated to depth 3.
 */
export function messageJsonArb(message: DescMessage, pools: Pools, depth = 0): fc.Arbitrary<Record<string, JsonValue>> {
  const key = `${message.typeName}@${depth}`;
  const cached = messageArbs.get(key);
  if (cached !== undefined) return cached;
  const plain: Record<string, fc.Arbitrary<JsonValue>> = {};
  for (const f of message.fields) if (f.oneof === undefined) plain[f.jsonName] = valueJsonArb(f, pools, message, depth);
  const oneofs = message.oneofs.map((o) =>
    fc.option(fc.oneof(...o.fields.map((f) => valueJsonArb(f, pools, message, depth).map((v): [string, JsonValue] => [f.jsonName, v]))), { nil: undefined }),
  );
  const arb = fc
    .tuple(fc.record(plain, { requiredKeys: [] }), fc.tuple(...oneofs))
    .map(([fields, chosen]) => {
      const out: Record<string, JsonValue> = { ...(fields as Record<string, JsonValue>) };
      for (const c of chosen) if (c !== undefined) out[c[0]] = c[1];
      return out;
    });
  messageArbs.set(key, arb);
  return arb;
}

/** A request message built from {@link messageJsonArb}; the empty message when the JSON does not fit. */
export function messageArb(message: DescMessage, pools: Pools): fc.Arbitrary<Message> {
  return messageJsonArb(message, pools).map((json) => {
    try {
      return fromJson(message, json);
    } catch {
      return create(message);
    }
  });
}

/** A byte-level mutation: flip, insert, delete, overwrite with varint-like bytes, truncate. */
type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "overwrite"; at: number; bytes: Uint8Array }
  | { kind: "truncate"; at: number };

const positionArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: positionArb, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: positionArb, bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: positionArb, length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    kind: fc.constant("overwrite" as const),
    at: positionArb,
    bytes: fc.constantFrom(
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
      Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80),
      Uint8Array.of(0x0a, 0x7f),
      Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x07),
      Uint8Array.of(0x0f),
      Uint8Array.of(0x00),
      Uint8Array.of(0xc3, 0x28),
    ),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: positionArb }),
);

function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = Math.floor(m.at * (bytes.length + 1));
  switch (m.kind) {
    case "flip": {
      if (bytes.length === 0) return Uint8Array.of(1 << m.bit);
      const out = bytes.slice();
      out[Math.min(at, out.length - 1)]! ^= 1 << m.bit;
      return out;
    }
    case "insert":
      return Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
    case "delete":
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
    case "overwrite":
      return Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at + m.bytes.length)]);
    case "truncate":
      return bytes.subarray(0, at);
  }
}

/** The binary encoding of a plausible message with 1..4 byte-level mutations applied. */
export function mutatedBinaryArb(message: DescMessage, pools: Pools): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(messageArb(message, pools), fc.array(mutationArb, { minLength: 1, maxLength: 4 }))
    .map(([msg, ms]) => ms.reduce<Uint8Array>((b, m) => applyMutation(b, m), toBinary(message, msg)));
}

/** A plausible message's binary encoding. */
export function validBinaryArb(message: DescMessage, pools: Pools): fc.Arbitrary<Uint8Array> {
  return messageArb(message, pools).map((m) => toBinary(message, m));
}

/** Deeply nested JSON text (arrays or objects), as a string: `[[[...]]]` or `{"a":{"a":...}}`. */
export const deepJsonArb: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(100, 5_000, 200_000), fc.boolean())
  .map(([depth, array]) => (array ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth)));

/**
 * JSON of the wrong shape for `message`: random JSON values, the message's own fields with
 * values of other types, unknown fields, huge and non-finite-looking numbers, deep nesting.
 */
export function wrongJsonArb(message: DescMessage, pools: Pools): fc.Arbitrary<string> {
  const fieldNames = message.fields.flatMap((f) => [f.jsonName, f.name]);
  const weirdValue = fc.oneof(
    jsonValueArb(3),
    fc.constantFrom<JsonValue>(1e308, -1e308, 2 ** 53 + 1, -0, 0.5, "1e400", "-1", "9".repeat(30), true, null, [], {}, ""),
  );
  const hugeNumbers = fc
    .tuple(fieldNames.length > 0 ? fc.constantFrom(...fieldNames) : fc.constant("x"), fc.constantFrom("1e400", "-1e400", "99999999999999999999999", "1.5", "-0", "0x10", "NaN", "Infinity"))
    .map(([k, v]) => `{"${k}":${v}}`);
  const wrongTypes = fc
    .tuple(messageJsonArb(message, pools), fc.dictionary(fieldNames.length > 0 ? fc.constantFrom(...fieldNames) : fc.string(), weirdValue, { maxKeys: 3 }))
    .map(([ok, bad]) => JSON.stringify({ ...ok, ...bad }));
  const unknownFields = fc
    .tuple(messageJsonArb(message, pools), fc.dictionary(fc.string({ maxLength: 12 }), weirdValue, { minKeys: 1, maxKeys: 4 }))
    .map(([ok, extra]) => JSON.stringify({ ...extra, ...ok }));
  const deepInField = fc
    .tuple(fieldNames.length > 0 ? fc.constantFrom(...fieldNames) : fc.constant("x"), deepJsonArb)
    .map(([k, deep]) => `{"${k}":${deep}}`);
  return fc.oneof(
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? "null"),
    hugeNumbers,
    wrongTypes,
    unknownFields,
    deepJsonArb,
    deepInField,
    fc.string({ maxLength: 60 }),
    fc.constantFrom("", "{", "}", "[", "nul", '{"a":1,}', '{"a":1}{"b":2}', "\ufeff{}", '"\\ud800"', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'),
  );
}

/** Plausible JSON for `message`, serialized. */
export function validJsonArb(message: DescMessage, pools: Pools): fc.Arbitrary<string> {
  return messageJsonArb(message, pools).map((j) => JSON.stringify(j));
}
