import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { Readable } from "node:stream";
import type { BucketItem, Client } from "minio";
import { isConnectionFailure } from "../connection-errors.js";
import { readBlobBody } from "./blob-body.js";
import { assertValidBlobKey, assertValidBlobPrefix } from "./blob-key.js";
import { assertValidBlobRange } from "./blob-range.js";
import {
  type BlobPutOptions,
  type BlobRange,
  type BlobStat,
  type BlobStore,
  BlobNotFoundError,
  BlobStoreUnavailableError,
  InvalidBlobKeyError,
  InvalidBlobRangeError,
} from "./blob-store.js";

/** Options for {@link createS3BlobStore}. */
export interface S3BlobStoreOptions {
  /** Host name or IP of the S3 service, without scheme or port, e.g. `s3.amazonaws.com`. */
  endPoint: string;
  /** @default 443 with TLS, 80 without */
  port?: number;
  /** @default true */
  useSSL?: boolean;
  accessKey: string;
  secretKey: string;
  /** @default "us-east-1" */
  region?: string;
  /** Created at start-up when missing. */
  bucket: string;
  /** Path-style URLs (`host/bucket/key`), which MinIO and most self-hosted services need. @default true */
  pathStyle?: boolean;
  /**
   * Folder inside the bucket that holds every key, so one bucket can serve several deployments:
   * key `a/b` is stored as object `<prefix>/a/b`. A trailing `/` is implied. @default "" (bucket root)
   */
  prefix?: string;
  /**
   * Largest upload sent as one PUT, and the part size of multipart uploads (5 MiB to 5 GiB).
   * minio holds up to one part in memory per upload, so this bounds upload memory; objects are
   * limited to 10,000 parts. @default 16 MiB
   */
  partSize?: number;
}

const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
/** The DeleteObjects API takes at most this many keys per request. */
const DELETE_BATCH = 1000;

/**
 * A {@link BlobStore} on any S3-compatible service (AWS S3, MinIO, R2, ...) through the `minio`
 * client. Creates the bucket when it is missing, so it is async.
 *
 * Uploads: a body no larger than `partSize` (its `size` given) goes up as one PUT, which S3
 * makes atomic. A larger body, or one of unknown size, is a multipart upload, which S3 publishes
 * only when completed; a failed one is aborted here. Multipart cannot be tested against s3rver
 * (it does not implement it), so that path is exercised only against real services.
 */
