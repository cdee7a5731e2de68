import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A server running in a child process. */
export interface ServerProcess {
  readonly name: string;
  readonly port: number;
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /** Milliseconds from spawn to the first successful readiness probe. */
  readonly startupMs: number;
  /** Resident set size of the server process in MiB. */
  rssMiB(): number;
  /** CPU time (user + system) the server process has used so far, in milliseconds. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/**
 * Bundles `script` (relative to the root) as scripts/build.mjs bundles the server, into a fresh
 * directory under node_modules/.cache (where the packages left out of the bundle resolve).
 */
export async function bundle(script: string): Promise<string> {
  const [{ build }, { serverBundleOptions }] = await Promise.all([import("esbuild"), import("../../scripts/build.mjs")]);
  const cache = join(ROOT, "node_modules", ".cache", "memos-connect");
  mkdirSync(cache, { recursive: true });
  const outfile = join(mkdtempSync(join(cache, "bench-")), basename(script).replace(/\.ts$/, ".mjs"));
  await build(serverBundleOptions(join(ROOT, script), outfile));
  return outfile;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `node [nodeArgs] <script>` with `env` (PORT set to a free port) and waits until
 * `GET <readyPath>` answers 200. A `.ts` script runs through tsx, or with `bundle` as one esbuild
 * bundle made the way `npm run build` makes `dist/main.js` (what production runs: tsx keeps
 * function names, which costs time on every closure it creates). Its output is discarded unless
 * `MEMOS_BENCH_VERBOSE` is set.
 */
export async function startServer(
  name: string,
  script: string,
  env: Record<string, string>,
  opts: { portVar?: string; readyPath?: string; timeoutMs?: number; nodeArgs?: readonly string[]; bundle?: boolean } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const entry = script.endsWith(".ts") && opts.bundle === true ? await bundle(script) : join(ROOT, script);
  const started = performance.now();
  const args = [...(opts.nodeArgs ?? []), ...(entry.endsWith(".ts") ? ["--import", "tsx", entry] : [entry])];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: "", ...env, [opts.portVar ?? "MEMOS_PORT"]: String(port), MEMOS_ADDR: "127.0.0.1" },
    stdio: ["ignore", process.env.MEMOS_BENCH_VERBOSE ? "inherit" : "ignore", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready`);
    const ok = await fetch(baseUrl + (opts.readyPath ?? "/healthz")).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${name} was not ready within ${opts.timeoutMs ?? 60_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const startupMs = performance.now() - started;
  return {
    name,
    port,
    baseUrl,
    child,
    startupMs,
    cpuMs: () => processCpuMs(child.pid!),
    rssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return kb / 1024;
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      if (entry !== join(ROOT, script)) rmSync(dirname(entry), { recursive: true, force: true });
    },
  };
}

/** CPU time (user + system) process `pid` has used so far, in milliseconds, from /proc. */
export function processCpuMs(pid: number): number {
  // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Clock ticks per second of /proc CPU times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;
