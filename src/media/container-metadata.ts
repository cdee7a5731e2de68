/**
 * Lossless metadata removal for containers whose metadata lives in separate chunks (PNG, WebP)
 * and a check of whether a JPEG carries any. Nothing here decodes pixels, so it is fast and the
 * image data stays bit-identical (a lossless PNG or WebP stays lossless, an animation keeps its
 * frames).
 */

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * PNG chunks that carry only metadata: text (`tEXt`, `zTXt`, `iTXt`: author, comments, software,
 * sometimes GPS written by apps), EXIF (`eXIf`) and the last-modified time (`tIME`). Colour chunks
 * (`iCCP`, `sRGB`, `cICP`, `mDCv`, `cLLi`, `gAMA`, `cHRM`) and animation chunks stay.
 */
const PNG_METADATA_CHUNKS = new Set(["tEXt", "zTXt", "iTXt", "eXIf", "tIME"]);

/**
 * `png` without its metadata chunks and without anything after `IEND`; the same buffer when it
 * has none; `undefined` when `png` is not a well-formed chunk sequence (the caller then keeps the
 * original bytes). CRCs are not recomputed: kept chunks are copied verbatim.
 */
export function stripPngMetadataChunks(png: Buffer): Buffer | undefined {
  if (png.length < PNG_SIGNATURE.length || !png.subarray(0, 8).equals(PNG_SIGNATURE)) return undefined;
  const kept: Buffer[] = [png.subarray(0, 8)];
  let offset = 8;
  let dropped = false;
  let sawEnd = false;
  while (offset < png.length) {
    if (offset + 12 > png.length) return undefined;
    const length = png.readUInt32BE(offset);
    const type = png.toString("latin1", offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (length > 0x7fffffff || end > png.length || !/^[A-Za-z]{4}$/.test(type)) return undefined;
    if (PNG_METADATA_CHUNKS.has(type)) dropped = true;
    else kept.push(png.subarray(offset, end));
    offset = end;
    if (type === "IEND") {
      sawEnd = true;
      break;
    }
  }
  if (!sawEnd) return undefined;
  if (!dropped && offset === png.length) return png;
  return Buffer.concat(kept);
}

/** VP8X flag bits (WebP container spec). */
const VP8X_EXIF = 0x08;
const VP8X_XMP = 0x04;

/**
 * `webp` without its `EXIF` and `XMP ` chunks (and their VP8X flags), with the RIFF size fixed
 * and any bytes past the RIFF end dropped; the same buffer when there is nothing to remove;
 * `undefined` when it is not a well-formed RIFF/WEBP file. The ICC profile (`ICCP`) stays.
 */
export function stripWebpMetadataChunks(webp: Buffer): Buffer | undefined {
  if (webp.length < 20 || webp.toString("latin1", 0, 4) !== "RIFF" || webp.toString("latin1", 8, 12) !== "WEBP") {
    return undefined;
  }
  const riffEnd = 8 + webp.readUInt32LE(4);
  if (riffEnd > webp.length) return undefined;
  const kept: Buffer[] = [];
  let dropped = false;
  let offset = 12;
  while (offset < riffEnd) {
    if (offset + 8 > riffEnd) return undefined;
    const fourcc = webp.toString("latin1", offset, offset + 4);
    const size = webp.readUInt32LE(offset + 4);
    const dataEnd = offset + 8 + size;
    if (dataEnd > riffEnd) return undefined;
    const end = Math.min(dataEnd + (size & 1), riffEnd);
    if (fourcc === "EXIF" || fourcc === "XMP ") dropped = true;
    else kept.push(end - offset === 8 + size + (size & 1) ? webp.subarray(offset, end) : Buffer.concat([webp.subarray(offset, dataEnd), Buffer.alloc(1)]));
    offset = end;
  }
  if (!dropped && riffEnd === webp.length) return webp;
  const body = kept.map((chunk) => {
    if (chunk.toString("latin1", 0, 4) !== "VP8X" || chunk.length < 9) return chunk;
    const copy = Buffer.from(chunk);
    copy[8] = copy[8]! & ~(VP8X_EXIF | VP8X_XMP);
    return copy;
  });
  const header = Buffer.alloc(12);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(4 + body.reduce((n, c) => n + c.length, 0), 4);
  header.write("WEBP", 8, "latin1");
  return Buffer.concat([header, ...body]);
}

/** Whether a WebP file's image data is lossless (`VP8L`), so a re-encode should stay lossless. */
export function isLosslessWebp(webp: Buffer): boolean {
  let offset = 12;
  while (offset + 8 <= webp.length) {
    const fourcc = webp.toString("latin1", offset, offset + 4);
    if (fourcc === "VP8L") return true;
    if (fourcc === "VP8 ") return false;
    const size = webp.readUInt32LE(offset + 4);
    offset += 8 + size + (size & 1);
  }
  return false;
}

/**
 * Whether a JPEG may carry metadata worth removing: any APPn segment other than JFIF (APP0), an
 * ICC profile (APP2 `ICC_PROFILE`) or Adobe's colour-transform marker (APP14), any comment (COM),
 * or bytes after the final EOI (secondary images of MPF/Ultra HDR files, embedded videos, which
 * may hold their own EXIF). Looks only at the header segments up to the first scan. Answers true
 * when unsure (a malformed header), so the caller re-encodes.
 */
export function jpegMayCarryMetadata(jpeg: Buffer): boolean {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return true;
  if (jpeg[jpeg.length - 2] !== 0xff || jpeg[jpeg.length - 1] !== 0xd9) return true;
  let offset = 2;
  while (offset + 4 <= jpeg.length) {
    if (jpeg[offset] !== 0xff) return true;
    const marker = jpeg[offset + 1]!;
    if (marker === 0xff) {
      offset++; // fill byte
      continue;
    }
    if (marker === 0xda) return false; // start of scan: the header is over
    const length = jpeg.readUInt16BE(offset + 2);
    if (length < 2 || offset + 2 + length > jpeg.length) return true;
    if (marker === 0xfe) return true; // COM
    if (marker >= 0xe1 && marker <= 0xef) {
      const id = jpeg.toString("latin1", offset + 4, offset + 4 + Math.min(12, length - 2));
      const harmless = (marker === 0xe2 && id.startsWith("ICC_PROFILE\0")) || (marker === 0xee && id.startsWith("Adobe"));
      if (!harmless) return true;
    }
    offset += 2 + length;
  }
  return true;
}