export async function createS3BlobStore(opts: S3BlobStoreOptions): Promise<BlobStore> {
  const { bucket } = opts;
  const useSSL = opts.useSSL ?? true;
  const region = opts.region ?? "us-east-1";
  const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
  const keyPrefix = normalizePrefix(opts.prefix ?? "");
  // Loaded here, not at module load: the client library is large, and only S3 deployments need it.
  const { Client } = await import("minio");
  // Our own keep-alive agent, so close() can release its sockets.
  const agent = useSSL ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const client = new Client({
    endPoint: opts.endPoint,
    ...(opts.port === undefined ? {} : { port: opts.port }),
    useSSL,
    accessKey: opts.accessKey,
    secretKey: opts.secretKey,
    region,
    pathStyle: opts.pathStyle ?? true,
    // Setting it explicitly also stops minio from sizing parts for a 5 TiB object (528 MiB
    // buffered per part) when the size is unknown.
    partSize,
    transportAgent: agent,
  });

  try {
    await ensureBucket(client, bucket, region);
  } catch (err) {
    agent.destroy();
    throw err;
  }

  const objectName = (key: string): string => {
    assertValidBlobKey(key);
    return keyPrefix + key;
  };

  async function put(key: string, body: Readable | Uint8Array, putOpts: BlobPutOptions = {}): Promise<{ size: number }> {
    const name = objectName(key);
    putOpts.signal?.throwIfAborted();
    const { contentType } = putOpts;
    // A byte array's size is known; passing it keeps small arrays to a single PUT.
    const size = putOpts.size ?? (body instanceof Uint8Array ? body.byteLength : undefined);
    let written = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of readBlobBody(body, putOpts)) {
        written += chunk.length;
        yield chunk;
      }
    }
    const source = Readable.from(counted(), { objectMode: false });
    // minio's multipart path pipes the body without listening for its errors: it would never
    // settle (and an unheard 'error' event would crash the process). Listening here and racing
    // turns a failing body into a rejection on every path; the stalled upload is never
    // completed, so no partial object appears, and it is aborted below.
    let bodyError: unknown;
    const bodyFailed = new Promise<never>((_, reject) =>
      source.once("error", (err) => {
        bodyError = err;
        reject(err);
      }),
    );
    const meta = contentType === undefined ? {} : { "Content-Type": contentType };
    try {
      // Without a size minio goes multipart: fine on real services; s3rver cannot test it.
      await Promise.race([client.putObject(bucket, name, source, size, meta), bodyFailed]);
    } catch (err) {
      source.destroy();
      if (!(body instanceof Uint8Array)) body.destroy();
      // Aborts every unfinished multipart upload of this key, a concurrent one included; minio
      // would otherwise resume it on the next put of the key. Keys are unique per attachment.
      if (size === undefined || size > partSize) {
        await client.removeIncompleteUpload(bucket, name).catch(() => {});
      }
      // The caller's body failing (a client that went away) is the caller's error, not S3's.
      throw bodyError === undefined ? unavailableOr(err) : err;
    }
    return { size: written };
  }

  async function get(key: string, range?: BlobRange): Promise<Readable> {
    const name = objectName(key);
    if (range) assertValidBlobRange(range);
    try {
      if (!range) return await client.getObject(bucket, name);
      const length = range.end === undefined ? 0 : range.end - range.start + 1; // 0: to the end
      // minio sends no Range header for offset 0 with length 0, i.e. the whole object.
      return await client.getPartialObject(bucket, name, range.start, length);
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key, { cause: err });
      if (range && s3Code(err) === "InvalidRange") {
        throw new InvalidBlobRangeError(range, "starts past the last byte", { cause: err });
      }
      throw unavailableOr(err);
    }
  }

  async function statBlob(key: string): Promise<BlobStat | undefined> {
    const name = objectName(key);
    try {
      const stat = await client.statObject(bucket, name);
      const contentType: unknown = stat.metaData["content-type"];
      return {
        size: stat.size,
        lastModified: stat.lastModified,
        etag: stat.etag,
        ...(typeof contentType === "string" ? { contentType } : {}),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw unavailableOr(err);
    }
  }

  async function deleteBlob(key: string): Promise<void> {
    const name = objectName(key);
    try {
      await client.removeObject(bucket, name); // S3 answers 204 for a missing key too
    } catch (err) {
      if (!isNotFound(err)) throw unavailableOr(err);
    }
  }

  async function* listObjectNames(prefix: string): AsyncGenerator<string> {
    const items = client.listObjectsV2(bucket, keyPrefix + prefix, true) as AsyncIterable<BucketItem>;
    try {
      for await (const item of items) {
        if (item.name !== undefined) yield item.name;
      }
    } catch (err) {
      throw unavailableOr(err);
    }
  }

  async function* list(prefix: string): AsyncGenerator<string> {
    assertValidBlobPrefix(prefix);
    for await (const name of listObjectNames(prefix)) yield name.slice(keyPrefix.length);
  }

  async function deletePrefix(prefix: string): Promise<void> {
    assertValidBlobPrefix(prefix);
    if (prefix === "") throw new InvalidBlobKeyError(prefix, "refusing to delete every blob");
    let batch: string[] = [];
    const flush = async (): Promise<void> => {
      // DeleteObjects reports per-key failures in its body rather than as an HTTP error.
      const results: unknown[] = await client.removeObjects(bucket, batch).catch((err: unknown) => {
        throw unavailableOr(err);
      });
      batch = [];
      const failures = results.filter((r) => r != null && s3Code(unwrapDeleteError(r)) !== "NoSuchKey");
      if (failures.length > 0) {
        throw new Error(`S3 DeleteObjects failed for ${failures.length} key(s): ${JSON.stringify(failures.slice(0, 5))}`);
      }
    };
    for await (const name of listObjectNames(prefix)) {
      batch.push(name);
      if (batch.length === DELETE_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
  }

  return {
    kind: "s3",
    put,
    get,
    stat: statBlob,
    delete: deleteBlob,
    deletePrefix,
    list,
    close: async () => {
      agent.destroy();
    },
  };
}

/** Creates `bucket` unless it exists; tolerates another replica creating it at the same moment. */
async function ensureBucket(client: Client, bucket: string, region: string): Promise<void> {
  if (await client.bucketExists(bucket)) return;
  try {
    await client.makeBucket(bucket, region);
  } catch (err) {
    const code = s3Code(err);
    if (code !== "BucketAlreadyOwnedByYou" && code !== "BucketAlreadyExists") throw err;
  }
}

/** `""` or a valid key plus `/`. */
function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, "");
  if (trimmed === "") return "";
  assertValidBlobKey(trimmed);
  return `${trimmed}/`;
}

/** The S3 error code minio attaches to a failed request (`NoSuchKey`, `NotFound`, ...). */
function s3Code(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown; Code?: unknown }).code ?? (err as { Code?: unknown }).Code;
  return typeof code === "string" ? code : undefined;
}

/** minio's DeleteObjects result is either `{ Code, Key, ... }` or `{ Error: { Code, ... } }`. */
function unwrapDeleteError(result: unknown): unknown {
  return typeof result === "object" && result !== null && "Error" in result ? result.Error : result;
}

/** S3 error codes that mean "cannot serve now, retry later" (HTTP 500/503 answers). */
const UNAVAILABLE_CODES = new Set(["ServiceUnavailable", "SlowDown", "InternalError", "XMinioServerNotInitialized"]);

/** `err` as a {@link BlobStoreUnavailableError} when S3 could not be reached or cannot serve now. */
function unavailableOr(err: unknown): unknown {
  if (isConnectionFailure(err) || UNAVAILABLE_CODES.has(s3Code(err) ?? "")) return new BlobStoreUnavailableError({ cause: err });
  return err;
}

/** statObject says `NotFound` (a HEAD has no body); getObject and friends say `NoSuchKey`. */
function isNotFound(err: unknown): boolean {
  const code = s3Code(err);
  return code === "NotFound" || code === "NoSuchKey";
}
