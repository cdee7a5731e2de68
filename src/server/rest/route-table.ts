import { getOption, hasOption, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http } from "../../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../../gen/google/api/http_pb.js";
import { parsePathTemplate, splitRequestPath, type PathTemplate } from "./path-template.js";

/** One HTTP binding of an RPC: a `google.api.http` rule or one of its `additional_bindings`. */
export interface RestRoute {
  readonly service: DescService;
  readonly method: DescMethod;
  /** Upper-case HTTP method (`GET`, `POST`, ... or a `custom` kind). */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /** Request fields bound by path variables, resolved to descriptors (outermost first). */
  readonly pathFields: readonly (readonly DescField[])[];
  /** `""` (no body), `"*"` (the whole request), or the field the body fills. */
  readonly body: "" | "*" | DescField;
  /** The response field written as the body, or `undefined` for the whole response. */
  readonly responseBody: DescField | undefined;
  /** 0 for the main rule, 1.. for additional bindings (used for operation ids). */
  readonly bindingIndex: number;
}

/** A request path matched to a route, with the raw (decoded) values of its variables. */
export interface RouteMatch {
  readonly route: RestRoute;
  /** One value per `route.template.variables` entry, in order. */
  readonly values: readonly string[];
}

/** Thrown at start-up when a binding cannot be served (bad template, unknown field, ...). */
export class RouteDefinitionError extends Error {
  override name = "RouteDefinitionError";
}

/**
 * Reads every `google.api.http` rule (and its `additional_bindings`) of `services`. Streaming
 * methods are skipped: REST serves unary calls only.
 */
export function collectRoutes(services: readonly DescService[]): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      if (method.methodKind !== "unary" || !hasOption(method, http)) continue;
      const rule = getOption(method, http);
      const bindings = [rule, ...rule.additionalBindings];
      bindings.forEach((b, i) => {
        const route = toRoute(service, method, b, i);
        if (route !== undefined) routes.push(route);
      });
    }
  }
  return routes;
}

function toRoute(service: DescService, method: DescMethod, rule: HttpRule, bindingIndex: number): RestRoute | undefined {
  const where = `${service.typeName}.${method.name}`;
  let httpMethod: string;
  let path: string;
  switch (rule.pattern.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      httpMethod = rule.pattern.case.toUpperCase();
      path = rule.pattern.value;
      break;
    case "custom":
      httpMethod = rule.pattern.value.kind.toUpperCase();
      path = rule.pattern.value.path;
      break;
    default:
      return undefined;
  }
  let template: PathTemplate;
  try {
    template = parsePathTemplate(path);
  } catch (err) {
    throw new RouteDefinitionError(`${where}: ${(err as Error).message}`);
  }
  const pathFields = template.variables.map((v) => {
    const fields = resolveFieldPath(method.input, v.fieldPath);
    if (fields === undefined) throw new RouteDefinitionError(`${where}: unknown field path "${v.fieldPath.join(".")}" in ${path}`);
    const leaf = fields[fields.length - 1]!;
    if (leaf.fieldKind !== "scalar" && leaf.fieldKind !== "enum") {
      throw new RouteDefinitionError(`${where}: path variable "${v.fieldPath.join(".")}" must be a singular scalar field`);
    }
    return fields;
  });
  let body: RestRoute["body"] = "";
  if (rule.body === "*") body = "*";
  else if (rule.body !== "") {
    const f = fieldByName(method.input, rule.body);
    if (f === undefined) throw new RouteDefinitionError(`${where}: unknown body field "${rule.body}"`);
    body = f;
  }
  let responseBody: DescField | undefined;
  if (rule.responseBody !== "") {
    responseBody = fieldByName(method.output, rule.responseBody);
    if (responseBody === undefined) throw new RouteDefinitionError(`${where}: unknown response_body field "${rule.responseBody}"`);
  }
  return { service, method, httpMethod, template, pathFields, body, responseBody, bindingIndex };
}

/** A field of `message` by its proto name or its JSON name. */
export function fieldByName(message: DescMessage, name: string): DescField | undefined {
  return fieldIndex(message).get(name);
}

const indexes = new WeakMap<DescMessage, Map<string, DescField>>();
function fieldIndex(message: DescMessage): Map<string, DescField> {
  let index = indexes.get(message);
  if (index === undefined) {
    index = new Map();
    for (const f of message.fields) {
      index.set(f.name, f);
      index.set(f.jsonName, f);
    }
    indexes.set(message, index);
  }
  return index;
}

/** Resolves a dotted field path through singular message fields; `undefined` when it does not. */
export function resolveFieldPath(message: DescMessage, path: readonly string[]): DescField[] | undefined {
  const out: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of path) {
    if (current === undefined) return undefined;
    const f = fieldByName(current, name);
    if (f === undefined) return undefined;
    out.push(f);
    current = f.fieldKind === "message" ? f.message : undefined;
  }
  return out;
}

