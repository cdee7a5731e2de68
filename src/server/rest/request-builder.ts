import {
  create,
  fromJson,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseQuery, stringToJson, type MaskAssignment } from "./query-params.js";
import { fieldByName, type RouteMatch } from "./route-table.js";
import { inferUpdateMask, updateMaskField } from "./update-mask.js";

/** What a REST request brings to the request message. */
export interface RequestParts {
  readonly match: RouteMatch;
  /** Query parameters (and, for the form POST fallback, the form fields first). */
  readonly params: Iterable<[string, string]>;
  /** The parsed JSON body, or `undefined` when the binding has no body or it was empty. */
  readonly body: JsonValue | undefined;
}

/**
 * Builds the request message of a matched binding (spec §1.2). Sources, later ones winning:
 * the body (`*`: the whole message; a field name: that field), the query string (every field
 * not bound to the body or the path; ignored with `body: "*"`), the path variables. Everything
 * is merged into one proto3 JSON object and parsed once with `fromJson`, ignoring unknown keys.
 * Field masks from the query and inferred update masks are set on the parsed message, since
 * their paths are used verbatim. Throws `invalid_argument` naming the field where it can.
 */
export function buildRequest(parts: RequestParts): Message {
  const { route, values } = parts.match;
  const input = route.method.input;
  let root: JsonObject = {};
  const excluded: string[] = route.pathFields.map((fs) => fs.map((f) => f.name).join("."));

  let inferred: string[] | undefined;
  if (route.body === "*") {
    if (parts.body !== undefined && parts.body !== null) {
      if (typeof parts.body !== "object" || Array.isArray(parts.body)) {
        throw invalid(`request body must be a JSON object (${input.typeName})`);
      }
      root = parts.body;
    }
  } else if (route.body !== "") {
    const bodyField = route.body;
    excluded.push(bodyField.name);
    if (parts.body !== undefined) root[bodyField.jsonName] = parts.body;
    const maskField = updateMaskField(input);
    if (route.httpMethod === "PATCH" && maskField !== undefined && bodyField.fieldKind === "message") {
      inferred = inferUpdateMask(bodyField.message, parts.body);
    }
  }

  let masks: MaskAssignment[] = [];
  if (route.body !== "*") {
    const isExcluded = (path: string) => excluded.some((e) => path === e || path.startsWith(e + "."));
    const query = parseQuery(input, parts.params, isExcluded);
    for (const a of query.json) setJsonPath(root, a.fields, a.value);
    masks = query.masks;
  }

  route.pathFields.forEach((fields, i) => {
    const leaf = fields[fields.length - 1]!;
    const label = `path variable "${fields.map((f) => f.name).join(".")}"`;
    setJsonPath(root, fields, stringToJson(leaf, values[i]!, label));
  });

  let message: Message;
  try {
    message = fromJson(input, root, { ignoreUnknownFields: true });
  } catch (err) {
    const where = locateJsonError(input, root, "");
    const reason = err instanceof Error ? err.message : String(err);
    throw invalid(where === undefined ? reason : `invalid value for field "${where}": ${reason}`);
  }

  if (inferred !== undefined) {
    const maskField = updateMaskField(input)!;
    if (!masks.some((m) => m.fields.length === 1 && m.fields[0] === maskField)) {
      masks = [{ fields: [maskField], paths: inferred }, ...masks];
    }
  }
  for (const m of masks) setMask(reflect(input, message), m);
  return message;
}

/** Sets a value at a field path of a JSON object, by JSON name, creating objects on the way. */
function setJsonPath(root: JsonObject, fields: readonly DescField[], value: JsonValue): void {
  let obj = root;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    // The body may have used the proto name; keep one key per field.
    if (f.name !== f.jsonName && f.name in obj) {
      if (!(f.jsonName in obj)) obj[f.jsonName] = obj[f.name]!;
      delete obj[f.name];
    }
    if (i === fields.length - 1) {
      obj[f.jsonName] = value;
      return;
    }
    let next = obj[f.jsonName];
    if (next === undefined || next === null) obj[f.jsonName] = next = {};
    if (typeof next !== "object" || Array.isArray(next)) {
      throw invalid(`field "${fields.slice(0, i + 1).map((x) => x.jsonName).join(".")}" must be a JSON object`);
    }
    obj = next;
  }
}

/** Sets a FieldMask at a field path of a message, creating the messages on the way. */
function setMask(target: ReflectMessage, m: MaskAssignment): void {
  let r = target;
  for (let i = 0; i < m.fields.length - 1; i++) {
    const f = m.fields[i]!;
    if (f.fieldKind !== "message") return;
    if (!r.isSet(f)) r.set(f, reflect(f.message));
    r = r.get(f) as ReflectMessage;
  }
  r.set(m.fields[m.fields.length - 1]!, reflect(FieldMaskSchema, create(FieldMaskSchema, { paths: [...m.paths] })));
}

/**
 * Finds the dotted JSON path of the field whose value made `fromJson` fail, by parsing each key
 * alone and descending into the one that fails. Only runs on the error path.
 */
function locateJsonError(message: DescMessage, json: JsonValue, prefix: string): string | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    const f = fieldByName(message, key);
    if (f === undefined) continue;
    try {
      fromJson(message, { [key]: value }, { ignoreUnknownFields: true });
      continue;
    } catch {
      // this key is the culprit
    }
    const here = prefix + f.jsonName;
    if (f.fieldKind === "message" && !f.message.typeName.startsWith("google.protobuf.")) {
      return locateJsonError(f.message, value, here + ".") ?? here;
    }
    if (f.fieldKind === "list" && f.listKind === "message" && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const inner = locateJsonError(f.message, value[i]!, `${here}[${i}].`);
        if (inner !== undefined) return inner;
      }
    }
    return here;
  }
  return undefined;
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}
