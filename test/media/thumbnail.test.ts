import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import type { BlobStore } from "../../src/blob/blob-store.js";
import { createLocalBlobStore } from "../../src/blob/local-blob-store.js";
import { createLimiter } from "../../src/media/limiter.js";
import { createMetadataStripper } from "../../src/media/strip-metadata.js";
import {
  createThumbnailer,
  derivedPrefix,
  hasHdrOrWideGamutMarkers,
  renderThumbnail,
  thumbnailKey,
  type ThumbnailResult,
  type ThumbnailSource,
} from "../../src/media/thumbnail.js";
import { canvas, jpegBomb, jpegWithExif, pngBomb } from "./images.js";

let root: string;
let blobs: BlobStore;
let nextId = 1;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "thumbs-"));
  blobs = await createLocalBlobStore({ root });
});

afterAll(async () => {
  await blobs?.close();
  await rm(root, { recursive: true, force: true });
});

/** A fresh attachment whose original is stored in the blob store. */
async function attachment(bytes: Buffer, type = "image/jpeg"): Promise<ThumbnailSource & { originalKey: string; opened: number }> {
  const uid = randomUUID();
  const originalKey = `assets/${uid}`;
  await blobs.put(originalKey, bytes);
  const source = {
    id: nextId++,
    uid,
    type,
    originalKey,
    opened: 0,
    open: async () => {
      source.opened++;
      return blobs.get(originalKey);
    },
  };
  return source;
}

