/** The two blob backends tests run against: a temp directory, and S3 via s3rver on 127.0.0.1:0. */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import type { BlobStore } from "../../src/blob/blob-store.js";
import { createLocalBlobStore } from "../../src/blob/local-blob-store.js";
import { createS3BlobStore } from "../../src/blob/s3-blob-store.js";

/** A started backend and its teardown (which always runs every step, even after a failure). */
export interface BlobBackend {
  readonly store: BlobStore;
  /** Leftover in-flight upload files, for backends that have them (local). */
  readonly tempFiles?: () => Promise<string[]>;
  teardown(): Promise<void>;
}

export const BACKENDS: ReadonlyArray<[name: "local" | "s3", start: () => Promise<BlobBackend>]> = [
  [
    "local",
    async () => {
      const root = await mkdtemp(join(tmpdir(), "files-local-"));
      const store = await createLocalBlobStore({ root });
      return {
        store,
        tempFiles: () => readdir(join(root, ".tmp")),
        async teardown() {
          try {
            await store.close();
          } finally {
            await rm(root, { recursive: true, force: true });
          }
        },
      };
    },
  ],
  [
    "s3",
    async () => {
      const directory = await mkdtemp(join(tmpdir(), "files-s3rver-"));
      const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
      let store: BlobStore | undefined;
      const teardown = async (): Promise<void> => {
        try {
          await store?.close();
        } finally {
          try {
            await server.close();
          } finally {
            await rm(directory, { recursive: true, force: true });
          }
        }
      };
      try {
        const { port } = await server.run();
        store = await createS3BlobStore({
          endPoint: "127.0.0.1",
          port,
          useSSL: false,
          accessKey: "S3RVER",
          secretKey: "S3RVER",
          region: "us-east-1",
          bucket: "memos-files",
          pathStyle: true,
          // Keys live under a folder of the bucket, as when one bucket serves several deployments.
          prefix: "deploy-a/",
        });
      } catch (err) {
        await teardown();
        throw err;
      }
      return { store, teardown };
    },
  ],
];