interface TrieNode {
  readonly literals: Map<string, TrieNode>;
  /**
   * The literal children again as parallel arrays, filled once the table is built: matching
   * compares the segment in place by length and char codes, which is faster than hashing a
   * substring for the handful of children a node has.
   */
  keys: string[];
  children: TrieNode[];
  wildcard: TrieNode | undefined;
  /** Routes whose template ends at this node, keyed by verb (`""` for none). */
  readonly ends: Map<string, RestRoute>;
  /** Routes whose template ends with `**` after this node, keyed by verb. */
  readonly deep: Map<string, RestRoute>;
}

function newNode(): TrieNode {
  return { literals: new Map(), keys: [], children: [], wildcard: undefined, ends: new Map(), deep: new Map() };
}

/** Result of looking a request up in the table. */
export type LookupResult =
  | { readonly kind: "match"; readonly match: RouteMatch }
  /** The path matched bindings of other HTTP methods only. */
  | { readonly kind: "method-not-allowed"; readonly allowed: readonly string[] }
  | { readonly kind: "not-found" }
  /** The path holds malformed percent-encoding. */
  | { readonly kind: "bad-path" };

/** All REST routes, indexed for matching. */
export interface RouteTable {
  readonly routes: readonly RestRoute[];
  /** Finds the route for `httpMethod` and `path` (no query string). */
  lookup(httpMethod: string, path: string): LookupResult;
  /** Finds the route for exactly `httpMethod`, or `undefined`; does not report other methods. */
  match(httpMethod: string, path: string): RouteMatch | undefined;
}

/**
 * Builds the matcher: one segment trie per HTTP method. Matching walks the request's segments
 * from the root; at each node a literal child is tried before the `*` child, which is tried
 * before a trailing `**`, and the first complete match wins (backtracking when a literal branch
 * dead-ends). So literal segments win over wildcards, segment by segment from the left. A path
 * whose last segment has a `:suffix` is tried first as a custom verb (`users/x:getStats`), then
 * as a plain segment (`instance/settings/notification:testEmail` still fills a `*`). Cost per
 * match is proportional to the number of segments, not the number of routes; paths without
 * percent-escapes are walked in place by index (see bench/rest-matcher.ts).
 * Two bindings with the same method, shape and verb are a definition error.
 */
export function createRouteTable(routes: readonly RestRoute[]): RouteTable {
  const roots = new Map<string, TrieNode>();
  for (const route of routes) {
    let node: TrieNode | undefined = roots.get(route.httpMethod);
    if (node === undefined) {
      node = newNode();
      roots.set(route.httpMethod, node);
    }
    const segs = route.template.segments;
    let target = node.ends;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      if (s.kind === "literal") {
        let next: TrieNode | undefined = node.literals.get(s.value);
        if (next === undefined) {
          next = newNode();
          node.literals.set(s.value, next);
        }
        node = next;
        target = node.ends;
      } else if (s.kind === "wildcard") {
        node = node.wildcard ??= newNode();
        target = node.ends;
      } else {
        target = node.deep;
      }
    }
    const verb = route.template.verb ?? "";
    const existing = target.get(verb);
    if (existing !== undefined) {
      throw new RouteDefinitionError(
        `${route.httpMethod} ${route.template.source} (${route.method.name}) conflicts with ${existing.template.source} (${existing.method.name})`,
      );
    }
    target.set(verb, route);
  }

  const finish = (node: TrieNode): void => {
    node.keys = [...node.literals.keys()];
    node.children = [...node.literals.values()];
    for (const child of node.literals.values()) finish(child);
    if (node.wildcard !== undefined) finish(node.wildcard);
  };
  for (const root of roots.values()) finish(root);

  const matchIn = (root: TrieNode | undefined, path: string): RouteMatch | undefined | null => {
    if (root === undefined) return undefined;
    if (path.charCodeAt(0) !== SLASH) return null;
    // One pass for the last '/', the last ':' and any '%' (cheaper than three string searches).
    let lastSlash = 0;
    let colon = -1;
    for (let i = 1; i < path.length; i++) {
      const c = path.charCodeAt(i);
      if (c === SLASH) lastSlash = i;
      else if (c === COLON) colon = i;
      else if (c === PERCENT) return matchDecoded(root, path);
    }
    // Fast path, no escapes: walk the raw string by index, allocating only the looked-up keys.
    if (colon > lastSlash + 1) {
      const verb = path.slice(colon + 1);
      const route = walkRaw(root, path, 1, colon, verb);
      if (route !== undefined) return { route, values: extractRaw(route, path, colon) };
    }
    const route = walkRaw(root, path, 1, path.length, "");
    return route === undefined ? undefined : { route, values: extractRaw(route, path, path.length) };
  };

  return {
    routes,
    match(httpMethod, path) {
      return matchIn(roots.get(httpMethod), path) ?? undefined;
    },
    lookup(httpMethod, path) {
      const m = matchIn(roots.get(httpMethod), path);
      if (m === null) return { kind: "bad-path" };
      if (m !== undefined) return { kind: "match", match: m };
      const allowed: string[] = [];
      for (const [other, root] of roots) {
        if (other !== httpMethod && matchIn(root, path)) allowed.push(other);
      }
      return allowed.length > 0 ? { kind: "method-not-allowed", allowed: allowed.sort() } : { kind: "not-found" };
    },
  };
}

