/**
 * One way to call any RPC of the generated descriptors over each transport the server speaks, for
 * the authorization matrix: Connect JSON and binary (raw HTTP/1.1, so the exact response bytes can
 * be searched), gRPC over h2c (the connect-node client), and REST built from the method's
 * `google.api.http` rule. Every call answers the outcome ("ok" or the error code) and the raw text
 * of what came back, body and error message alike.
 */
import {
  create,
  fromBinary,
  fromJson,
  getOption,
  hasOption,
  toBinary,
  toJson,
  toJsonString,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { http } from "../../../gen/google/api/annotations_pb.js";

/** The transports a read path is checked on. */
export type TransportKind = "connect-json" | "connect-binary" | "grpc" | "rest";
export const ALL_TRANSPORTS: readonly TransportKind[] = ["connect-json", "connect-binary", "grpc", "rest"];

/** What a call ended in: "ok", or the error code. */
export type Outcome = "ok" | Code;

export interface CallResult {
  readonly outcome: Outcome;
  /** The raw response (body bytes as latin1 text, plus error message and headers), for leak searches. */
  readonly raw: string;
  /** The decoded response message on success (JSON of the response for REST). */
  readonly message?: unknown;
  readonly status?: number;
}

/** A method of a service, as a descriptor pair. */
export interface Rpc {
  readonly service: DescService;
  readonly method: DescMethod;
}

export function rpc(service: DescService, name: string): Rpc {
  const method = service.methods.find((m) => m.name === name);
  if (method === undefined) throw new Error(`${service.typeName} has no method ${name}`);
  return { service, method };
}

/** `/memos.api.v1.Service/Method`. */
export function procedureOf(r: Rpc): string {
  return `/${r.service.typeName}/${r.method.name}`;
}

const CODE_BY_CONNECT_NAME = new Map<string, Code>(
  Object.entries(Code)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [k.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase(), v as Code]),
);

/** A readable name of an outcome, for test titles and failure messages. */
export function outcomeName(o: Outcome): string {
  return o === "ok" ? "ok" : Code[o];
}

/** Calls RPCs on one server; owns the HTTP/2 sessions of the gRPC transport. */
export class RpcCaller {
  private readonly sessions = new Map<string, Http2SessionManager>();

  constructor(private readonly baseUrl: string) {}

  async call(kind: TransportKind, r: Rpc, request: MessageInitShape<DescMessage>, token: string | undefined): Promise<CallResult> {
    const req = create(r.method.input, request as never) as never;
    switch (kind) {
      case "connect-json":
        return this.connect(r, req, token, false);
      case "connect-binary":
        return this.connect(r, req, token, true);
      case "grpc":
        return this.grpc(r, req, token);
      case "rest":
        return this.rest(r, req, token);
    }
  }

  close(): void {
    for (const s of this.sessions.values()) s.abort();
    this.sessions.clear();
  }

