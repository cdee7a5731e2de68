import { spawn } from "node:child_process";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listen } from "../src/server/listener.js";
import { startTestApp } from "./support/app.js";

function get(port: number, path: string, agent?: http.Agent): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      })
      .on("error", reject);
  });
}

describe("listener", () => {
  test("close() lets an in-flight request finish, then refuses new connections", async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((r) => (arrived = r));
    const listener = await listen((_req, res) => {
      arrived();
      setTimeout(() => res.end("slow done"), 300);
    }, 0, "127.0.0.1");
    const inFlight = get(listener.port, "/slow");
    await arrival;
    expect(listener.inFlight()).toBe(1);
    const closed = listener.close(5_000);
    await expect(inFlight).resolves.toMatchObject({ status: 200, body: "slow done" });
    await closed;
    await expect(get(listener.port, "/again")).rejects.toThrow();
  });

  test("close() gives up on requests that outlive the timeout", async () => {
    const listener = await listen(() => {
      /* never answers */
    }, 0, "127.0.0.1");
    const hung = get(listener.port, "/hang").catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await listener.close(200);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await hung).toMatchObject({ code: "ECONNRESET" });
  });
});

describe("health", () => {
  test("/healthz answers 200 'Service ready.' while the database answers, 503 once it is gone", async () => {
    const t = await startTestApp();
    try {
      const ok = await fetch(`${t.baseUrl}/healthz`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("Service ready.");
      await t.app.database.close();
      const down = await fetch(`${t.baseUrl}/healthz`);
      expect(down.status).toBe(503);
    } finally {
      await t.close().catch(() => {});
    }
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe("the server process", () => {
  test("starts on its defaults with a new data dir, and SIGTERM stops it cleanly", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "memos-proc-"));
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: join(import.meta.dirname, ".."),
      env: { ...process.env, NODE_OPTIONS: "", MEMOS_DATA: dataDir, MEMOS_PORT: String(port), MEMOS_ADDR: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      let ready = false;
      for (let i = 0; i < 240 && !ready; i++) {
        ready = await get(port, "/healthz").then((r) => r.status === 200, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 250));
      }
      expect(ready).toBe(true);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(out).toContain('"msg":"stopped"');
    } finally {
      child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  test("a bad configuration stops start-up with every problem named", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: join(import.meta.dirname, ".."),
      env: { ...process.env, NODE_OPTIONS: "", MEMOS_PORT: "x", MEMOS_DRIVER: "oracle" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toContain("MEMOS_PORT");
    expect(err).toContain("MEMOS_DRIVER");
  }, 30_000);
});
