import { randomUUID } from "node:crypto";
import type { Stats } from "node:fs";
import { type FileHandle, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { readBlobBody } from "./blob-body.js";
import { assertValidBlobKey, assertValidBlobPrefix } from "./blob-key.js";
import { assertValidBlobRange } from "./blob-range.js";
import {
  type BlobPutOptions,
  type BlobRange,
  type BlobStat,
  type BlobStore,
  BlobNotFoundError,
  InvalidBlobKeyError,
  InvalidBlobRangeError,
} from "./blob-store.js";

/** Options for {@link createLocalBlobStore}. */
export interface LocalBlobStoreOptions {
  /** Directory that holds the blobs, one file per key; created when missing. */
  root: string;
  /**
   * Temp files older than this (left by a crash mid-upload) are removed at start-up.
   * @default 24 hours
   */
  staleTempMs?: number;
}

/** Name of the directory under `root` that holds in-flight uploads; no key can start with it. */
const TEMP_DIR = ".tmp";
/** Chunk size of `get` streams. */
const READ_CHUNK_BYTES = 256 * 1024;
/** How often `put` retries when a concurrent `delete` pruned the parent directory it just made. */
const RENAME_ATTEMPTS = 3;

/**
 * A {@link BlobStore} keeping each blob as a file under `root` (key `a/b.jpg` is `root/a/b.jpg`).
 *
 * Uploads stream into `root/.tmp/<uuid>`, are fsynced, then renamed into place, so a reader sees
 * the old file or the whole new one; on failure the temp file is removed. The content type is not
 * stored. Meant for a single server: replicas need the S3 store.
 */
export async function createLocalBlobStore(opts: LocalBlobStoreOptions): Promise<BlobStore> {
  const root = resolve(opts.root);
  const tempDir = join(root, TEMP_DIR);
  await mkdir(tempDir, { recursive: true });
  await removeStaleTempFiles(tempDir, opts.staleTempMs ?? 24 * 60 * 60 * 1000);

  /** The file for `key`; the key rules already exclude escapes, this re-checks as a last guard. */
  function pathFor(key: string): string {
    assertValidBlobKey(key);
    const path = join(root, ...key.split("/"));
    const rel = relative(root, path);
    if (rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || resolve(root, rel) !== path) {
      throw new InvalidBlobKeyError(key, "resolves outside the store root");
    }
    return path;
  }

  async function put(key: string, body: Readable | Uint8Array, putOpts: BlobPutOptions = {}): Promise<{ size: number }> {
    const target = pathFor(key);
    const temp = join(tempDir, randomUUID());
    let size = 0;
    try {
      await mkdir(tempDir, { recursive: true });
      const file = await open(temp, "wx");
      const writer = createFileWriter(file);
      try {
        for await (const chunk of readBlobBody(body, putOpts)) {
          await writer.write(chunk);
          size += chunk.length;
        }
        await writer.end();
      } finally {
        await writer.settled();
        await file.close();
      }
      putOpts.signal?.throwIfAborted();
      await moveIntoPlace(temp, target);
    } catch (err) {
      if (!(body instanceof Uint8Array)) body.destroy();
      await rm(temp, { force: true });
      throw err;
    }
    return { size };
  }

  async function get(key: string, range?: BlobRange): Promise<Readable> {
    const path = pathFor(key);
    if (range) assertValidBlobRange(range);
    let file: FileHandle;
    try {
      file = await open(path, "r");
    } catch (err) {
      if (isMissing(err)) throw new BlobNotFoundError(key, { cause: err });
      throw err;
    }
    // The open handle pins this version: an overwrite (rename) while streaming does not mix bytes.
    let size: number;
    try {
      const stats = await file.stat();
      if (!stats.isFile()) throw new BlobNotFoundError(key);
      if (range && range.start >= stats.size) {
        throw new InvalidBlobRangeError(range, `starts past the last byte (size ${stats.size})`);
      }
      size = stats.size;
    } catch (err) {
      await file.close();
      throw err;
    }
    if (size === 0) return file.createReadStream();
    // Reads of up to 256 KiB instead of the default 64 KiB (each read is a thread-pool round trip:
    // a 5 MiB photo took 17 ms in 64 KiB chunks, 5.5 ms in 256 KiB ones), but no larger than what
    // is left, and an explicit end so no extra read is spent discovering EOF.
    const start = range?.start ?? 0;
    const end = Math.min(range?.end ?? Infinity, size - 1);
    return file.createReadStream({ start, end, highWaterMark: Math.min(READ_CHUNK_BYTES, end - start + 1) });
  }

  async function statBlob(key: string): Promise<BlobStat | undefined> {
    const path = pathFor(key);
    let stats: Stats;
    try {
      stats = await stat(path);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    if (!stats.isFile()) return undefined;
    // Every put renames a new file into place, so the inode number changes with each version.
    const etag = [stats.ino, stats.size, Math.trunc(stats.mtimeMs)].map((n) => n.toString(16)).join("-");
    return { size: stats.size, lastModified: stats.mtime, etag };
  }

  async function deleteBlob(key: string): Promise<void> {
    const path = pathFor(key);
    try {
      await unlink(path);
    } catch (err) {
      // EISDIR/EPERM: the key names a directory of other keys, so there is no blob to delete.
      if (isMissing(err) || hasCode(err, "EISDIR", "EPERM")) return;
      throw err;
    }
    await pruneEmptyParents(dirname(path));
  }

  /** Removes now-empty directories from `dir` up to (not including) the root. */
  async function pruneEmptyParents(dir: string): Promise<void> {
    for (let d = dir; d !== root && d.startsWith(root + sep); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
    }
  }

  async function* list(prefix: string): AsyncGenerator<string> {
    assertValidBlobPrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    yield* walk(slash === -1 ? "" : prefix.slice(0, slash), prefix);
  }

  /** Keys under the directory for `dirKey` that start with `prefix`, skipping subtrees that cannot. */
  async function* walk(dirKey: string, prefix: string): AsyncGenerator<string> {
    const dirPath = dirKey === "" ? root : join(root, ...dirKey.split("/"));
    let entries;
    try {
      entries = await readdir(dirPath, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const key = dirKey === "" ? entry.name : `${dirKey}/${entry.name}`;
      if (!isListable(key)) continue; // .tmp and anything not put through this store
      if (entry.isDirectory()) {
        const asDir = `${key}/`;
        if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) yield* walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        yield key;
      }
    }
  }

  async function deletePrefix(prefix: string): Promise<void> {
    assertValidBlobPrefix(prefix);
    if (prefix === "") throw new InvalidBlobKeyError(prefix, "refusing to delete every blob");
    // Collect first: deleting prunes directories, which must not happen under a running walk.
    const keys: string[] = [];
    for await (const key of list(prefix)) keys.push(key);
    for (const key of keys) await deleteBlob(key);
  }

  return {
    kind: "local",
    put,
    get,
    stat: statBlob,
    delete: deleteBlob,
    deletePrefix,
    list,
    close: async () => {},
  };
}

/** Renames a finished temp file to its key's path, creating parent directories. */
async function moveIntoPlace(temp: string, target: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await mkdir(dirname(target), { recursive: true });
    try {
      await rename(temp, target);
      break;
    } catch (err) {
      // A concurrent delete may prune the parent directory between mkdir and rename.
      if (!hasCode(err, "ENOENT") || attempt >= RENAME_ATTEMPTS) throw err;
    }
  }
  await syncDirectory(dirname(target));
}

function isListable(key: string): boolean {
  try {
    assertValidBlobKey(key);
    return true;
  } catch {
    return false;
  }
}

/** Bytes gathered before they are written with one `writev`. */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** Bytes written between two background flushes of a large body. */
const FLUSH_EVERY_BYTES = 16 * 1024 * 1024;

/**
 * Writes a body's chunks to `file` as they arrive: gathered into batches of about 1 MiB, each
 * written with one `writev` while the next batch is gathered (so the network and the disk work at
 * the same time, and a 1 GiB body is a thousand writes, not sixteen thousand), and flushed to disk
 * every 16 MiB in the background (one datasync at a time), so that the final fsync has little
 * left to write. `end` writes the rest, waits for everything and fsyncs; the first failure is
 * thrown by the next `write` or by `end`. `settled` waits for anything still running (call it
 * before closing the file on every path).
 */
function createFileWriter(file: FileHandle) {
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let unflushed = 0;
  let writing: Promise<void> = Promise.resolve();
  let flushing: Promise<void> | undefined;
  let failure: unknown;
  const fail = (err: unknown) => void (failure ??= err);
  const throwIfFailed = () => {
    if (failure !== undefined) throw failure;
  };

  const startBatch = () => {
    const chunks = batch;
    const bytes = batchBytes;
    batch = [];
    batchBytes = 0;
    writing = writing
      .then(() => writevAll(file, chunks))
      .then(() => {
        unflushed += bytes;
        if (unflushed >= FLUSH_EVERY_BYTES && flushing === undefined) {
          unflushed = 0;
          flushing = file.datasync().then(() => void (flushing = undefined), (err: unknown) => void (fail(err), (flushing = undefined)));
        }
      })
      .catch(fail);
  };

  return {
    async write(chunk: Buffer): Promise<void> {
      throwIfFailed();
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        await writing; // at most one batch in flight
        throwIfFailed();
        startBatch();
      }
    },
    async end(): Promise<void> {
      if (batchBytes > 0) startBatch();
      await writing;
      await flushing;
      throwIfFailed();
      await file.sync();
    },
    async settled(): Promise<void> {
      await writing;
      await flushing;
    },
  };
}

