import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
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
  stop(): Promise<void>;
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
 * Spawns `node [nodeArgs] <script>` (a `.ts` script through tsx) with `env` (PORT set to a free port) and
 * waits until `GET <readyPath>` answers 200. Its output is discarded unless `MEMOS_BENCH_VERBOSE`
 * is set.
 */
export async function startServer(
  name: string,
  script: string,
  env: Record<string, string>,
  opts: { portVar?: string; readyPath?: string; timeoutMs?: number; nodeArgs?: readonly string[] } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const started = performance.now();
  const args = [...(opts.nodeArgs ?? []), ...(script.endsWith(".ts") ? ["--import", "tsx", join(ROOT, script)] : [join(ROOT, script)])];
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
    },
  };
}
