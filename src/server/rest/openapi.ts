import { getOption, hasOption, ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FieldBehavior, field_behavior } from "../../../gen/google/api/field_behavior_pb.js";
import { methodAccess } from "../../auth/access-policy.js";
import type { TemplateSegment } from "./path-template.js";
import { PROTO_COMMENTS } from "../../../gen/proto-comments.js";
import type { RestRoute } from "./route-table.js";

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it) or an OpenAPI object, as plain JSON. */
type Json = { [key: string]: unknown };

/** Settings of the generated document. */
export interface OpenApiOptions {
  /** `info.version`: the server's version. */
  readonly version: string;
  /** `info.title`. Default "Memos API". */
  readonly title?: string;
  /**
   * Proto comments by full name (`memos.api.v1.Memo`, `memos.api.v1.Memo.content`,
   * `memos.api.v1.MemoService.GetMemo`, `memos.api.v1.Visibility.PUBLIC`), used as descriptions.
   * Default: the comments of our protos, extracted by `scripts/proto-comments.mjs` (run by
   * `npm run generate`), since the generated descriptors carry no source info.
   */
  readonly comments?: Readonly<Record<string, string>>;
  /** Path at which the document itself is served, listed as an operation. */
  readonly documentPath?: string;
}

const STATUS_SCHEMA = "memos.api.v1.Status";

/**
 * Generates an OpenAPI 3.1 document from the same bindings the REST handler serves: one
 * operation per binding (operation id `Service_Method`, additional bindings `Service_Method2`,
 * ...), path parameters from the template variables, query parameters for every other request
 * field (dotted names for nested fields) unless the body takes the whole request, the request
 * body schema, and a component schema for every message and enum reachable from the requests
 * and responses, in proto3 JSON form (int64 as string, enums as name strings, well-known types
 * as their JSON types, maps as objects with `additionalProperties`, oneof members noted,
 * `optional` fields never required). Proto comments become descriptions.
 */
