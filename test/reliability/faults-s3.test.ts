/**
 * Faults: the S3 service goes away (s3rver stopped) while the server runs on it. Uploads
 * (CreateAttachment over Connect and REST, the streaming upload) fail with `unavailable` / 503
 * and leave no row and no object; downloads and thumbnails answer 503; the database-backed API
 * and `/healthz` keep working. When s3rver is back on the same port and directory, uploads and
 * downloads work again without restarting the server.
 *
 *   NODE_OPTIONS=--experimental-vm-modules npx jest test/reliability/faults-s3.test.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { jest } from "@jest/globals";
import S3rver from "s3rver";
import type { BlobStore } from "../../src/blob/blob-store.js";
import { createS3BlobStore } from "../../src/blob/s3-blob-store.js";
import { attachmentClients, attachmentCount, blobKeys, PIXEL_GIF, rest } from "../attachments/support.js";
import { codeOf, signUpAndIn } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { canvas } from "../media/images.js";

jest.setTimeout(180_000);

const BOUNDARY = "----faults-s3";

/** A multipart body with one file part. */
function multipartFile(filename: string, data: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

describe("S3 unavailable", () => {
  let directory: string;
  let port: number;
  let s3: S3rver | undefined;
  let store: BlobStore | undefined;
  let t: TestApp | undefined;

  const startS3 = async (onPort: number) => {
    s3 = new S3rver({ address: "127.0.0.1", port: onPort, silent: true, directory });
    ({ port } = await s3.run());
  };
  const stopS3 = async () => {
    const server = s3;
    s3 = undefined;
    await server?.close();
  };

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "faults-s3rver-"));
    await startS3(0);
    store = await createS3BlobStore({
      endPoint: "127.0.0.1",
      port,
      useSSL: false,
      accessKey: "S3RVER",
      secretKey: "S3RVER",
      bucket: "memos-faults",
      pathStyle: true,
    });
    t = await startTestApp({}, { blobs: store });
  });

  afterAll(async () => {
    try {
      await t?.close();
    } finally {
      try {
        await stopS3();
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    }
  });

  test("uploads fail with unavailable and write nothing; downloads answer 503; both work again when S3 returns", async () => {
    const app = t!;
    const db = app.app.database.db;
    const alice = await signUpAndIn(app.baseUrl);
    const { attachments } = attachmentClients(app.baseUrl, alice.accessToken);
    const photo = await canvas(900, 600).jpeg().toBuffer();
    const before = await attachments.createAttachment({ attachment: { filename: "photo.jpg", type: "image/jpeg", content: photo } });
    const uid = before.name.slice("attachments/".length);
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    const stored = await fetch(`${app.baseUrl}/file/attachments/${uid}`, { headers: auth });
    expect(stored.status).toBe(200);
    const storedBytes = Buffer.from(await stored.arrayBuffer());
    const rowsBefore = await attachmentCount(db);
    const keysBefore = await blobKeys(store!);

    await stopS3();
    const failures: number[] = [];
    const timed = async <T>(call: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await call();
      } finally {
        failures.push(performance.now() - started);
      }
    };

    // Connect (binary, like the web app), REST, and the streaming upload.
    expect(await timed(() => codeOf(attachments.createAttachment({ attachment: { filename: "a.gif", content: PIXEL_GIF } })))).toBe(Code.Unavailable);
    const viaRest = await timed(() =>
      rest(app.baseUrl, "POST", "/api/v1/attachments", { token: alice.accessToken, body: { filename: "b.gif", content: PIXEL_GIF.toString("base64") } }),
    );
    expect([viaRest.status, viaRest.json.code, viaRest.json.message]).toEqual([503, Code.Unavailable, "storage unavailable"]);
    const streamed = await timed(() =>
      fetch(`${app.baseUrl}/api/v1/attachments:upload`, {
        method: "POST",
        headers: { ...auth, "content-type": `multipart/form-data; boundary=${BOUNDARY}` },
        body: multipartFile("c.bin", Buffer.alloc(64 * 1024, 7)),
      }),
    );
    expect([streamed.status, ((await streamed.json()) as { code: number }).code]).toEqual([503, Code.Unavailable]);
    expect(await attachmentCount(db)).toBe(rowsBefore);

    // Downloads: the original, a range, a thumbnail.
    for (const query of ["", "?thumbnail=true"]) {
      const res = await timed(() => fetch(`${app.baseUrl}/file/attachments/${uid}${query}`, { headers: auth }));
      expect([res.status, await res.json()]).toEqual([503, { message: "storage unavailable" }]);
    }
    const ranged = await fetch(`${app.baseUrl}/file/attachments/${uid}`, { headers: { ...auth, range: "bytes=0-9" } });
    expect(ranged.status).toBe(503);
    expect(ranged.headers.get("content-range")).toBeNull();
    await ranged.arrayBuffer();

    // The database-backed API is unaffected, and the server is ready for it.
    expect((await attachments.getAttachment({ name: before.name })).filename).toBe("photo.jpg");
    expect((await fetch(`${app.baseUrl}/healthz`)).status).toBe(200);

    await startS3(port);
    const restarted = performance.now();
    const after = await attachments.createAttachment({ attachment: { filename: "after.gif", content: PIXEL_GIF } });
    const recoveryMs = performance.now() - restarted;
    const download = await fetch(`${app.baseUrl}/file/attachments/${after.name.slice("attachments/".length)}`, { headers: auth });
    expect(Buffer.from(await download.arrayBuffer()).equals(PIXEL_GIF)).toBe(true);
    const original = await fetch(`${app.baseUrl}/file/attachments/${uid}`, { headers: auth });
    expect(Buffer.from(await original.arrayBuffer()).equals(storedBytes)).toBe(true);
    const thumbnail = await fetch(`${app.baseUrl}/file/attachments/${uid}?thumbnail=true`, { headers: auth });
    expect([thumbnail.status, thumbnail.headers.get("content-type")]).toEqual([200, "image/jpeg"]);
    await thumbnail.arrayBuffer();

    // Nothing half-written: one new row and exactly its object beside the ones from before.
    expect(await attachmentCount(db)).toBe(rowsBefore + 1);
    const keysAfter = await blobKeys(store!);
    expect(keysAfter.filter((k) => !keysBefore.includes(k))).toHaveLength(1);

    process.stdout.write(
      `faults-s3: ${failures.length} calls failed while S3 was down, slowest ${Math.round(Math.max(...failures))} ms, ` +
        `median ${Math.round(failures.sort((a, b) => a - b)[failures.length >> 1]!)} ms; first upload after S3 returned took ${Math.round(recoveryMs)} ms\n`,
    );
  });
});
