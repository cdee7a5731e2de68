// npx tsx bench/files.ts
// File serving against bare baselines, each server in its own process over loopback:
//   1. download of a large file: our file route vs a bare stat + fs.createReadStream server
//      (curl as the client; MiB/s; target >= 0.8x; the target size is 1 GiB)
//   2. first thumbnail of a 12-megapixel JPEG: our route (read blob, HDR scan, probe, sharp,
//      store the thumbnail, serve it) vs the bare sharp pipeline served by bare node:http
//      (ms per request; target <= 1.3x)
//   3. a stored thumbnail served: our route vs the bare static server on the same file
//      (autocannon; requests/s; target >= 0.8x)
// Our server uses an in-memory lookup (no database), so the figures are the file path's own.
//   BENCH_FILE_MIB (256)  BENCH_ROUNDS (5)  BENCH_SECONDS (3)  BENCH_CONNECTIONS (16)
//   BENCH_SCENARIOS (1,2,3: which of the scenarios above to run)
//   BENCH_BARE_HWM (65536: the baseline's read size; our local store reads up to 256 KiB at a time)
import { execFile } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import sharp from "sharp";
import { createLocalBlobStore } from "../src/blob/local-blob-store.js";
import { thumbnailKey } from "../src/media/thumbnail.js";
import { runLoad, type LoadResult } from "./lib/load.js";
import { startServer, type ServerProcess } from "./lib/process.js";
import { median, printTable } from "./lib/report.js";

const FILE_MIB = Number(process.env.BENCH_FILE_MIB ?? 256);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? "1,2,3").split(",").map((s) => s.trim()));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const run = promisify(execFile);

/** `size` MiB of random bytes, streamed from a 16 MiB random pool (generating it all would take longer than the bench). */
function randomBody(mib: number): Readable {
  const pool = randomFillSync(Buffer.alloc(16 * 1024 * 1024));
  let sent = 0;
  return Readable.from(
    (function* () {
      for (; sent < mib; sent++) {
        const offset = (sent * 1024 * 1024 + sent * 4099) % (pool.length - 1024 * 1024);
        yield pool.subarray(offset, offset + 1024 * 1024);
      }
    })(),
  );
}

/** A 4000x3000 JPEG (q90) with gradients and noise, so it compresses like a photo. */
async function photo12mp(): Promise<Buffer> {
  const width = 4000;
  const height = 3000;
  const raw = Buffer.alloc(width * height * 3);
  let seed = 12345;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 3) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = (seed >> 16) & 31;
      raw[i] = ((x * 255) / width + noise) & 255;
      raw[i + 1] = ((y * 255) / height + noise) & 255;
      raw[i + 2] = (((x ^ y) >> 3) + noise) & 255;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function curl(url: string): Promise<{ seconds: number; bytes: number }> {
  const { stdout } = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url]);
  const [code, bytes, seconds] = stdout.trim().split(" ");
  if (code !== "200") throw new Error(`${url}: HTTP ${code}`);
  return { seconds: Number(seconds), bytes: Number(bytes) };
}

async function timeRequest(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  if (!res.ok || res.headers.get("content-type") !== "image/jpeg" || body.length === 0) throw new Error(`${url}: ${res.status}`);
  return performance.now() - started;
}

const ratio = (ours: number, base: number) => `${(ours / base).toFixed(2)}x`;

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "bench-files-"));
  const servers: ServerProcess[] = [];
  try {
    console.log(`preparing ${FILE_MIB} MiB file and a 12 MP JPEG in ${root} ...`);
    const blobs = await createLocalBlobStore({ root });
    await blobs.put("assets/big.bin", randomBody(FILE_MIB), { size: FILE_MIB * 1024 * 1024 });
    const jpeg = await photo12mp();
    await blobs.put("assets/photo.jpg", jpeg);
    await blobs.close();
    console.log(`12 MP JPEG: ${(jpeg.length / 1024 / 1024).toFixed(1)} MiB`);

    const ours = await startServer("file route", "bench/servers/file-route.ts", { BENCH_ROOT: root });
    servers.push(ours);
    const bare = await startServer("bare node:http", "bench/servers/static-files.ts", { BENCH_ROOT: root });
    servers.push(bare);
    if (process.env.MEMOS_BENCH_VERBOSE) console.log(`pids: ours ${ours.child.pid}, bare ${bare.child.pid}`);

    // 1. Large download.
    if (SCENARIOS.has("1")) await download(ours, bare);
    if (SCENARIOS.has("2")) await firstThumbnail(ours, bare);
    if (SCENARIOS.has("3")) await storedThumbnail(ours, bare);
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  }
}