export function createOpenApiDocument(routes: readonly RestRoute[], options: OpenApiOptions): Json {
  const comments = options.comments ?? PROTO_COMMENTS;
  const schemas = new Map<string, Json>();
  const describe = (key: string): { description?: string } => {
    const c = comments[key];
    return c === undefined || c === "" ? {} : { description: c };
  };

  const enumRef = (e: DescEnum): Json => {
    if (!schemas.has(e.typeName)) {
      const valueDocs = e.values
        .filter((v) => comments[`${e.typeName}.${v.name}`] !== undefined)
        .map((v) => `- \`${v.name}\`: ${comments[`${e.typeName}.${v.name}`]!.replace(/\n/g, " ")}`);
      const base = comments[e.typeName];
      const description = [base, valueDocs.join("\n")].filter((s) => s !== undefined && s !== "").join("\n\n");
      schemas.set(e.typeName, {
        type: "string",
        enum: e.values.map((v) => v.name),
        ...(description === "" ? {} : { description }),
      });
    }
    return { $ref: `#/components/schemas/${e.typeName}` };
  };

  const messageRef = (m: DescMessage): Json => {
    const wkt = wellKnownSchema(m);
    if (wkt !== undefined) return wkt;
    if (!schemas.has(m.typeName)) {
      const placeholder: Json = {};
      schemas.set(m.typeName, placeholder); // set first: messages may refer to themselves
      Object.assign(placeholder, messageSchema(m));
    }
    return { $ref: `#/components/schemas/${m.typeName}` };
  };

  const valueSchema = (kind: "scalar" | "enum" | "message", field: DescField): Json => {
    if (kind === "enum") return enumRef(field.enum!);
    if (kind === "message") return messageRef(field.message!);
    return scalarSchema(field.scalar!);
  };

  const fieldSchema = (field: DescField): Json => {
    let schema: Json;
    switch (field.fieldKind) {
      case "scalar":
        schema = scalarSchema(field.scalar);
        break;
      case "enum":
        schema = enumRef(field.enum);
        break;
      case "message":
        schema = messageRef(field.message);
        break;
      case "list":
        schema = { type: "array", items: valueSchema(field.listKind, field) };
        break;
      case "map":
        schema = { type: "object", additionalProperties: valueSchema(field.mapKind, field) };
        break;
    }
    const notes: string[] = [];
    const text = comments[`${field.parent.typeName}.${field.name}`];
    if (text !== undefined && text !== "") notes.push(text);
    const behaviors = hasOption(field, field_behavior) ? getOption(field, field_behavior) : [];
    if (behaviors.includes(FieldBehavior.REQUIRED)) notes.unshift("Required.");
    if (field.oneof !== undefined) {
      notes.push(`Member of oneof \`${field.oneof.name}\`: at most one of ${field.oneof.fields.map((f) => `\`${f.jsonName}\``).join(", ")} is set.`);
    }
    const extra: Json = {};
    if (notes.length > 0) extra.description = notes.join("\n\n");
    if (behaviors.includes(FieldBehavior.OUTPUT_ONLY)) extra.readOnly = true;
    if (behaviors.includes(FieldBehavior.INPUT_ONLY)) extra.writeOnly = true;
    return { ...schema, ...extra };
  };

  const messageSchema = (m: DescMessage): Json => {
    const properties: Json = {};
    for (const f of m.fields) properties[f.jsonName] = fieldSchema(f);
    const notes: string[] = [];
    const text = comments[m.typeName];
    if (text !== undefined && text !== "") notes.push(text);
    for (const o of m.oneofs) {
      notes.push(`Oneof \`${o.name}\`: at most one of ${o.fields.map((f) => `\`${f.jsonName}\``).join(", ")} is set.`);
    }
    return {
      type: "object",
      properties,
      ...(notes.length > 0 ? { description: notes.join("\n\n") } : {}),
    };
  };

  schemas.set(STATUS_SCHEMA, {
    type: "object",
    description: "An error, as grpc-gateway writes it: the gRPC status code and a message.",
    properties: {
      code: { type: "integer", format: "int32", description: "gRPC status code (5 = NOT_FOUND, 16 = UNAUTHENTICATED, ...)." },
      message: { type: "string" },
      details: { type: "array", items: { type: "object" } },
    },
    required: ["code", "message", "details"],
  });

  const paths: Record<string, Record<string, Json>> = {};
  const tags = new Map<string, Json>();
  for (const route of routes) {
    const { service, method } = route;
    if (!tags.has(service.name)) tags.set(service.name, { name: service.name, ...describe(service.typeName) });
    const { path, parameters } = openApiPath(route);
    const bodyFieldName = typeof route.body === "object" ? route.body.name : undefined;
    const bound = new Set(route.pathFields.map((fs) => fs.map((f) => f.name).join(".")));
    if (bodyFieldName !== undefined) bound.add(bodyFieldName);
    if (route.body !== "*") {
      for (const q of queryParameters(method.input, bound, fieldSchema)) parameters.push(q);
    }
    const operation: Json = {
      operationId: `${service.name}_${method.name}${route.bindingIndex === 0 ? "" : route.bindingIndex + 1}`,
      tags: [service.name],
      ...describe(`${service.typeName}.${method.name}`),
      ...(parameters.length > 0 ? { parameters } : {}),
    };
    if (route.body === "*") {
      operation.requestBody = { content: { "application/json": { schema: messageRef(method.input) } } };
    } else if (typeof route.body === "object") {
      operation.requestBody = { content: { "application/json": { schema: fieldSchema(route.body) } } };
    }
    const output = route.responseBody === undefined ? messageRef(method.output) : fieldSchema(route.responseBody);
    operation.responses = {
      "200": { description: "OK", content: { "application/json": { schema: output } } },
      default: { description: "An error", content: { "application/json": { schema: { $ref: `#/components/schemas/${STATUS_SCHEMA}` } } } },
    };
    const access = methodAccess(`/${service.typeName}/${method.name}`);
    operation.security = access === "protected" ? [{ bearerAuth: [] }] : [{}, { bearerAuth: [] }];
    (paths[path] ??= {})[route.httpMethod.toLowerCase()] = operation;
  }
  const createAttachment = routes.find((r) => r.service.typeName === "memos.api.v1.AttachmentService" && r.method.name === "CreateAttachment");
  if (createAttachment !== undefined) {
    // Served by src/server/rest/attachment-upload.ts, beside the transcoded routes.
    paths["/api/v1/attachments:upload"] = {
      post: {
        operationId: "AttachmentService_UploadAttachment",
        tags: [createAttachment.service.name],
        description:
          "CreateAttachment with the bytes streamed as multipart/form-data instead of inline base64 (never buffered; the upload size limit applies while streaming: 413). Same auth rules and response as POST /api/v1/attachments.",
        requestBody: {
          required: true,
          content: {
            "multipart/form-data": {
              schema: {
                type: "object",
                required: ["file"],
                properties: {
                  file: { type: "string", format: "binary", description: "The bytes; the part's filename and Content-Type are fallbacks." },
                  filename: { type: "string" },
                  type: { type: "string", description: "MIME type; guessed from the filename or content when absent." },
                  memo: { type: "string", description: "memos/{memo}: link at creation (caller's own memo)." },
                  attachmentId: { type: "string" },
                },
              },
            },
          },
        },
        responses: {
          "200": { description: "OK", content: { "application/json": { schema: messageRef(createAttachment.method.output) } } },
          "413": { description: "Larger than the upload size limit", content: { "application/json": { schema: { $ref: `#/components/schemas/${STATUS_SCHEMA}` } } } },
          default: { description: "An error", content: { "application/json": { schema: { $ref: `#/components/schemas/${STATUS_SCHEMA}` } } } },
        },
        security: [{ bearerAuth: [] }],
      },
    };
  }
  if (options.documentPath !== undefined) {
    paths[options.documentPath] = {
      get: {
        operationId: "OpenApi_GetDocument",
        description: "This document.",
        security: [{}],
        responses: { "200": { description: "The OpenAPI 3.1 document", content: { "application/json": { schema: { type: "object" } } } } },
      },
    };
  }

  return {
    openapi: "3.1.0",
    info: {
      title: options.title ?? "Memos API",
      version: options.version,
      description:
        "REST transcoding of the memos.api.v1 services (google.api.http bindings), with grpc-gateway's JSON conventions. " +
        "The same services are served over Connect, gRPC and gRPC-Web at /memos.api.v1.<Service>/<Method>.",
    },
    tags: [...tags.values()],
    paths,
    components: {
      schemas: Object.fromEntries([...schemas.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", description: "An access token (JWT) or a personal access token (memos_pat_...)." },
      },
    },
  };
}