async function thumbnailBytes(result: ThumbnailResult): Promise<Buffer> {
  if (result.kind !== "thumbnail") throw new Error(`expected a thumbnail, got ${result.reason}: ${String(result.error)}`);
  const chunks: Buffer[] = [];
  for await (const chunk of await blobs.get(result.key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("thumbnails", () => {
  test("fits the longest side to 600 px, JPEG, stored beside the original under the derived prefix", async () => {
    const src = await attachment(await canvas(1200, 800).png().toBuffer(), "image/png");
    const thumbnails = createThumbnailer({ blobs });
    const result = await thumbnails.get(src);
    expect(result).toMatchObject({ kind: "thumbnail", key: thumbnailKey(src.uid, src.id) });
    expect(thumbnailKey(src.uid, src.id).startsWith(derivedPrefix(src.uid))).toBe(true);
    const meta = await sharp(await thumbnailBytes(result)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 600, 400]);
    expect(meta.exif).toBeUndefined();
  });

  test("applies the EXIF orientation and keeps small images at their size", async () => {
    const thumbnails = createThumbnailer({ blobs });
    const rotated = await thumbnails.get(await attachment(await jpegWithExif(1000, 500, 6)));
    const r = await sharp(await thumbnailBytes(rotated)).metadata();
    expect([r.width, r.height]).toEqual([300, 600]);
    const small = await thumbnails.get(await attachment(await canvas(100, 50).webp().toBuffer(), "image/webp"));
    const s = await sharp(await thumbnailBytes(small)).metadata();
    expect([s.format, s.width, s.height]).toEqual(["jpeg", 100, 50]);
  });

  test("the second request reads the stored thumbnail without generating again", async () => {
    let generations = 0;
    const thumbnails = createThumbnailer({ blobs, onGenerate: () => generations++ });
    const src = await attachment(await jpegWithExif(800, 600, 1));
    const first = await thumbnails.get(src);
    const second = await thumbnails.get(src);
    expect(generations).toBe(1);
    expect(src.opened).toBe(1);
    expect(second).toMatchObject({ kind: "thumbnail", key: (first as { key: string }).key });
  });

  test("100 concurrent first requests cause one generation (single-flight)", async () => {
    let generations = 0;
    const thumbnails = createThumbnailer({ blobs, onGenerate: () => generations++ });
    const src = await attachment(await jpegWithExif(1600, 1200, 1));
    const results = await Promise.all(Array.from({ length: 100 }, () => thumbnails.get(src)));
    expect(generations).toBe(1);
    expect(src.opened).toBe(1);
    expect(new Set(results.map((r) => (r.kind === "thumbnail" ? r.key : r.reason)))).toEqual(new Set([thumbnailKey(src.uid, src.id)]));
    expect(thumbnails.inFlight).toBe(0);
  });

  test("two replicas on one store: the second finds the first's thumbnail", async () => {
    let generations = 0;
    const a = createThumbnailer({ blobs, onGenerate: () => generations++ });
    const b = createThumbnailer({ blobs, onGenerate: () => generations++ });
    const src = await attachment(await jpegWithExif(900, 600, 1));
    await a.get(src);
    expect(await b.get(src)).toMatchObject({ kind: "thumbnail" });
    expect(generations).toBe(1);
    // Racing replicas may both generate; both succeed and one thumbnail remains.
    const raced = await attachment(await jpegWithExif(900, 600, 1));
    const both = await Promise.all([a.get(raced), b.get(raced)]);
    expect(both.every((r) => r.kind === "thumbnail")).toBe(true);
    const keys: string[] = [];
    for await (const key of blobs.list(derivedPrefix(raced.uid))) keys.push(key);
    expect(keys).toEqual([thumbnailKey(raced.uid, raced.id)]);
  });

  test("never more than N generations at once", async () => {
    let running = 0;
    let peak = 0;
    const thumbnails = createThumbnailer({
      blobs,
      limiter: createLimiter({ concurrency: 3 }),
      render: async (original, options) => {
        running++;
        peak = Math.max(peak, running);
        try {
          await new Promise((r) => setTimeout(r, 20));
          return await renderThumbnail(original, options);
        } finally {
          running--;
        }
      },
    });
    const image = await canvas(300, 200).jpeg().toBuffer();
    const sources = await Promise.all(Array.from({ length: 12 }, () => attachment(image)));
    const results = await Promise.all(sources.map((s) => thumbnails.get(s)));
    expect(results.every((r) => r.kind === "thumbnail")).toBe(true);
    expect(peak).toBe(3);
  });

  test("one limiter shared with the metadata stripper bounds all image work together", async () => {
    const limiter = createLimiter({ concurrency: 1 });
    let running = 0;
    let peak = 0;
    const tracked = async <T>(work: () => Promise<T>): Promise<T> => {
      running++;
      peak = Math.max(peak, running);
      try {
        await new Promise((r) => setTimeout(r, 10));
        return await work();
      } finally {
        running--;
      }
    };
    const thumbnails = createThumbnailer({ blobs, limiter, render: (o, opts) => tracked(() => renderThumbnail(o, opts)) });
    const stripper = createMetadataStripper({ limiter });
    const image = await jpegWithExif(300, 200, 6);
    const sources = await Promise.all(Array.from({ length: 4 }, () => attachment(image)));
    const strips = Array.from({ length: 4 }, () => limiter.run(() => tracked(async () => undefined)).then(() => stripper.strip({ body: image, type: "image/jpeg" })));
    const results = await Promise.all([...sources.map((s) => thumbnails.get(s)), ...strips]);
    expect(results).toHaveLength(8);
    expect(peak).toBe(1);
  });

  test("a generation error serves the original, and the decision is remembered", async () => {
    let generations = 0;
    const thumbnails = createThumbnailer({ blobs, onGenerate: () => generations++ });
    const broken = await attachment(Buffer.concat([(await jpegWithExif(400, 300, 1)).subarray(0, 600)]));
    expect(await thumbnails.get(broken)).toMatchObject({ kind: "original" });
    expect(await thumbnails.get(broken)).toMatchObject({ kind: "original", reason: "remembered" });
    expect(broken.opened).toBe(1);

    const failing = createThumbnailer({
      blobs,
      render: () => Promise.reject(new Error("encoder exploded")),
    });
    expect(await failing.get(await attachment(await canvas(50, 50).png().toBuffer(), "image/png"))).toMatchObject({
      kind: "original",
      reason: "undecodable",
    });
    expect(generations).toBeLessThanOrEqual(1);
  });

  test("an unreadable original serves the original without remembering it", async () => {
    const thumbnails = createThumbnailer({ blobs });
    const src = await attachment(await canvas(50, 50).png().toBuffer(), "image/png");
    const flaky = { ...src, open: () => Promise.reject(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })) };
    expect(await thumbnails.get(flaky)).toMatchObject({ kind: "original", reason: "failed" });
    expect(await thumbnails.get(src)).toMatchObject({ kind: "thumbnail" });
  });

  test("HDR and wide-gamut images serve the original (ICC profile, gain-map names)", async () => {
    const p3 = await canvas(800, 600).jpeg().withIccProfile("p3").toBuffer();
    expect(hasHdrOrWideGamutMarkers(p3)).toBe(true);
    const thumbnails = createThumbnailer({ blobs });
    expect(await thumbnails.get(await attachment(p3))).toMatchObject({ kind: "original", reason: "hdr" });
    expect(hasHdrOrWideGamutMarkers(Buffer.from("<x hdrgm:Version='1.0'/>"))).toBe(true);
    expect(hasHdrOrWideGamutMarkers(Buffer.from("Rec.2020 primaries"))).toBe(true);
    expect(hasHdrOrWideGamutMarkers(Buffer.from("icc_profile"))).toBe(false); // case-sensitive marker
  });

  test("HEIC/HEIF and other types are served as originals without reading anything", async () => {
    const thumbnails = createThumbnailer({ blobs });
    for (const type of ["image/heic", "image/heif", "image/gif", "image/svg+xml", "application/pdf"]) {
      const src = await attachment(Buffer.from("x"), type);
      expect(await thumbnails.get(src)).toMatchObject({ kind: "original", reason: "unsupported-type" });
      expect(src.opened).toBe(0);
    }
  });

  test.each([
    ["PNG", () => Promise.resolve(pngBomb()), "image/png"],
    ["JPEG", () => jpegBomb(), "image/jpeg"],
  ])("a 30000x30000 %s bomb is refused from its header", async (_name, make, type) => {
    let generations = 0;
    const thumbnails = createThumbnailer({ blobs, onGenerate: () => generations++ });
    const started = performance.now();
    expect(await thumbnails.get(await attachment(await make(), type))).toMatchObject({ kind: "original", reason: "too-large" });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(generations).toBe(0);
  });

  test("originals above the byte cap are never read into memory", async () => {
    const thumbnails = createThumbnailer({ blobs, maxSourceBytes: 1024 });
    expect(await thumbnails.get(await attachment(await canvas(600, 600).png({ compressionLevel: 0 }).toBuffer(), "image/png"))).toMatchObject({
      kind: "original",
      reason: "too-large",
    });
  });

  test("deleting the derived prefix removes every derived object of the attachment only", async () => {
    const thumbnails = createThumbnailer({ blobs });
    const kept = await attachment(await canvas(700, 100).png().toBuffer(), "image/png");
    const gone = await attachment(await canvas(700, 100).png().toBuffer(), "image/png");
    const broken = await attachment(Buffer.from("not an image"), "image/png");
    await Promise.all([thumbnails.get(kept), thumbnails.get(gone), thumbnails.get(broken)]);
    await blobs.deletePrefix(derivedPrefix(gone.uid));
    await blobs.deletePrefix(derivedPrefix(broken.uid));
    expect(await blobs.stat(thumbnailKey(gone.uid, gone.id))).toBeUndefined();
    const left: string[] = [];
    for await (const key of blobs.list(derivedPrefix(broken.uid))) left.push(key);
    expect(left).toEqual([]);
    expect(await blobs.stat(thumbnailKey(kept.uid, kept.id))).toBeDefined();
    expect(await blobs.stat(gone.originalKey)).toBeDefined();
  });
});
