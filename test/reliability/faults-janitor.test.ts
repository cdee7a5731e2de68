/**
 * The blob janitor on the local store and on S3 (s3rver, keys under a bucket folder), over PGlite:
 * blobs no attachment references (an upload's leftovers after a crash, a thumbnail of a deleted
 * attachment) are removed once older than the grace period, referenced ones (LOCAL `reference`,
 * with or without `./`; S3 `payload.s3Object.key`; thumbnails of existing attachments, DATABASE
 * ones included) never, and a row inserted while a pass runs saves its blob.
 *
 *   NODE_OPTIONS=--experimental-vm-modules npx jest test/reliability/faults-janitor.test.ts
 */
import { randomUUID } from "node:crypto";
import { jest } from "@jest/globals";
import { createLogger } from "../../src/logger.js";
import { createBlobJanitor } from "../../src/services/blob-janitor.js";
import { createAttachmentRepository, type AttachmentRepository } from "../../src/store/attachment-repository.js";
import { insertUser, newAttachment } from "../files/factories.js";
import { BACKENDS, type BlobBackend } from "../support/blob-backends.js";
import { openTestDatabase, type TestDatabase } from "../support/database.js";

jest.setTimeout(180_000);

const HOUR = 3_600_000;
const silent = createLogger("silent");

let database: TestDatabase;
let repo: AttachmentRepository;
let creator: number;

beforeAll(async () => {
  database = await openTestDatabase("pglite");
  repo = createAttachmentRepository(database.database.db);
  creator = await insertUser(database.database.db);
});

afterAll(async () => {
  await database?.close();
});

describe.each(BACKENDS)("blob janitor on %s", (name, startBackend) => {
  let backend: BlobBackend;

  beforeAll(async () => {
    backend = await startBackend();
  });
  afterAll(async () => {
    await backend?.teardown();
  });

  const keys = async () => {
    const all: string[] = [];
    for await (const key of backend.store.list("")) all.push(key);
    return all.sort();
  };

  test("removes unreferenced blobs past the grace period and nothing else", async () => {
    const blobs = backend.store;
    const put = (key: string) => blobs.put(key, Buffer.from(key));
    const local = await repo.insert(newAttachment(creator, { storage_type: "LOCAL", reference: `./${name}/local.bin` }));
    const s3 = await repo.insert(newAttachment(creator, { storage_type: "S3", reference: "", payload: JSON.stringify({ s3Object: { key: `${name}/s3.bin` } }) }));
    const inline = await repo.insert(newAttachment(creator, { storage_type: "", reference: "", blob: Buffer.from("abc") }));
    const referenced = [
      `${name}/local.bin`,
      `${name}/s3.bin`,
      `derived/${local.uid}/${local.id}.thumbnail.v1.jpeg`,
      `derived/${inline.uid}/${inline.id}.thumbnail.v1.original`,
    ];
    const unreferenced = [
      `${name}/2024/orphan-after-crash.bin`,
      // An attachment deleted and its UID reused: the old row's thumbnail is not the new one's.
      `derived/${s3.uid}/${s3.id + 100000}.thumbnail.v1.jpeg`,
      `derived/${randomUUID()}/1.thumbnail.v1.jpeg`,
    ];
    for (const key of [...referenced, ...unreferenced]) await put(key);
    const before = await keys();

    const young = await createBlobJanitor({ attachments: repo, blobs, graceMs: HOUR, intervalMs: 0, logger: silent }).run();
    expect(young).toMatchObject({ removed: 0, keptYoung: unreferenced.length, failed: 0 });
    expect(await keys()).toEqual(before);

    // Two hours on: the same blobs are past the grace period.
    const later = () => Date.now() + 2 * HOUR;
    const report = await createBlobJanitor({ attachments: repo, blobs, graceMs: HOUR, intervalMs: 0, logger: silent, clock: later }).run();
    expect(report).toMatchObject({ removed: unreferenced.length, keptYoung: 0, failed: 0 });
    const after = await keys();
    for (const key of referenced) expect(after).toContain(key);
    for (const key of unreferenced) expect(after).not.toContain(key);
  });

  test("a row inserted while the pass runs keeps its blob", async () => {
    const blobs = backend.store;
    const key = `${name}/uploaded-during-the-pass.bin`;
    await blobs.put(key, Buffer.from("late row"));
    let inserted = false;
    const racing: Pick<AttachmentRepository, "listLocations"> = {
      async listLocations(afterId, limit) {
        const page = await repo.listLocations(afterId, limit);
        // The upload's row lands right after the pass collected the references the first time.
        if (!inserted) {
          inserted = true;
          await repo.insert(newAttachment(creator, { storage_type: "LOCAL", reference: key }));
        }
        return page;
      },
    };
    const report = await createBlobJanitor({ attachments: racing, blobs, graceMs: 0, intervalMs: 0, logger: silent, clock: () => Date.now() + HOUR }).run();
    expect(report.failed).toBe(0);
    expect(await blobs.stat(key)).toBeDefined();
  });

  test("start() runs a pass in the background; run() while one runs shares it; close() stops it", async () => {
    const blobs = backend.store;
    const orphan = `${name}/orphan-for-start.bin`;
    await blobs.put(orphan, Buffer.from("x"));
    const janitor = createBlobJanitor({ attachments: repo, blobs, graceMs: 0, intervalMs: HOUR, logger: silent, clock: () => Date.now() + HOUR });
    try {
      janitor.start();
      const [a, b] = [janitor.run(), janitor.run()];
      expect(a).toBe(b);
      await a;
      for (let i = 0; i < 100 && (await blobs.stat(orphan)) !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await blobs.stat(orphan)).toBeUndefined();
    } finally {
      await janitor.close();
    }
  });
});