/** The OpenAPI path of a binding and one path parameter per wildcard in it. */
function openApiPath(route: RestRoute): { path: string; parameters: Json[] } {
  const t = route.template;
  const parts: string[] = [];
  const parameters: Json[] = [];
  const used = new Set<string>();
  const param = (base: string, description: string) => {
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}${n}`;
    used.add(name);
    parameters.push({ name, in: "path", required: true, description, schema: { type: "string" } });
    return `{${name}}`;
  };
  for (let i = 0; i < t.segments.length; ) {
    const v = t.variables.find((x) => x.start === i);
    if (v === undefined) {
      const s = t.segments[i]!;
      parts.push(s.kind === "literal" ? s.value : param(`path${i}`, "A path segment."));
      i++;
      continue;
    }
    const field = v.fieldPath.join(".");
    const shape = v.segments.map(segmentText).join("/");
    v.segments.forEach((s, k) => {
      if (s.kind === "literal") parts.push(s.value);
      else {
        const previous = v.segments[k - 1];
        const base = previous?.kind === "literal" ? singular(previous.value) : field;
        parts.push(param(base, `Part of the request field \`${field}\`, which is \`${shape}\`${s.kind === "deep" ? " (may contain /)" : ""}.`));
      }
    });
    i = v.end;
  }
  return { path: "/" + parts.join("/") + (t.verb === undefined ? "" : `:${t.verb}`), parameters };
}

