import fc from "fast-check";
import { ResponseHeaders } from "../../src/server/headers.js";

/** What an operation did: its result, or the class of what it threw. */
function outcome(fn: () => unknown): unknown {
  try {
    return { value: fn() };
  } catch (err) {
    return { threw: (err as Error).constructor.name };
  }
}

type Op =
  | { kind: "set" | "append"; name: string; value: string }
  | { kind: "get" | "has" | "delete"; name: string }
  | { kind: "getSetCookie" | "iterate" };

function apply(h: Headers, op: Op): unknown {
  switch (op.kind) {
    case "set":
      return outcome(() => h.set(op.name, op.value));
    case "append":
      return outcome(() => h.append(op.name, op.value));
    case "get":
      return outcome(() => h.get(op.name));
    case "has":
      return outcome(() => h.has(op.name));
    case "delete":
      return outcome(() => h.delete(op.name));
    case "getSetCookie":
      return outcome(() => h.getSetCookie());
    case "iterate":
      return outcome(() => [...h]);
  }
}

/** The headers as `ResponseHeaders.each` hands them out, in a comparable order. */
function eachEntries(h: ResponseHeaders): string[] {
  const out: string[] = [];
  h.each((name, value) => out.push(`${name}: ${value}`));
  return out.sort();
}

/** The same headers as fetch `Headers` iterates them, cookies one line each. */
function headerLines(h: Headers): string[] {
  const out: string[] = [];
  h.forEach((value, name) => {
    if (name !== "set-cookie") out.push(`${name}: ${value}`);
  });
  for (const cookie of h.getSetCookie()) out.push(`set-cookie: ${cookie}`);
  return out.sort();
}

const names = fc.constantFrom("Set-Cookie", "set-cookie", "Cache-Control", "x-a", "X-A", "bad name", "", "ü", "x:y");
const values = fc.constantFrom("a=1", " padded\t", "no-cache", "", "line\nbreak", "nul\0", "b=2; Path=/", "é");
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom("set" as const, "append" as const), name: names, value: values }),
  fc.record({ kind: fc.constantFrom("get" as const, "has" as const, "delete" as const), name: names }),
  fc.record({ kind: fc.constantFrom("getSetCookie" as const, "iterate" as const) }),
);

describe("ResponseHeaders", () => {
  test("behaves as fetch Headers for every sequence of operations", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const fast = new ResponseHeaders();
        const real = new Headers();
        for (const o of ops) expect(apply(fast, o)).toEqual(apply(real, o));
        expect(eachEntries(fast)).toEqual(headerLines(real));
        expect([...fast]).toEqual([...real]);
        // After iterating, it is a plain Headers list and still agrees.
        for (const o of ops) expect(apply(fast, o)).toEqual(apply(real, o));
        expect(eachEntries(fast)).toEqual(headerLines(real));
      }),
      { numRuns: 500 },
    );
  });

  test("is a Headers, so code that checks for one accepts it", () => {
    const h = new ResponseHeaders();
    h.append("Set-Cookie", "a=1");
    h.append("set-cookie", "b=2");
    h.set("Cache-Control", "no-store");
    expect(h).toBeInstanceOf(Headers);
    expect(h.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(h.get("set-cookie")).toBe("a=1, b=2");
    expect(eachEntries(h)).toEqual(["cache-control: no-store", "set-cookie: a=1", "set-cookie: b=2"]);
    expect(new Headers(h).get("cache-control")).toBe("no-store");
  });
});
