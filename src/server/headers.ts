import type { IncomingHttpHeaders } from "node:http";

/**
 * A request's headers as a fetch `Headers` object, read straight from the header object Node
 * already parsed (lower-case names; repeated headers joined as Node joins them). Most calls only
 * `get` a header or two, so the entries are copied into the `Headers` list (with its name and
 * value checks) only when something iterates or changes them. HTTP/2 pseudo-headers (`:path`)
 * are left out, as a `Headers` object cannot hold them.
 */
export function incomingHeaders(raw: IncomingHttpHeaders): Headers {
  return new IncomingHeaders(raw) as unknown as Headers;
}

/** The methods of `Headers` as methods (Node's type declarations give them as properties). */
interface HeaderMethods {
  get(name: string): string | null;
  has(name: string): boolean;
  append(name: string, value: string): void;
  set(name: string, value: string): void;
  delete(name: string): void;
  getSetCookie(): string[];
  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  entries(): IterableIterator<[string, string]>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}
const HeadersBase = Headers as unknown as new () => HeaderMethods;

/** A header name as RFC 9110 allows it: a token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Characters a header value may not hold once trimmed (the fetch standard's check). */
const INVALID_VALUE = /[\0\r\n]/;
/** Leading and trailing HTTP whitespace, which `Headers` strips from values. */
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

/**
 * A `Headers` whose entries start out in a cheaper form of the subclass's own and move into the
 * `Headers` list with {@link DeferredHeaders.own} before anything iterates them.
 */
abstract class DeferredHeaders extends HeadersBase {
  /** Moves the entries into the `Headers` list; does nothing once they are there. */
  protected abstract own(): void;

  override forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this.own();
    super.forEach(callback, thisArg);
  }

  override keys(): IterableIterator<string> {
    this.own();
    return super.keys();
  }

  override values(): IterableIterator<string> {
    this.own();
    return super.values();
  }

  override entries(): IterableIterator<[string, string]> {
    this.own();
    return super.entries();
  }

  override [Symbol.iterator](): IterableIterator<[string, string]> {
    this.own();
    return super[Symbol.iterator]();
  }
}

class IncomingHeaders extends DeferredHeaders {
  #raw: IncomingHttpHeaders | undefined;

  constructor(raw: IncomingHttpHeaders) {
    super();
    this.#raw = raw;
  }

  /** Copies the raw entries into the list; every method but `get` and `has` goes through this. */
  protected own(): void {
    const raw = this.#raw;
    if (raw === undefined) return;
    this.#raw = undefined;
    for (const key in raw) {
      if (key.charCodeAt(0) === 58 /* : */) continue;
      const value = raw[key];
      if (typeof value === "string") super.append(key, value);
      else if (Array.isArray(value)) for (const v of value) super.append(key, v);
    }
  }

  #lookup(name: string): string | undefined {
    const key = name.toLowerCase();
    if (key.charCodeAt(0) === 58) return undefined;
    const value = this.#raw![key];
    return Array.isArray(value) ? value.join(", ") : value;
  }

  override get(name: string): string | null {
    if (this.#raw === undefined) return super.get(name);
    return this.#lookup(name) ?? null;
  }

  override has(name: string): boolean {
    if (this.#raw === undefined) return super.has(name);
    return this.#lookup(name) !== undefined;
  }

  override append(name: string, value: string): void {
    this.own();
    super.append(name, value);
  }

  override set(name: string, value: string): void {
    this.own();
    super.set(name, value);
  }

  override delete(name: string): void {
    this.own();
    super.delete(name);
  }

  override getSetCookie(): string[] {
    this.own();
    return super.getSetCookie();
  }
}

/**
 * Response headers of a REST call, as given to services in `ctx.responseHeader`. A `Headers`
 * object whose usual operations (`set`, `append`, `get`, `has`, `delete`, `getSetCookie`) work
 * on a plain map of lower-case names, with the same name and value checks as `Headers`; the
 * entries move into the `Headers` list (sorted, combined) only when something iterates them.
 * {@link ResponseHeaders.each} hands the entries to the response writer without that step.
 */
export class ResponseHeaders extends DeferredHeaders {
  /** Lower-case name to the values set, in order (read combined with ", "), Set-Cookie aside. */
  #map: Map<string, string[]> | undefined = new Map();
  #cookies: string[] | undefined;

  /** Calls `fn` for every header, each Set-Cookie value separately, in no particular order. */
  each(fn: (name: string, value: string) => void): void {
    const map = this.#map;
    if (map === undefined) {
      super.forEach((value, name) => {
        if (name !== "set-cookie") fn(name, value);
      });
      for (const cookie of super.getSetCookie()) fn("set-cookie", cookie);
      return;
    }
    for (const [name, values] of map) fn(name, values.length === 1 ? values[0]! : values.join(", "));
    if (this.#cookies !== undefined) for (const cookie of this.#cookies) fn("set-cookie", cookie);
  }

  /** Moves the entries into the `Headers` list; every iterating method goes through this. */
  protected own(): void {
    const map = this.#map;
    if (map === undefined) return;
    this.#map = undefined;
    for (const [name, values] of map) for (const value of values) super.append(name, value);
    if (this.#cookies !== undefined) for (const cookie of this.#cookies) super.append("set-cookie", cookie);
    this.#cookies = undefined;
  }

  override get(name: string): string | null {
    if (this.#map === undefined) return super.get(name);
    const key = checkName(name);
    if (key === "set-cookie") return this.#cookies?.join(", ") ?? null;
    return this.#map.get(key)?.join(", ") ?? null;
  }

  override has(name: string): boolean {
    return this.get(name) !== null;
  }

  override append(name: string, value: string): void {
    if (this.#map === undefined) return super.append(name, value);
    const key = checkName(name);
    const v = checkValue(value);
    if (key === "set-cookie") (this.#cookies ??= []).push(v);
    else {
      const prev = this.#map.get(key);
      if (prev === undefined) this.#map.set(key, [v]);
      else prev.push(v);
    }
  }

  override set(name: string, value: string): void {
    if (this.#map === undefined) return super.set(name, value);
    const key = checkName(name);
    const v = checkValue(value);
    if (key === "set-cookie") this.#cookies = [v];
    else this.#map.set(key, [v]);
  }

  override delete(name: string): void {
    if (this.#map === undefined) return super.delete(name);
    const key = checkName(name);
    if (key === "set-cookie") this.#cookies = undefined;
    else this.#map.delete(key);
  }

  override getSetCookie(): string[] {
    if (this.#map === undefined) return super.getSetCookie();
    return this.#cookies === undefined ? [] : [...this.#cookies];
  }
}

function checkName(name: string): string {
  const n = String(name);
  if (!TOKEN.test(n)) throw new TypeError(`Headers: "${n}" is an invalid header name.`);
  return n.toLowerCase();
}

function checkValue(value: string): string {
  const v = String(value).replace(EDGE_WHITESPACE, "");
  if (INVALID_VALUE.test(v)) throw new TypeError(`Headers: "${v}" is an invalid header value.`);
  return v;
}
