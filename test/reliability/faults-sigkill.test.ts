/**
 * Faults: the server (a child process on local storage and an on-disk PGlite database) is killed
 * with SIGKILL while streaming uploads (`POST /api/v1/attachments:upload`) and inline
 * CreateAttachment calls are in flight, then started again on the same data directory with a
 * janitor grace period of 0. Afterwards every acknowledged attachment is there with its bytes,
 * every attachment row's blob exists and is readable, and once the start-up janitor ran no blob
 * is unreferenced (leftovers of the crash and planted orphans, a thumbnail of a missing
 * attachment included) and no temp file is left.
 *
 *   NODE_OPTIONS=--experimental-vm-modules npx jest test/reliability/faults-sigkill.test.ts
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { jest } from "@jest/globals";
import { startServer, type ServerProcess } from "../../bench/lib/process.js";
import { storedContent } from "../../src/services/attachment-file-access.js";
import { openDatabase, pgliteDir } from "../../src/store/database.js";
import { attachmentClients } from "../attachments/support.js";
import { signUpAndIn } from "../auth/support.js";

jest.setTimeout(400_000);

const STREAM_WORKERS = 4;
const INLINE_WORKERS = 3;
const STREAM_BYTES = 3 * 1024 * 1024;
const INLINE_BYTES = 1024 * 1024;
/** Acknowledged uploads to wait for before the kill, so some are done and some in flight. */
const ACKS_BEFORE_KILL = 6;
const BOUNDARY = "----faults-sigkill";
/** Start-up on a loaded machine (PGlite's first start and its recovery after the kill) can be slow. */
const START_TIMEOUT_MS = 180_000;

/** Every file under `dir` as a `/`-separated path relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join("/"))
    .sort();
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A streaming upload of `data`, sent in 64 KiB pieces a few milliseconds apart so that it stays
 * in flight for a while. Resolves with the attachment name, or rejects when the server is gone.
 */
function streamUpload(baseUrl: string, token: string, filename: string, data: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}/api/v1/attachments:upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": `multipart/form-data; boundary=${BOUNDARY}` },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { name?: string };
        if (res.statusCode === 200 && body.name !== undefined) resolve(body.name);
        else reject(new Error(`upload answered ${res.statusCode}`));
      });
    });
    void (async () => {
      req.write(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
      for (let offset = 0; offset < data.length && !req.destroyed; offset += 64 * 1024) {
        req.write(data.subarray(offset, offset + 64 * 1024));
        await sleep(4);
      }
      req.end(`\r\n--${BOUNDARY}--\r\n`);
    })();
  });
}

