import type { LoadResult } from "./load.js";

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Prints rows as an aligned text table. */
export function printTable(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): void {
  console.log(formatTable(header, rows));
}

/** Rows as an aligned text table (lines joined by newlines), for callers that print it in one piece. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cells = [header, ...rows].map((r) => r.map((c) => (typeof c === "number" ? format(c) : c)));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const lines: string[] = [];
  for (const [n, r] of cells.entries()) {
    lines.push(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
    if (n === 0) lines.push(widths.map((w) => "-".repeat(w)).join("  "));
  }
  return lines.join("\n");
}

function format(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 0);
}

/**
 * Prints one row per contestant (medians of its rounds) and the ratio of the first contestant's
 * throughput to each other's, under the column title `ratioTitle`. When every run metered its
 * server's CPU, also the CPU time per request and the same ratio computed from it (the other's
 * CPU per request over the first's), which holds up on a busy machine where throughput does not.
 */
export function printLoadTable(names: readonly string[], results: readonly LoadResult[][], ratioTitle: string): void {
  const first = median(results[0]!.map((r) => r.rps));
  const cpu = (rs: readonly LoadResult[]) => median(rs.map((r) => r.cpuUsPerReq ?? Number.NaN));
  const metered = results.every((rs) => rs.every((r) => r.cpuUsPerReq !== undefined));
  const firstCpu = metered ? cpu(results[0]!) : Number.NaN;
  printTable(
    [
      "contestant",
      "req/s",
      "p50 ms",
      "p99 ms",
      "errors",
      "non-2xx",
      ratioTitle,
      ...(metered ? ["server CPU us/req", `${ratioTitle} by CPU`] : []),
    ],
    names.map((name, i) => {
      const rs = results[i]!;
      const rps = median(rs.map((r) => r.rps));
      const cpuColumns = metered ? [Math.round(cpu(rs)), i === 0 ? "-" : (cpu(rs) / firstCpu).toFixed(2) + "x"] : [];
      return [
        name,
        Math.round(rps),
        median(rs.map((r) => r.p50)),
        median(rs.map((r) => r.p99)),
        rs.reduce((n, r) => n + r.errors, 0),
        rs.reduce((n, r) => n + r.non2xx, 0),
        i === 0 ? "-" : (first / rps).toFixed(2) + "x",
        ...cpuColumns,
      ];
    }),
  );
}
