import { type BlobStat, type BlobStore, InvalidBlobKeyError } from "../blob/blob-store.js";
import type { Logger } from "../logger.js";
import type { AttachmentRepository } from "../store/attachment-repository.js";
import { storedContent } from "./attachment-file-access.js";

/** What one janitor pass did. */
export interface BlobJanitorReport {
  /** Blobs in the store. */
  readonly listed: number;
  /** Unreferenced blobs removed. */
  readonly removed: number;
  /** Unreferenced blobs kept because they are younger than the grace period (uploads in flight). */
  readonly keptYoung: number;
  /** Unreferenced blobs whose removal failed (tried again on the next pass). */
  readonly failed: number;
  readonly ms: number;
}

/** Options of {@link createBlobJanitor}. */
export interface BlobJanitorOptions {
  readonly attachments: Pick<AttachmentRepository, "listLocations">;
  readonly blobs: BlobStore;
  /** Blobs modified less than this long ago are never removed, in milliseconds. */
  readonly graceMs: number;
  /** Time between passes after {@link BlobJanitor.start}'s first one; 0: only that one. */
  readonly intervalMs: number;
  readonly logger: Pick<Logger, "info" | "warn">;
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly clock?: () => number;
}

/** Removes blobs that no attachment references. */
export interface BlobJanitor {
  /** One pass now; a pass already running is shared instead of starting another. */
  run(): Promise<BlobJanitorReport>;
  /** A first pass soon (in the background), then one every `intervalMs`. Failures are logged. */
  start(): void;
  /** Stops the schedule and waits for a running pass to stop. */
  close(): Promise<void>;
}

/** Attachment rows read per query while collecting references. */
const SCAN_PAGE = 5_000;

/** What the attachment table references. */
interface References {
  /** Blob keys of LOCAL and S3 attachments. */
  readonly keys: Set<string>;
  /** `uid/id` of every attachment: its derived blobs (`derived/{uid}/{id}.…`) are referenced. */
  readonly rows: Set<string>;
  readonly uids: Set<string>;
}

/**
 * The blob janitor. An upload writes its blob BEFORE inserting the attachment row (and deletes
 * remove the row before the blob), so a crash between the two steps can leave a blob without a
 * row, never a row without its blob. Such blobs, and derived blobs (thumbnails) of attachments
 * that no longer exist, are what a pass removes:
 *
 * 1. collect every blob key the attachment rows reference (LOCAL `reference`, S3
 *    `payload.s3Object.key`) and every attachment's `uid/id`;
 * 2. list the store; a blob is referenced when a row names its key, or, for `derived/{uid}/{id}.…`
 *    keys, when attachment `id` with that UID exists;
 * 3. stat the unreferenced ones: younger than the grace period -> kept (an upload in flight on
 *    this or another replica has written its blob but not yet its row);
 * 4. collect the references again (a row may have been inserted meanwhile), and remove the old
 *    unreferenced blobs that are still unreferenced.
 *
 * The store must belong to this server alone: anything in it that no row references is removed.
 * Several replicas may run janitors on one store; removals are idempotent.
 */
export function createBlobJanitor(options: BlobJanitorOptions): BlobJanitor {
  const { blobs, logger, graceMs, intervalMs } = options;
  const clock = options.clock ?? Date.now;
  let running: Promise<BlobJanitorReport> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const collectReferences = async (): Promise<References> => {
    const refs: References = { keys: new Set(), rows: new Set(), uids: new Set() };
    for (let after = 0; ; ) {
      const page = await options.attachments.listLocations(after, SCAN_PAGE);
      for (const row of page) {
        refs.rows.add(`${row.uid}/${row.id}`);
        refs.uids.add(row.uid);
        const content = storedContent({ ...row, updated_ts: 0 });
        if (content.kind === "blob") refs.keys.add(content.key);
      }
      if (page.length < SCAN_PAGE || closed) return refs;
      after = page[page.length - 1]!.id;
    }
  };

  const pass = async (): Promise<BlobJanitorReport> => {
    const started = performance.now();
    const before = await collectReferences();
    let listed = 0;
    const unreferenced: string[] = [];
    for await (const key of blobs.list("")) {
      if (closed) break;
      listed++;
      if (!isReferenced(key, before)) unreferenced.push(key);
    }
    let keptYoung = 0;
    const old: string[] = [];
    for (const key of unreferenced) {
      if (closed) break;
      let stat: BlobStat | undefined;
      try {
        stat = await blobs.stat(key);
      } catch (err) {
        // An object this server could not have written (a name outside the key rules): leave it.
        if (err instanceof InvalidBlobKeyError) continue;
        throw err;
      }
      if (stat === undefined) continue;
      if (clock() - stat.lastModified.getTime() < graceMs) keptYoung++;
      else old.push(key);
    }
    let removed = 0;
    let failed = 0;
    if (old.length > 0 && !closed) {
      const after = await collectReferences();
      for (const key of old) {
        if (closed) break;
        if (isReferenced(key, after)) continue;
        try {
          await blobs.delete(key);
          removed++;
        } catch (err) {
          failed++;
          logger.warn({ err, key }, "blob janitor could not remove a blob");
        }
      }
    }
    return { listed, removed, keptYoung, failed, ms: Math.round(performance.now() - started) };
  };

  const run = (): Promise<BlobJanitorReport> => {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };

  const scheduled = (): void => {
    timer = undefined;
    run().then(
      (report) => logger.info({ blobJanitor: report }, "blob janitor pass"),
      (err: unknown) => logger.warn({ err }, "blob janitor pass failed"),
    ).finally(() => {
      if (!closed && intervalMs > 0) {
        timer = setTimeout(scheduled, intervalMs);
        timer.unref();
      }
    });
  };

  return {
    run,
    start() {
      if (closed || timer !== undefined) return;
      timer = setTimeout(scheduled, 0);
      timer.unref();
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running?.catch(() => {});
    },
  };
}

/** Whether a row references blob `key` (see {@link createBlobJanitor}). */
function isReferenced(key: string, refs: References): boolean {
  if (refs.keys.has(key)) return true;
  const segments = key.split("/");
  if (segments[0] !== "derived" || segments.length < 3) return false;
  const uid = segments[1]!;
  const id = /^(\d+)\./.exec(segments[2]!)?.[1];
  return id === undefined ? refs.uids.has(uid) : refs.rows.has(`${uid}/${id}`);
}
