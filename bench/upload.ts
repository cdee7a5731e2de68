/**
 * Streaming upload benchmark: `POST /api/v1/attachments:upload` of one large file (default 256 MiB,
 * BENCH_FILE_MIB to change; the target is 1024) into the local blob store, against `cp` of
 * the same file on the same disk (both followed by `sync`), and the server's RSS growth during
 * the upload. The server is the production bundle in its own process, as `npm start` runs it.
 * Targets: upload throughput >= 0.5x cp; RSS growth <= 64 MiB.
 *
 *   npx tsx bench/upload.ts
 *   BENCH_UPLOAD_PROF=<dir>: write the server's CPU profile there (node --cpu-prof)
 */
import { execFileSync } from "node:child_process";
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { ROOT, startServer } from "./lib/process.js";

const MIB = 1024 * 1024;
const fileMib = Number(process.env.BENCH_FILE_MIB ?? 256);
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), "bench-upload-"));

async function json(base: string, method: string, path: string, body: unknown, token?: string) {
  const res = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  const out = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(out)}`);
  return out;
}

async function main() {
  const source = join(dir, "source.bin");
  // Incompressible-ish content, written in 1 MiB blocks.
  const block = Buffer.alloc(MIB);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i);
  await pipeline(
    (async function* () {
      for (let i = 0; i < fileMib; i++) yield block;
    })(),
    createWriteStream(source),
  );

  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  const profileDir = process.env.BENCH_UPLOAD_PROF;
  const server = await startServer(
    "memos-connect",
    "dist/main.js",
    { MEMOS_DATA: join(dir, "data"), MEMOS_LOG_LEVEL: "warn" },
    { nodeArgs: profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] },
  );
  const base = server.baseUrl;
  try {
    await json(base, "POST", "/api/v1/users", { username: "bench", password: "bench-password" });
    const signIn = await json(base, "POST", "/api/v1/auth/signin", { passwordCredentials: { username: "bench", password: "bench-password" } });
    const token = signIn.accessToken as string;
    await json(base, "PATCH", "/api/v1/instance/settings/STORAGE?updateMask=storage_setting", {
      name: "instance/settings/STORAGE",
      storageSetting: { uploadSizeLimitMb: String(fileMib + 16), storageType: "LOCAL" },
    }, token);

    // cp on the same disk (page cache warm for both: the source was just written).
    const copy = join(dir, "copy.bin");
    const cpStart = process.hrtime.bigint();
    execFileSync("cp", [source, copy]);
    execFileSync("sync");
    const cpSeconds = Number(process.hrtime.bigint() - cpStart) / 1e9;
    rmSync(copy);

    const baseline = server.rssMiB();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, server.rssMiB())), 20);
    const boundary = "----bench-boundary";
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const size = statSync(source).size;
    const upStart = process.hrtime.bigint();
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${base}/api/v1/attachments:upload`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": `multipart/form-data; boundary=${boundary}`,
          "content-length": String(head.length + size + tail.length),
        },
      });
      req.on("error", reject);
      req.on("response", (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.write(head);
      const file = createReadStream(source, { highWaterMark: 256 * 1024 });
      file.on("error", reject);
      file.pipe(req, { end: false });
      file.on("end", () => req.end(tail));
    });
    execFileSync("sync");
    const upSeconds = Number(process.hrtime.bigint() - upStart) / 1e9;
    clearInterval(sampler);
    if (result.status !== 200) throw new Error(`upload failed: ${result.status} ${result.body}`);
    const stored = JSON.parse(result.body) as { size: string };
    if (Number(stored.size) !== size) throw new Error(`stored ${stored.size} bytes, sent ${size}`);

    const cpRate = fileMib / cpSeconds;
    const upRate = fileMib / upSeconds;
    const growth = peak - baseline;
    console.log(`file: ${fileMib} MiB (target in the issue: 1024 MiB)`);
    console.log(["", "seconds", "MiB/s", "ratio", "RSS growth MiB"].join("\t"));
    console.log(["cp", cpSeconds.toFixed(2), cpRate.toFixed(0), "1.00", "-"].join("\t"));
    console.log(["upload", upSeconds.toFixed(2), upRate.toFixed(0), (upRate / cpRate).toFixed(2), growth.toFixed(1)].join("\t"));
    console.log(`targets: ratio >= 0.5 -> ${upRate / cpRate >= 0.5 ? "ok" : "MISSED"}; RSS growth <= 64 MiB -> ${growth <= 64 ? "ok" : "MISSED"}`);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