function segmentText(s: TemplateSegment): string {
  return s.kind === "literal" ? s.value : s.kind === "wildcard" ? "*" : "**";
}

/** `memos` -> `memo`, `linkedIdentities` -> `linkedIdentity`, `settings` -> `setting`. */
function singular(word: string): string {
  if (word.endsWith("ies")) return word.slice(0, -3) + "y";
  if (word.endsWith("s")) return word.slice(0, -1);
  return word;
}

/** Query parameters: every leaf field not bound to the path or body, nested ones by dotted JSON name. */
function queryParameters(message: DescMessage, bound: ReadonlySet<string>, fieldSchema: (f: DescField) => Json): Json[] {
  const out: Json[] = [];
  const visit = (m: DescMessage, protoPrefix: string, jsonPrefix: string, seen: ReadonlySet<DescMessage>) => {
    for (const f of m.fields) {
      const protoPath = protoPrefix + f.name;
      if ([...bound].some((b) => protoPath === b || protoPath.startsWith(b + "."))) continue;
      const name = jsonPrefix + f.jsonName;
      if (f.fieldKind === "map") continue;
      if (f.fieldKind === "list" && f.listKind === "message" && !QUERY_MESSAGES.has(f.message.typeName)) continue;
      if (f.fieldKind === "message" && !QUERY_MESSAGES.has(f.message.typeName)) {
        if (!f.message.typeName.startsWith("google.protobuf.") && !seen.has(f.message)) {
          visit(f.message, protoPath + ".", name + ".", new Set([...seen, f.message]));
        }
        continue;
      }
      const schema = fieldSchema(f);
      const { description, readOnly, writeOnly, ...rest } = schema;
      if (readOnly === true) continue; // output-only fields are not request input
      void writeOnly;
      out.push({
        name,
        in: "query",
        ...(typeof description === "string" ? { description } : {}),
        schema: f.fieldKind === "message" && f.message.typeName === "google.protobuf.FieldMask"
          ? { type: "string", description: "Comma-separated field paths, used verbatim (snake_case)." }
          : rest,
        ...(f.fieldKind === "list" ? { style: "form", explode: true } : {}),
      });
    }
  };
  visit(message, "", "", new Set([message]));
  return out;
}

/** Message types a single query value can set (their JSON form is a string or scalar). */
const QUERY_MESSAGES = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  ...["Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"].map((n) => `google.protobuf.${n}Value`),
]);

function scalarSchema(type: ScalarType): Json {
  switch (type) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte", contentEncoding: "base64" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64", pattern: "^[0-9]+$" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
  }
}

/** proto3 JSON forms of the well-known types, inlined instead of referenced. */
function wellKnownSchema(m: DescMessage): Json | undefined {
  switch (m.typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time" };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", description: "A duration such as \"1.5s\"." };
    case "google.protobuf.FieldMask":
      return { type: "string", description: "Comma-separated lowerCamelCase field paths." };
    case "google.protobuf.Empty":
      return { type: "object" };
    case "google.protobuf.Struct":
      return { type: "object", additionalProperties: true };
    case "google.protobuf.Value":
      return {};
    case "google.protobuf.ListValue":
      return { type: "array", items: {} };
    case "google.protobuf.Any":
      return { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"], additionalProperties: true };
    case "google.protobuf.DoubleValue":
    case "google.protobuf.FloatValue":
      return { type: "number" };
    case "google.protobuf.Int32Value":
    case "google.protobuf.UInt32Value":
      return { type: "integer" };
    case "google.protobuf.Int64Value":
    case "google.protobuf.UInt64Value":
      return { type: "string", pattern: "^-?[0-9]+$" };
    case "google.protobuf.BoolValue":
      return { type: "boolean" };
    case "google.protobuf.StringValue":
      return { type: "string" };
    case "google.protobuf.BytesValue":
      return { type: "string", contentEncoding: "base64" };
  }
  return undefined;
}
