// npx tsx bench/rest-matcher.ts
// Time per REST route match over the full memos.api.v1 table (every binding of the 7 services),
// for our segment trie and, as the baseline, a linear scan of one regular expression per binding
// (the usual first draft of a transcoder). Requests: one sample path per binding, plus misses
// (unknown path, wrong method). The matchers alternate over several rounds and the fastest
// round of each is reported (the least disturbed by other load on the machine).
//   BENCH_MATCHES (1000000 per round)  BENCH_ROUNDS (7)
import { AttachmentService } from "../gen/memos/api/v1/attachment_service_pb.js";
import { AuthService } from "../gen/memos/api/v1/auth_service_pb.js";
import { IdentityProviderService } from "../gen/memos/api/v1/idp_service_pb.js";
import { InstanceService } from "../gen/memos/api/v1/instance_service_pb.js";
import { MemoService } from "../gen/memos/api/v1/memo_service_pb.js";
import { MemoViewService } from "../gen/memos/api/v1/memo_view_service_pb.js";
import { UserService } from "../gen/memos/api/v1/user_service_pb.js";
import { collectRoutes, createRouteTable, type RestRoute } from "../src/server/rest/route-table.js";
import { printTable } from "./lib/report.js";

const MATCHES = Number(process.env.BENCH_MATCHES ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const routes = collectRoutes([AttachmentService, AuthService, IdentityProviderService, InstanceService, MemoService, MemoViewService, UserService]);
const table = createRouteTable(routes);

function samplePath(route: RestRoute): string {
  const segs = route.template.segments.map((s, i) => (s.kind === "literal" ? s.value : s.kind === "wildcard" ? `id${i}x` : "a/b"));
  return "/" + segs.join("/") + (route.template.verb === undefined ? "" : `:${route.template.verb}`);
}

const requests: Array<[string, string]> = routes.map((r) => [r.httpMethod, samplePath(r)]);
requests.push(["GET", "/api/v1/no/such/route"], ["PUT", "/api/v1/memos/abc"], ["GET", "/api/v1/users/alice/webhooks/w1:getSigningSecret"]);

/** Baseline: one anchored regex per binding, tried in order (with the same verb rule). */
function createRegexMatcher(all: readonly RestRoute[]) {
  const compiled = all.map((r) => {
    const parts = r.template.segments.map((s) => (s.kind === "literal" ? s.value.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&") : s.kind === "wildcard" ? "([^/]+)" : "(.*)"));
    const verb = r.template.verb === undefined ? "" : `:${r.template.verb}`;
    return { route: r, re: new RegExp(`^/${parts.join("/")}${verb}$`) };
  });
  return (method: string, path: string): RestRoute | undefined => {
    for (const c of compiled) if (c.route.httpMethod === method && c.re.test(path)) return c.route;
    return undefined;
  };
}
const regex = createRegexMatcher(routes);

/**
 * The same API served under 10 versions (/api/v1../api/v10, v1 last in scan order): 720
 * bindings, to show how each matcher scales with the size of the table.
 */
const versions = Array.from({ length: 10 }, (_, i) => 10 - i);
const bigRoutes: RestRoute[] = versions.flatMap((v) =>
  routes.map((r) => {
    const segments = r.template.segments.map((s, i) => (i === 1 && s.kind === "literal" ? { kind: "literal" as const, value: `v${v}` } : s));
    return { ...r, template: { ...r.template, source: r.template.source.replace("/v1/", `/v${v}/`), segments } };
  }),
);
const bigTable = createRouteTable(bigRoutes);
const bigRegex = createRegexMatcher(bigRoutes);

// Both must agree on every sample before timing means anything.
for (const [m, p] of requests) {
  const a = table.match(m, p)?.route;
  const b = regex(m, p);
  if (a !== b && !(a === undefined && b === undefined)) {
    // The regex baseline has no precedence (first binding wins); report but do not fail.
    console.warn(`note: the regex baseline differs on ${m} ${p}: trie=${a?.method.name} regex=${b?.method.name}`);
  }
}

type Matcher = (method: string, path: string) => unknown;

/** Nanoseconds per match for one round of `MATCHES` lookups cycling through the samples. */
function round(fn: Matcher): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < MATCHES; i++) {
    const [m, p] = requests[i % requests.length]!;
    if (fn(m, p) !== undefined) sink++;
  }
  const ns = Number(process.hrtime.bigint() - start) / MATCHES;
  if (sink < 0) console.log(sink); // keep the work observable
  return ns;
}

const matchers: Array<[string, Matcher]> = [
  ["segment trie (ours): match + extract", (m, p) => table.match(m, p)],
  ["segment trie (ours): lookup incl. 405 scan", (m, p) => (table.lookup(m, p).kind === "match" ? 1 : undefined)],
  ["regex per binding, linear scan (baseline)", regex],
  [`segment trie, ${bigRoutes.length} bindings`, (m, p) => bigTable.match(m, p)],
  [`regex linear scan, ${bigRoutes.length} bindings`, bigRegex],
  ["(loop overhead: no matching)", (m, p) => (m.length + p.length > 0 ? 1 : undefined)],
];
for (const [, fn] of matchers) for (let i = 0; i < 3; i++) round(fn); // warm-up (JIT)
const best = matchers.map(() => Infinity);
for (let r = 0; r < ROUNDS; r++) matchers.forEach(([, fn], i) => (best[i] = Math.min(best[i]!, round(fn))));

console.log(`${routes.length} bindings, ${requests.length} sample requests, best of ${ROUNDS} rounds x ${MATCHES} matches\n`);
const baselineOf = (i: number) => (i >= 3 && i <= 4 ? best[4]! : best[2]!);
printTable(
  ["matcher", "ns/match", "regex baseline (same table) / this"],
  matchers.map(([name], i) => [name, Math.round(best[i]!), i === matchers.length - 1 ? "-" : (baselineOf(i) / best[i]!).toFixed(2) + "x"]),
);
