import { ScalarType, type DescField, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { fieldByName } from "./route-table.js";

/** A value for a (possibly nested) request field, in proto3 JSON form. */
export interface JsonAssignment {
  /** The field path from the request message, outermost first. */
  readonly fields: readonly DescField[];
  readonly value: JsonValue;
}

/**
 * A `google.protobuf.FieldMask` given in the query. Its comma-separated paths are used verbatim
 * (spec §1.2: clients send snake_case), so it cannot go through the JSON form, which expects
 * lowerCamelCase paths, and is applied to the parsed message instead.
 */
export interface MaskAssignment {
  readonly fields: readonly DescField[];
  readonly paths: readonly string[];
}

/** What the query string contributes to a request. */
export interface QueryValues {
  readonly json: JsonAssignment[];
  readonly masks: MaskAssignment[];
}

const WRAPPERS = new Set(
  ["Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"].map((n) => `google.protobuf.${n}Value`),
);
/** Message types that have a JSON string (or scalar) form and so may be given in one query value. */
const STRING_FORM_MESSAGES = new Set(["google.protobuf.Timestamp", "google.protobuf.Duration", ...WRAPPERS]);

/**
 * Reads request fields from query parameters the way grpc-gateway does: a parameter names a field
 * by its JSON or proto name, with dots for nested fields (`memo.content`); repeated fields take
 * repeated keys; unknown names are ignored; fields for which `excluded` answers true (bound by
 * the path or the body) are skipped. Values are converted to proto3 JSON by field type, so the
 * request is still parsed once by `fromJson`. Throws `invalid_argument` naming the parameter
 * for values that cannot be converted.
 */
export function parseQuery(
  message: DescMessage,
  params: Iterable<[string, string]>,
  excluded: (protoPath: string) => boolean,
): QueryValues {
  const grouped = new Map<string, string[]>();
  for (const [key, value] of params) {
    const list = grouped.get(key);
    if (list === undefined) grouped.set(key, [value]);
    else list.push(value);
  }
  const json: JsonAssignment[] = [];
  const masks: MaskAssignment[] = [];
  for (const [key, values] of grouped) {
    const fields = resolveQueryKey(message, key);
    if (fields === undefined) continue;
    if (excluded(fields.map((f) => f.name).join("."))) continue;
    const leaf = fields[fields.length - 1]!;
    if (leaf.fieldKind === "map") throw invalid(`query parameter "${key}": map fields cannot be set from the query`);
    if (leaf.fieldKind === "message" && leaf.message.typeName === "google.protobuf.FieldMask") {
      const paths = values.flatMap((v) => v.split(",")).map((p) => p.trim()).filter((p) => p !== "");
      masks.push({ fields, paths });
      continue;
    }
    if (leaf.fieldKind === "list") {
      json.push({ fields, value: values.map((v) => stringToJson(leaf, v, `query parameter "${key}"`)) });
      continue;
    }
    if (values.length > 1) throw invalid(`query parameter "${key}": too many values for a singular field`);
    json.push({ fields, value: stringToJson(leaf, values[0]!, `query parameter "${key}"`) });
  }
  return { json, masks };
}

/** Resolves `a.b.c` to field descriptors; `undefined` when a name is unknown (the key is ignored). */
function resolveQueryKey(message: DescMessage, key: string): DescField[] | undefined {
  const out: DescField[] = [];
  let current = message;
  const names = key.split(".");
  for (let i = 0; i < names.length; i++) {
    const f = fieldByName(current, names[i]!);
    if (f === undefined) return undefined;
    out.push(f);
    if (i < names.length - 1) {
      if (f.fieldKind !== "message") throw invalid(`query parameter "${key}": "${names[i]}" is not a message field`);
      current = f.message;
    }
  }
  return out;
}

/**
 * Converts one textual value (a query parameter or a path segment) into the proto3 JSON value of
 * `field` (or of one element, for a repeated field). Numbers stay strings, which proto3 JSON
 * accepts for every numeric type, 64-bit included; bools accept Go's `strconv.ParseBool` forms;
 * enums accept names or numbers; Timestamp, Duration and wrappers use their JSON forms. `name`
 * labels the value in error messages (`query parameter "pageSize"`).
 */
export function stringToJson(field: DescField, text: string, name: string): JsonValue {
  switch (field.fieldKind) {
    case "scalar":
      return scalarToJson(field.scalar, text, name);
    case "enum":
      return /^-?\d+$/.test(text) ? Number(text) : text;
    case "list":
      if (field.listKind === "scalar") return scalarToJson(field.scalar, text, name);
      if (field.listKind === "enum") return /^-?\d+$/.test(text) ? Number(text) : text;
      if (STRING_FORM_MESSAGES.has(field.message.typeName)) return messageToJson(field.message, text, name);
      throw invalid(`${name}: repeated message fields cannot be set from the query`);
    case "message":
      if (STRING_FORM_MESSAGES.has(field.message.typeName)) return messageToJson(field.message, text, name);
      throw invalid(`${name}: message fields cannot be set from one value; use dotted names`);
    case "map":
      throw invalid(`${name}: map fields cannot be set from the query`);
  }
}

function messageToJson(message: DescMessage, text: string, name: string): JsonValue {
  if (message.typeName === "google.protobuf.BoolValue") return parseBool(text, name);
  return text;
}

function scalarToJson(type: ScalarType, text: string, name: string): JsonValue {
  if (type === ScalarType.BOOL) return parseBool(text, name);
  return text;
}

function parseBool(text: string, name: string): boolean {
  switch (text) {
    case "1":
    case "t":
    case "T":
    case "true":
    case "TRUE":
    case "True":
      return true;
    case "0":
    case "f":
    case "F":
    case "false":
    case "FALSE":
    case "False":
      return false;
  }
  throw invalid(`${name}: invalid value for bool: "${text}"`);
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}