const SLASH = 47;
const COLON = 58;
const PERCENT = 37;

/**
 * Walks the trie over `path[start, end)`, one `/`-separated segment at a time, by index; `verb`
 * is the custom verb split off the last segment (`""` for none). Literal children first, then
 * `*` (never an empty segment), then a trailing `**`.
 */
function walkRaw(node: TrieNode, path: string, start: number, end: number, verb: string): RestRoute | undefined {
  if (start > end) return node.ends.get(verb) ?? node.deep.get(verb);
  let segEnd = path.indexOf("/", start);
  if (segEnd === -1 || segEnd > end) segEnd = end;
  const keys = node.keys;
  for (let k = 0; k < keys.length; k++) {
    if (segmentIs(path, start, segEnd, keys[k]!)) {
      const r = walkRaw(node.children[k]!, path, segEnd + 1, end, verb);
      if (r !== undefined) return r;
      break;
    }
  }
  if (node.wildcard !== undefined && segEnd > start) {
    const r = walkRaw(node.wildcard, path, segEnd + 1, end, verb);
    if (r !== undefined) return r;
  }
  return node.deep.size > 0 ? node.deep.get(verb) : undefined;
}

function segmentIs(path: string, start: number, end: number, key: string): boolean {
  if (end - start !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (path.charCodeAt(start + i) !== key.charCodeAt(i)) return false;
  return true;
}

const NO_VALUES: readonly string[] = [];

/**
 * The variables' values of a fast-path match over `path[1, end)`: each variable spans whole
 * segments, so its value is one substring between segment boundaries.
 */
function extractRaw(route: RestRoute, path: string, end: number): readonly string[] {
  const vars = route.template.variables;
  if (vars.length === 0) return NO_VALUES;
  const starts = [1];
  for (let i = 1; i < end; i++) if (path.charCodeAt(i) === SLASH) starts.push(i + 1);
  const values = new Array<string>(vars.length);
  for (let k = 0; k < vars.length; k++) {
    const v = vars[k]!;
    const to = v.end < starts.length && route.template.segments[v.end - 1]!.kind !== "deep" ? starts[v.end]! - 1 : end;
    values[k] = path.substring(starts[v.start]!, to);
  }
  return values;
}

/** Slow path for paths with percent-escapes: split on raw `/`, decode each segment, then walk. */
function matchDecoded(root: TrieNode, path: string): RouteMatch | undefined | null {
  const split = splitRequestPath(path);
  if (split === undefined) return null;
  const { segments, verb } = split;
  if (verb !== undefined) {
    const route = walk(root, segments, 0, verb);
    if (route !== undefined) return { route, values: extract(route, segments) };
    segments[segments.length - 1] = split.last;
  }
  const route = walk(root, segments, 0, "");
  return route === undefined ? undefined : { route, values: extract(route, segments) };
}

function walk(node: TrieNode, segs: readonly string[], i: number, verb: string): RestRoute | undefined {
  if (i === segs.length) return node.ends.get(verb) ?? node.deep.get(verb);
  const seg = segs[i]!;
  const lit = node.literals.get(seg);
  if (lit !== undefined) {
    const r = walk(lit, segs, i + 1, verb);
    if (r !== undefined) return r;
  }
  if (node.wildcard !== undefined && seg !== "") {
    const r = walk(node.wildcard, segs, i + 1, verb);
    if (r !== undefined) return r;
  }
  return node.deep.size > 0 ? node.deep.get(verb) : undefined;
}

/** The captured text of each variable: its segments joined with `/`. */
function extract(route: RestRoute, segs: readonly string[]): string[] {
  const t = route.template;
  const deepEnd = t.segments.length > 0 && t.segments[t.segments.length - 1]!.kind === "deep";
  return t.variables.map((v) => {
    const end = deepEnd && v.end === t.segments.length ? segs.length : v.end;
    return end - v.start === 1 ? segs[v.start]! : segs.slice(v.start, end).join("/");
  });
}
