import { createContextKey, type ContextKey, type ContextValues } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";

/** The address of the TCP peer that sent the request (before any proxy headers are considered). */
export const peerAddressKey = createContextKey<string>("", { description: "TCP peer address" });

/**
 * The context values of one call, on a Map. connect-es `createContextValues` answers an object
 * literal with three new closures whose properties are added per key (a new hidden class per
 * call, megamorphic property stores); this does the same job with shared methods.
 */
class CallContextValues implements ContextValues {
  readonly #values = new Map<symbol, unknown>();

  get<T>(key: ContextKey<T>): T {
    return this.#values.has(key.id) ? (this.#values.get(key.id) as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    this.#values.set(key.id, value);
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    this.#values.delete(key.id);
    return this;
  }
}

/** The context values a call starts with: the TCP peer's address. */
export function callContextValues(peerAddress: string | undefined): ContextValues {
  return new CallContextValues().set(peerAddressKey, peerAddress ?? "");
}

const procedures = new WeakMap<DescMethod, string>();

/** The procedure path of `method`, `/memos.api.v1.MemoService/GetMemo`, made once per method. */
export function procedureOf(method: DescMethod): string {
  let procedure = procedures.get(method);
  if (procedure === undefined) procedures.set(method, (procedure = `/${method.parent.typeName}/${method.name}`));
  return procedure;
}
