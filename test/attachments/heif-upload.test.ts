/**
 * HEIC/AVIF uploads end to end (spec §4.3 step 10): a phone-like HEIC carrying GPS in Exif and
 * XMP, uploaded through binary Connect CreateAttachment, REST JSON and the streaming multipart
 * upload, comes back from /file without any GPS, byte for byte the upload outside the metadata,
 * with `size` equal to the bytes served. A HEIF the scrubber cannot parse is still stored (and
 * the failure logged).
 */
import exifr from "exifr";
import sharp from "sharp";
import { signUpAndIn } from "../auth/support.js";
import { buildHeic, differingOffsets, inRanges, libheifGps } from "../media/heif-files.js";
import { CAMERA_EXIF, canvas } from "../media/images.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { attachmentClients, rest, type AttachmentClients } from "./support.js";

let t: TestApp;
let token: string;
let c: AttachmentClients;

beforeAll(async () => {
  t = await startTestApp();
  try {
    token = (await signUpAndIn(t.baseUrl)).accessToken;
    c = attachmentClients(t.baseUrl, token);
  } catch (err) {
    await t.close();
    throw err;
  }
});

afterAll(async () => {
  await t?.close();
});

/** The stored bytes, as /file serves them to the owner. */
async function download(name: string): Promise<Buffer> {
  const res = await fetch(`${t.baseUrl}/file/attachments/${name.slice("attachments/".length)}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function storedSize(name: string): Promise<number> {
  const row = await t.app.database.db.selectFrom("attachment").select("size").where("uid", "=", name.slice("attachments/".length)).executeTakeFirstOrThrow();
  return Number(row.size);
}

/** Checks a stored HEIC against the upload: no GPS, same length, only metadata bytes changed. */
async function expectScrubbed(name: string, built: ReturnType<typeof buildHeic>): Promise<void> {
  const stored = await download(name);
  expect(stored.length).toBe(built.file.length);
  expect(await storedSize(name)).toBe(stored.length);
  expect(await libheifGps(stored)).toBeUndefined();
  expect(stored.includes("Acme")).toBe(false);
  expect(stored.includes("SecretPlace")).toBe(false);
  expect(stored.equals(built.file)).toBe(false);
  expect(differingOffsets(built.file, stored).filter((at) => !inRanges(at, [...built.exif, ...built.xmp]))).toEqual([]);
  expect(await sharp(stored).metadata()).toMatchObject({ format: "heif", compression: "hevc", width: 48, height: 64 });
}

test("binary Connect CreateAttachment: an iPhone-like .HEIC with GPS is stored without it", async () => {
  const built = buildHeic();
  expect(await exifr.gps(built.file)).toMatchObject({ latitude: expect.closeTo(48.8567, 3), longitude: expect.closeTo(2.3508, 3) });
  const a = await c.attachments.createAttachment({ attachment: { filename: "IMG_0001.HEIC", content: built.file } });
  expect(a.type).toBe("image/heic");
  expect(a.size).toBe(BigInt(built.file.length));
  expect([a.mediaMetadata?.width, a.mediaMetadata?.height]).toEqual([48, 64]);
  await expectScrubbed(a.name, built);
});

test("REST JSON CreateAttachment (base64 content, declared image/heif)", async () => {
  const built = buildHeic({ exifIn: "idat", baseOffsetSize: 4 });
  expect(await libheifGps(built.file)).toBeDefined();
  const res = await rest(t.baseUrl, "POST", "/api/v1/attachments", {
    token,
    body: { filename: "photo", type: "image/heif", content: built.file.toString("base64") },
  });
  expect(res.status).toBe(200);
  expect(res.json).toMatchObject({ type: "image/heif", size: String(built.file.length) });
  await expectScrubbed(res.json.name as string, built);
});

test("streaming multipart upload: the blob is rewritten in place with the scrubbed bytes", async () => {
  const built = buildHeic({ exifExtents: 3, mdatSize: "large" });
  expect(await libheifGps(built.file)).toBeDefined();
  const form = new FormData();
  form.set("file", new Blob([built.file], { type: "image/heic" }), "IMG_0002.heic");
  const res = await fetch(`${t.baseUrl}/api/v1/attachments:upload`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: form });
  const json = (await res.json()) as Record<string, unknown>;
  expect(res.status).toBe(200);
  expect(json).toMatchObject({ type: "image/heic", size: String(built.file.length) });
  await expectScrubbed(json.name as string, built);
});

test("an .avif upload loses its Exif GPS, pixels untouched", async () => {
  const avif = await canvas(40, 20).heif({ compression: "av1", quality: 60 }).withExif(CAMERA_EXIF).toBuffer();
  expect(avif.includes("Acme")).toBe(true);
  const a = await c.attachments.createAttachment({ attachment: { filename: "shot.avif", content: avif } });
  expect(a.type).toBe("image/avif");
  const stored = await download(a.name);
  expect(stored.length).toBe(avif.length);
  expect(a.size).toBe(BigInt(stored.length));
  expect(stored.includes("Acme")).toBe(false);
  expect(await libheifGps(avif)).toBeDefined();
  expect(await libheifGps(stored)).toBeUndefined();
  const [before, after] = await Promise.all([sharp(avif).raw().toBuffer(), sharp(stored).raw().toBuffer()]);
  expect(after.equals(before)).toBe(true);
});

test("a HEIC the scrubber cannot parse is stored as uploaded, and the failure is logged", async () => {
  const built = buildHeic();
  const file = Buffer.from(built.file);
  // The Exif item's extent length set to 0 ("all the referenced data"): refused, never guessed.
  file.writeUInt32BE(0, file.indexOf("iloc", 0, "latin1") + 4 + 8 + 16 + 12);
  const a = await c.attachments.createAttachment({ attachment: { filename: "odd.heic", content: file } });
  expect(a.size).toBe(BigInt(file.length));
  expect((await download(a.name)).equals(file)).toBe(true);
  expect(t.logs).toContainEqual(expect.objectContaining({ msg: "image metadata not stripped; storing the original bytes", type: "image/heic", reason: "unreadable" }));
});