/** Writes every byte of `chunks`, continuing after short writes. */
async function writevAll(file: FileHandle, chunks: Buffer[]): Promise<void> {
  let rest = chunks;
  while (rest.length > 0) {
    let { bytesWritten } = await file.writev(rest);
    let i = 0;
    while (i < rest.length && bytesWritten >= rest[i]!.length) bytesWritten -= rest[i++]!.length;
    rest = rest.slice(i);
    if (bytesWritten > 0) rest[0] = rest[0]!.subarray(bytesWritten);
  }
}

/** Makes a rename durable. Best effort: some platforms cannot open or fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // ignore: durability of the directory entry is a bonus, the data itself was fsynced
  } finally {
    await handle?.close();
  }
}

async function removeStaleTempFiles(tempDir: string, maxAgeMs: number): Promise<void> {
  const cutoff = Date.now() - maxAgeMs;
  for (const name of await readdir(tempDir)) {
    const path = join(tempDir, name);
    try {
      if ((await stat(path)).mtimeMs < cutoff) await rm(path, { force: true, recursive: true });
    } catch {
      // raced with another remover, or unreadable: leave it for next time
    }
  }
}

/**
 * Duck-typed on purpose: `instanceof Error` is false for Node's own errors when the code runs in
 * another realm (jest's ESM VM context), and would turn every ENOENT into a failure there.
 */
function hasCode(err: unknown, ...codes: string[]): boolean {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" && codes.includes(code);
}

/** ENOENT, or ENOTDIR when a parent segment of the key is a file. */
function isMissing(err: unknown): boolean {
  return hasCode(err, "ENOENT", "ENOTDIR");
}