describe("SIGKILL during uploads", () => {
  let dataDir: string | undefined;
  let server: ServerProcess | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "faults-sigkill-"));
  });

  afterAll(async () => {
    try {
      await server?.stop();
    } finally {
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("after a restart no row points at a missing blob, and the janitor leaves no unreferenced blob", async () => {
    const dir = dataDir!;
    const blobRoot = join(dir, "blobs");
    server = await startServer("memos-sigkill", "src/main.ts", { MEMOS_DATA: dir, MEMOS_LOG_LEVEL: "warn" }, { timeoutMs: START_TIMEOUT_MS });
    const alice = await signUpAndIn(server.baseUrl);
    const { attachments } = attachmentClients(server.baseUrl, alice.accessToken);

    /** sha256 of every acknowledged attachment's bytes, by name. */
    const acknowledged = new Map<string, string>();
    let started = 0;
    let failed = 0;
    let killed = false;
    const worker = async (upload: (n: number) => Promise<{ name: string; digest: string }>) => {
      while (!killed) {
        try {
          const { name, digest } = await upload(started++);
          acknowledged.set(name, digest);
        } catch {
          failed++;
        }
      }
    };
    const baseUrl = server.baseUrl;
    const workers = [
      ...Array.from({ length: STREAM_WORKERS }, () =>
        worker(async (n) => {
          const data = randomBytes(STREAM_BYTES);
          return { name: await streamUpload(baseUrl, alice.accessToken, `stream-${n}.bin`, data), digest: sha256(data) };
        }),
      ),
      ...Array.from({ length: INLINE_WORKERS }, () =>
        worker(async (n) => {
          const content = randomBytes(INLINE_BYTES);
          const a = await attachments.createAttachment({ attachment: { filename: `inline-${n}.bin`, type: "application/octet-stream", content } });
          return { name: a.name, digest: sha256(content) };
        }),
      ),
    ];

    for (let deadline = Date.now() + 120_000; acknowledged.size < ACKS_BEFORE_KILL && Date.now() < deadline; ) await sleep(20);
    expect(acknowledged.size).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);
    server.child.kill("SIGKILL");
    killed = true;
    await new Promise((resolve) => (server!.child.exitCode !== null || server!.child.signalCode !== null ? resolve(undefined) : server!.child.once("exit", resolve)));
    await Promise.all(workers);
    // Calls answered before the process died count as acknowledged; the rest were cut off.
    const ackedAtKill = acknowledged.size;
    const cutOff = failed;

    const afterKill = filesUnder(blobRoot).filter((f) => !f.startsWith(".tmp/"));
    const tempAfterKill = filesUnder(join(blobRoot, ".tmp"));
    // Orphans as a crash can leave them: a blob without a row, and a thumbnail of no attachment.
    mkdirSync(join(blobRoot, "assets"), { recursive: true });
    writeFileSync(join(blobRoot, "assets", "planted-orphan.bin"), "nobody references this");
    mkdirSync(join(blobRoot, "derived", "no-such-attachment"), { recursive: true });
    writeFileSync(join(blobRoot, "derived", "no-such-attachment", "999999.thumbnail.v1.jpeg"), "not a thumbnail of anything");

    const restartedAt = performance.now();
    server = await startServer(
      "memos-sigkill-restarted",
      "src/main.ts",
      { MEMOS_DATA: dir, MEMOS_LOG_LEVEL: "warn", MEMOS_BLOB_JANITOR_GRACE_MS: "0" },
      { timeoutMs: START_TIMEOUT_MS },
    );
    const restartMs = performance.now() - restartedAt;
    const after = attachmentClients(server.baseUrl, alice.accessToken).attachments;

    // Every attachment there is (all are alice's) is readable, with the size its row records; the
    // acknowledged ones with exactly the bytes that were sent.
    const listed = [];
    for (let pageToken = ""; ; ) {
      const page = await after.listAttachments({ pageSize: 100, pageToken });
      listed.push(...page.attachments);
      if (page.nextPageToken === "") break;
      pageToken = page.nextPageToken;
    }
    for (const a of listed) {
      const res = await fetch(`${server.baseUrl}/file/attachments/${a.name.slice("attachments/".length)}`, {
        headers: { authorization: `Bearer ${alice.accessToken}` },
      });
      expect([a.name, res.status]).toEqual([a.name, 200]);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect([a.name, bytes.length]).toEqual([a.name, Number(a.size)]);
      const digest = acknowledged.get(a.name);
      if (digest !== undefined) expect([a.name, sha256(bytes)]).toEqual([a.name, digest]);
    }
    const names = new Set(listed.map((a) => a.name));
    expect([...acknowledged.keys()].filter((name) => !names.has(name))).toEqual([]);

    // The start-up janitor (grace 0) removes the orphans; the local store its crash temp files.
    const janitorStarted = performance.now();
    for (let deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(50)) {
      if (filesUnder(blobRoot).length === listed.length) break;
    }
    const janitorMs = performance.now() - janitorStarted;
    expect(filesUnder(join(blobRoot, ".tmp"))).toEqual([]);
    const remaining = filesUnder(blobRoot);
    expect(remaining).not.toContain("assets/planted-orphan.bin");
    expect(remaining).not.toContain("derived/no-such-attachment/999999.thumbnail.v1.jpeg");

    // Exactly: the blobs left are the blobs the rows name, and every row's blob is there.
    await server.stop();
    server = undefined;
    const database = await openDatabase({ driver: "pglite", dataDir: pgliteDir(dir) });
    let keys: string[];
    try {
      const rows = await database.db.selectFrom("attachment").select(["uid", "storage_type", "reference", "payload", "updated_ts"]).execute();
      keys = rows.map((row) => {
        const content = storedContent({ ...row, updated_ts: Number(row.updated_ts) });
        if (content.kind !== "blob") throw new Error(`attachment ${row.uid} is not stored in the blob store`);
        return content.key;
      });
      expect(rows.length).toBe(listed.length);
    } finally {
      await database.close();
    }
    expect(filesUnder(blobRoot)).toEqual([...keys].sort());

    const orphansFromCrash = afterKill.length - listed.length;
    process.stdout.write(
      `faults-sigkill: ${started} uploads started (${STREAM_WORKERS} streaming ${STREAM_BYTES >> 20} MiB, ${INLINE_WORKERS} inline ${INLINE_BYTES >> 20} MiB), ` +
        `${ackedAtKill} acknowledged, ${cutOff} cut off by SIGKILL; after it ${afterKill.length} blobs for ${listed.length} rows ` +
        `(${orphansFromCrash} orphans from the crash), ${tempAfterKill.length} temp files; restart ${Math.round(restartMs)} ms; ` +
        `janitor removed ${orphansFromCrash + 2} blobs (2 planted), done ${Math.round(janitorMs)} ms after the listing was checked; ` +
        `0 acknowledged uploads lost, 0 rows without a blob\n`,
    );
  });
});