async function download(ours: ServerProcess, bare: ServerProcess): Promise<void> {
    const speeds = { ours: [] as number[], bare: [] as number[] };
    await curl(`${ours.baseUrl}/file/attachments/big`); // warm the page cache and both processes
    await curl(`${bare.baseUrl}/static/assets/big.bin`);
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, url] of [
        ["ours", `${ours.baseUrl}/file/attachments/big`],
        ["bare", `${bare.baseUrl}/static/assets/big.bin`],
      ] as const) {
        const { seconds, bytes } = await curl(url);
        if (bytes !== FILE_MIB * 1024 * 1024) throw new Error(`${name}: got ${bytes} bytes`);
        speeds[name].push(bytes / 1024 / 1024 / seconds);
      }
    }
    const oursMibS = median(speeds.ours);
    const bareMibS = median(speeds.bare);
    console.log(`\n1. Download of ${FILE_MIB} MiB (median of ${ROUNDS}, curl, loopback)`);
    printTable(
      ["server", "MiB/s", "seconds", "RSS MiB"],
      [
        ["our file route", oursMibS, FILE_MIB / oursMibS, ours.rssMiB()],
        ["bare createReadStream", bareMibS, FILE_MIB / bareMibS, bare.rssMiB()],
      ],
    );
    console.log(`ratio ours/bare: ${ratio(oursMibS, bareMibS)} (target >= 0.8x)`);

}

/** A fresh attachment id each round, so each request is a generation. */
async function firstThumbnail(ours: ServerProcess, bare: ServerProcess): Promise<void> {
    await timeRequest(`${ours.baseUrl}/file/attachments/photo-9999?thumbnail=true`); // warm-up (sharp init)
    await timeRequest(`${bare.baseUrl}/sharp/assets/photo.jpg`);
    const firsts = { ours: [] as number[], bare: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      firsts.ours.push(await timeRequest(`${ours.baseUrl}/file/attachments/photo-${100 + r}?thumbnail=true`));
      firsts.bare.push(await timeRequest(`${bare.baseUrl}/sharp/assets/photo.jpg`));
    }
    const oursFirst = median(firsts.ours);
    const bareFirst = median(firsts.bare);
    console.log(`\n2. First thumbnail of a 12 MP JPEG (median of ${ROUNDS}, one request at a time)`);
    printTable(
      ["pipeline", "ms"],
      [
        ["our route (generate + store + serve)", oursFirst],
        ["bare sharp pipeline over http", bareFirst],
      ],
    );
    console.log(`ratio ours/bare: ${ratio(oursFirst, bareFirst)} (target <= 1.3x)`);

}

async function storedThumbnail(ours: ServerProcess, bare: ServerProcess): Promise<void> {
    await timeRequest(`${ours.baseUrl}/file/attachments/photo-1?thumbnail=true`);
    const cachedPath = thumbnailKey("photo-1", 1);
    const loads: Record<"ours" | "bare", LoadResult[]> = { ours: [], bare: [] };
    const rounds = ROUNDS;
    for (let r = 0; r < rounds; r++) {
      loads.ours.push(await runLoad({ url: `${ours.baseUrl}/file/attachments/photo-1?thumbnail=true` }, { connections: CONNECTIONS, seconds: SECONDS }));
      loads.bare.push(await runLoad({ url: `${bare.baseUrl}/static/${cachedPath}` }, { connections: CONNECTIONS, seconds: SECONDS }));
    }
    const summary = (list: LoadResult[]) => {
      if (list.some((l) => l.errors > 0 || l.non2xx > 0)) throw new Error("errors during the load run");
      return [median(list.map((l) => l.rps)), median(list.map((l) => l.p50)), median(list.map((l) => l.p99))] as const;
    };
    const [oursRps, oursP50, oursP99] = summary(loads.ours);
    const [bareRps, bareP50, bareP99] = summary(loads.bare);
    console.log(`\n3. Stored thumbnail served (${CONNECTIONS} connections, ${SECONDS} s, median of ${rounds})`);
    printTable(
      ["server", "req/s", "p50 ms", "p99 ms"],
      [
        ["our route (?thumbnail=true)", oursRps, oursP50, oursP99],
        ["bare createReadStream", bareRps, bareP50, bareP99],
      ],
    );
    console.log(`ratio ours/bare: ${ratio(oursRps, bareRps)} (target >= 0.8x)`);
}

await main();