  private async connect(r: Rpc, req: never, token: string | undefined, binary: boolean): Promise<CallResult> {
    const res = await fetch(`${this.baseUrl}${procedureOf(r)}`, {
      method: "POST",
      headers: {
        "content-type": binary ? "application/proto" : "application/json",
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: binary ? toBinary(r.method.input, req) : toJsonString(r.method.input, req),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const raw = bytes.toString("latin1") + headerText(res.headers);
    if (res.status === 200) {
      const message = binary ? fromBinary(r.method.output, bytes) : fromJson(r.method.output, JSON.parse(bytes.toString("utf8")) as JsonValue);
      return { outcome: "ok", raw, message, status: res.status };
    }
    const err = JSON.parse(bytes.toString("utf8")) as { code?: string };
    const code = CODE_BY_CONNECT_NAME.get(err.code ?? "");
    if (code === undefined) throw new Error(`${procedureOf(r)}: unexpected Connect error body ${bytes.toString("utf8")} (${res.status})`);
    return { outcome: code, raw, status: res.status };
  }

  private async grpc(r: Rpc, req: never, token: string | undefined): Promise<CallResult> {
    let sessionManager = this.sessions.get("h2");
    if (sessionManager === undefined) {
      sessionManager = new Http2SessionManager(this.baseUrl);
      this.sessions.set("h2", sessionManager);
    }
    const transport = createGrpcTransport({ baseUrl: this.baseUrl, sessionManager });
    const header = new Headers(token === undefined ? {} : { authorization: `Bearer ${token}` });
    try {
      const res = await transport.unary(r.method as never, undefined, undefined, header, req);
      const raw = Buffer.from(toBinary(r.method.output, res.message as never)).toString("latin1") + headerText(res.header) + headerText(res.trailer);
      return { outcome: "ok", raw, message: res.message };
    } catch (e) {
      const err = ConnectError.from(e);
      return { outcome: err.code, raw: err.rawMessage + headerText(err.metadata) };
    }
  }

  private async rest(r: Rpc, req: never, token: string | undefined): Promise<CallResult> {
    const { httpMethod, path, body } = restRequest(r, req);
    const res = await fetch(this.baseUrl + path, {
      method: httpMethod,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const raw = Buffer.from(text, "utf8").toString("latin1") + headerText(res.headers);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${httpMethod} ${path}: not JSON (${res.status}): ${text.slice(0, 200)}`);
    }
    if (res.status === 200) return { outcome: "ok", raw, message: json, status: res.status };
    const code = (json as { code?: unknown }).code;
    if (typeof code !== "number" || code <= 0 || code > 16) throw new Error(`${httpMethod} ${path}: unexpected error body ${text} (${res.status})`);
    return { outcome: code as Code, raw, status: res.status };
  }
}

function headerText(h: Headers): string {
  let out = "";
  h.forEach((v, k) => {
    out += `\n${k}: ${v}`;
  });
  return out;
}

/**
 * The REST request of `req` under the method's `google.api.http` rule (spec §1.2): path variables
 * from the named fields, the body from `body`, every other field in the query string.
 */
export function restRequest(r: Rpc, req: never): { httpMethod: string; path: string; body?: JsonValue } {
  if (!hasOption(r.method, http)) throw new Error(`${procedureOf(r)} has no google.api.http rule`);
  const rule = getOption(r.method, http);
  if (rule.pattern.case === undefined || rule.pattern.case === "custom") throw new Error(`${procedureOf(r)}: unsupported rule`);
  const httpMethod = rule.pattern.case.toUpperCase();
  const json = toJson(r.method.input, req, { alwaysEmitImplicit: false }) as JsonObject;
  const used = new Set<string>();
  const path = (rule.pattern.value as string).replace(/\{([^}=]+)(=[^}]*)?\}/g, (_m, fieldPath: string) => {
    const value = valueAt(r.method.input, req, fieldPath);
    used.add(fieldPath.split(".")[0]!);
    return String(value)
      .split("/")
      .map((s) => encodeURIComponent(s))
      .join("/");
  });
  let body: JsonValue | undefined;
  const query = new URLSearchParams();
  const jsonNameOf = (protoName: string) => r.method.input.fields.find((f) => f.name === protoName)?.jsonName ?? protoName;
  const pathJsonNames = new Set([...used].map(jsonNameOf));
  if (rule.body === "*") {
    body = json;
  } else {
    const bodyJson = rule.body === "" ? undefined : jsonNameOf(rule.body);
    if (bodyJson !== undefined) body = json[bodyJson] ?? {};
    for (const [k, v] of Object.entries(json)) {
      if (k === bodyJson || pathJsonNames.has(k)) continue;
      appendQuery(query, k, v);
    }
  }
  const qs = query.toString();
  return { httpMethod, path: qs === "" ? path : `${path}?${qs}`, ...(body === undefined ? {} : { body }) };
}

function valueAt(schema: DescMessage, msg: unknown, fieldPath: string): unknown {
  let current: unknown = msg;
  let desc: DescMessage | undefined = schema;
  for (const seg of fieldPath.split(".")) {
    const field: DescField | undefined = desc?.fields.find((f) => f.name === seg);
    if (field === undefined || current === undefined) throw new Error(`no field ${fieldPath}`);
    current = (current as Record<string, unknown>)[field.localName];
    desc = field.fieldKind === "message" ? field.message : undefined;
  }
  return current;
}

function appendQuery(query: URLSearchParams, key: string, value: JsonValue): void {
  if (value === null) return;
  if (Array.isArray(value)) {
    for (const v of value) appendQuery(query, key, v);
  } else if (typeof value === "object") {
    for (const [k, v] of Object.entries(value)) appendQuery(query, `${key}.${k}`, v);
  } else {
    query.append(key, String(value));
  }
}
