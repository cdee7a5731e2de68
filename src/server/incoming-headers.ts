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

class IncomingHeaders extends HeadersBase {
  #raw: IncomingHttpHeaders | undefined;

  constructor(raw: IncomingHttpHeaders) {
    super();
    this.#raw = raw;
  }

  /** Copies the raw entries into the list; every method but `get` and `has` goes through this. */
  #own(): void {
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
    this.#own();
    super.append(name, value);
  }

  override set(name: string, value: string): void {
    this.#own();
    super.set(name, value);
  }

  override delete(name: string): void {
    this.#own();
    super.delete(name);
  }

  override getSetCookie(): string[] {
    this.#own();
    return super.getSetCookie();
  }

  override forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this.#own();
    super.forEach(callback, thisArg);
  }

  override keys(): IterableIterator<string> {
    this.#own();
    return super.keys();
  }

  override values(): IterableIterator<string> {
    this.#own();
    return super.values();
  }

  override entries(): IterableIterator<[string, string]> {
    this.#own();
    return super.entries();
  }

  override [Symbol.iterator](): IterableIterator<[string, string]> {
    this.#own();
    return super[Symbol.iterator]();
  }
}
