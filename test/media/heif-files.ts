/**
 * Hand-built HEIF files laid out like a phone's HEIC: `ftyp`, a `meta` box (hdlr `pict`, pitm,
 * iinf, iloc, optional idat, iref, iprp with hvcC/ispe/irot), then `mdat` with the image, Exif
 * (GPS included) and XMP payloads. The image bytes are a placeholder: nothing here decodes pixels.
 * The builder records where each payload landed, so tests can tell metadata bytes from the rest.
 */
import exifr from "exifr";
import sharp from "sharp";
import type { ByteRange } from "../../src/media/heif-metadata.js";
import { tiffWithExif } from "./images.js";

/** An XMP packet with a GPS position and a private description. */
export const GPS_XMP =
  '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' +
  '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
  '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" ' +
  'exif:GPSLatitude="48,51.4N" exif:GPSLongitude="2,21.05E"><dc:description>SecretPlace, 12 Home Street</dc:description>' +
  '</rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>';

/** Exif item payload: exif_tiff_header_offset 6, "Exif\0\0", then a TIFF with Make "Acme", orientation 6 and GPS 48°51'24" N 2°21'3" E. */
export function gpsExifPayload(): Buffer {
  const offset = Buffer.alloc(4);
  offset.writeUInt32BE(6);
  return Buffer.concat([offset, Buffer.from("Exif\0\0", "latin1"), tiffWithExif(6)]);
}

export function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length);
  head.write(type, 4, "latin1");
  return Buffer.concat([head, body]);
}

export function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version << 24) | flags) >>> 0);
  return box(type, vf, ...payload);
}

export function u8(n: number): Buffer {
  return Buffer.from([n]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** An unsigned integer of 0, 4 or 8 bytes. */
export function uint(size: number, n: number): Buffer {
  if (size === 0) return Buffer.alloc(0);
  if (size === 4) return u32(n);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

const cstr = (s: string) => Buffer.from(`${s}\0`, "utf8");

/** Options of {@link buildHeic}; every field has a phone-like default. */
export interface HeicOptions {
  /** `ftyp` major brand. @default "heic" */
  readonly brand?: string;
  /** @default 1 */
  readonly ilocVersion?: 0 | 1 | 2;
  /** @default 4 */
  readonly offsetSize?: 4 | 8;
  /** @default 4 */
  readonly lengthSize?: 4 | 8;
  /** @default 0 */
  readonly baseOffsetSize?: 0 | 4 | 8;
  /** index_size of iloc versions 1 and 2 (extent_index is written as 0). @default 0 */
  readonly indexSize?: 0 | 4 | 8;
  /** `infe` version 2 (16-bit ids) or 3 (32-bit ids). @default 2 */
  readonly infeVersion?: 2 | 3;
  /** Where the Exif payload is: `file` (construction method 0, in mdat) or `idat` (method 1). @default "file" */
  readonly exifIn?: "file" | "idat";
  /** Split the Exif payload into this many extents. @default 1 */
  readonly exifExtents?: number;
  /** Include an XMP item. @default true */
  readonly xmp?: boolean;
  /** `irot` angle in 90° anticlockwise steps; null: no irot property. @default 1 */
  readonly irot?: number | null;
  /** mdat header: 32-bit size, `large` (size 1 + 64-bit size) or `zero` (size 0: to end of file). @default "normal" */
  readonly mdatSize?: "normal" | "large" | "zero";
  /** Stored image size (ispe). @default [64, 48] */
  readonly size?: readonly [number, number];
  /** Item ids of the image, Exif and XMP items. @default [1, 2, 3] */
  readonly ids?: readonly [number, number, number];
}

/** A built file and where its parts are. */
export interface BuiltHeif {
  readonly file: Buffer;
  /** Bytes of the Exif item (all extents). */
  readonly exif: readonly ByteRange[];
  /** Bytes of the XMP item. */
  readonly xmp: readonly ByteRange[];
  /** The coded image (placeholder) bytes. */
  readonly image: ByteRange;
  /** The `meta` box. */
  readonly meta: ByteRange;
  /** The `irot` property box, when there is one. */
  readonly irot?: ByteRange;
}

/** A minimal HEVC decoder configuration (hvcC) with no parameter-set arrays. */
function hvcC(): Buffer {
  return box(
    "hvcC",
    Buffer.from([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 90, 0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0]),
  );
}

/**
 * A structurally valid HEIC (or, with `brand`, another HEIF brand) with an `hvc1` primary image,
 * an Exif item carrying GPS, and an XMP item carrying GPS.
 */
export function buildHeic(options: HeicOptions = {}): BuiltHeif {
  const v = options.ilocVersion ?? 1;
  const offsetSize = options.offsetSize ?? 4;
  const lengthSize = options.lengthSize ?? 4;
  const baseOffsetSize = options.baseOffsetSize ?? 0;
  const indexSize = v === 0 ? 0 : (options.indexSize ?? 0);
  const infeVersion = options.infeVersion ?? 2;
  const exifIn = options.exifIn ?? "file";
  const exifParts = Math.max(1, options.exifExtents ?? 1);
  const withXmp = options.xmp ?? true;
  const [width, height] = options.size ?? [64, 48];
  const [imageId, exifId, xmpId] = options.ids ?? [1, 2, 3];

  const image = Buffer.concat([u32(12), Buffer.from("placeholder-hevc-slice-data", "latin1"), Buffer.alloc(32, 0xa5)]);
  const exif = gpsExifPayload();
  const xmp = Buffer.from(GPS_XMP, "utf8");

  const ftyp = box("ftyp", Buffer.from(options.brand ?? "heic", "latin1"), u32(0), Buffer.from("mif1heicmiaf", "latin1"));
  const itemId = (id: number) => (infeVersion === 2 ? u16(id) : u32(id));
  const infe = (id: number, type: string, name: string, extra = Buffer.alloc(0)) =>
    fullBox("infe", infeVersion, 0, itemId(id), u16(0), Buffer.from(type, "latin1"), cstr(name), extra);
  const infes = [infe(imageId, "hvc1", ""), infe(exifId, "Exif", "")];
  if (withXmp) infes.push(infe(xmpId, "mime", "", cstr("application/rdf+xml")));
  const iinf = fullBox("iinf", 0, 0, u16(infes.length), ...infes);

  // Exif extents: split into `exifParts` pieces of the payload.
  const exifPieces: Buffer[] = [];
  const step = Math.ceil(exif.length / exifParts);
  for (let at = 0; at < exif.length; at += step) exifPieces.push(exif.subarray(at, at + step));

  const idatPayload = exifIn === "idat" ? Buffer.concat([Buffer.from("pad!", "latin1"), exif]) : Buffer.alloc(0);
  const idat = exifIn === "idat" ? box("idat", idatPayload) : Buffer.alloc(0);

  const itemIdL = (id: number) => (v < 2 ? u16(id) : u32(id));
  type Loc = { id: number; method: number; base: number; extents: Array<[offset: number, length: number]> };
  const ilocBox = (locs: Loc[]) =>
    fullBox(
      "iloc",
      v,
      0,
      u8((offsetSize << 4) | lengthSize),
      u8((baseOffsetSize << 4) | indexSize),
      v < 2 ? u16(locs.length) : u32(locs.length),
      ...locs.map((l) =>
        Buffer.concat([
          itemIdL(l.id),
          v === 0 ? Buffer.alloc(0) : u16(l.method),
          u16(0),
          uint(baseOffsetSize, l.base),
          u16(l.extents.length),
          ...l.extents.map(([o, len]) => Buffer.concat([uint(indexSize, 0), uint(offsetSize, o), uint(lengthSize, len)])),
        ]),
      ),
    );

  const angle = options.irot === undefined ? 1 : options.irot;
  const hasIrot = angle !== null;
  const ipco = box("ipco", hvcC(), fullBox("ispe", 0, 0, u32(width), u32(height)), ...(angle === null ? [] : [box("irot", u8(angle & 3))]));
  const assoc = [0x81, 0x02, ...(hasIrot ? [0x83] : [])];
  // Ids past 16 bits need the 32-bit versions of ipma, iref and pitm.
  const wide = Math.max(imageId, exifId, xmpId) > 0xffff;
  const id32 = (id: number) => (wide ? u32(id) : u16(id));
  const ipma = fullBox("ipma", wide ? 1 : 0, 0, u32(1), id32(imageId), u8(assoc.length), Buffer.from(assoc));
  const iprp = box("iprp", ipco, ipma);
  const iref = fullBox("iref", wide ? 1 : 0, 0, box("cdsc", id32(exifId), u16(1), id32(imageId)), ...(withXmp ? [box("cdsc", id32(xmpId), u16(1), id32(imageId))] : []));
  const hdlr = fullBox("hdlr", 0, 0, u32(0), Buffer.from("pict", "latin1"), Buffer.alloc(12), cstr(""));
  const pitm = fullBox("pitm", wide ? 1 : 0, 0, id32(imageId));

  // Two passes: the iloc size does not depend on the offsets, so the first pass fixes the layout.
  const layout = (mdatStart: number) => {
    const mdatHeader = options.mdatSize === "large" ? 16 : 8;
    const dataStart = mdatStart + mdatHeader;
    // The mdat holds: image, gap, exif pieces (in reverse order, so extents are not contiguous), gap, xmp.
    const gap = Buffer.from("--gap--", "latin1");
    const parts: Buffer[] = [image, gap];
    let at = dataStart + image.length + gap.length;
    const exifLocs: Array<[number, number]> = [];
    if (exifIn === "file") {
      const placed = exifPieces.map(() => 0);
      for (let i = exifPieces.length - 1; i >= 0; i--) {
        placed[i] = at;
        parts.push(exifPieces[i]!, gap);
        at += exifPieces[i]!.length + gap.length;
      }
      exifPieces.forEach((piece, i) => exifLocs.push([placed[i]!, piece.length]));
    }
    const xmpAt = at;
    if (withXmp) {
      parts.push(xmp, gap);
      at += xmp.length + gap.length;
    }
    const base = baseOffsetSize > 0 ? dataStart : 0;
    const locs: Loc[] = [{ id: imageId, method: 0, base, extents: [[dataStart - base, image.length]] }];
    if (exifIn === "file") locs.push({ id: exifId, method: 0, base, extents: exifLocs.map(([o, l]) => [o - base, l]) });
    else locs.push({ id: exifId, method: 1, base: 0, extents: [[4, exif.length]] });
    if (withXmp) locs.push({ id: xmpId, method: 0, base, extents: [[xmpAt - base, xmp.length]] });
    if (v === 0 && exifIn === "idat") throw new Error("iloc version 0 has no construction method");
    const meta = fullBox("meta", 0, 0, hdlr, pitm, iinf, ilocBox(locs), idat, iref, iprp);
    const mdatBody = Buffer.concat(parts);
    let mdat: Buffer;
    if (options.mdatSize === "large") {
      const head = Buffer.alloc(16);
      head.writeUInt32BE(1);
      head.write("mdat", 4, "latin1");
      head.writeBigUInt64BE(BigInt(16 + mdatBody.length), 8);
      mdat = Buffer.concat([head, mdatBody]);
    } else if (options.mdatSize === "zero") {
      mdat = Buffer.concat([u32(0), Buffer.from("mdat", "latin1"), mdatBody]);
    } else {
      mdat = box("mdat", mdatBody);
    }
    return { meta, mdat, exifLocs, xmpAt, dataStart };
  };
  const first = layout(0);
  const mdatStart = ftyp.length + first.meta.length;
  const { meta, mdat, exifLocs, xmpAt, dataStart } = layout(mdatStart);
  if (meta.length !== first.meta.length) throw new Error("iloc size changed between passes");
  const file = Buffer.concat([ftyp, meta, mdat]);

  const metaStart = ftyp.length;
  let exifRanges: ByteRange[];
  if (exifIn === "file") exifRanges = exifLocs.map(([o, l]) => ({ start: o, end: o + l }));
  else {
    const idatAt = file.indexOf(idat, metaStart);
    exifRanges = [{ start: idatAt + 8 + 4, end: idatAt + 8 + 4 + exif.length }];
  }
  const irotAt = hasIrot ? file.indexOf(Buffer.from("irot", "latin1"), metaStart) - 4 : -1;
  return {
    file,
    exif: exifRanges,
    xmp: withXmp ? [{ start: xmpAt, end: xmpAt + xmp.length }] : [],
    image: { start: dataStart, end: dataStart + image.length },
    meta: { start: metaStart, end: metaStart + meta.length },
    ...(irotAt >= 0 ? { irot: { start: irotAt, end: irotAt + 9 } } : {}),
  };
}

/**
 * The GPS position libheif (through sharp) reads from a HEIF's Exif item, decoded by exifr; it
 * follows every iloc layout (base offsets, idat, several extents), which exifr's own HEIF reader
 * does not.
 */
export async function libheifGps(file: Buffer): Promise<{ latitude: number; longitude: number } | undefined> {
  const { exif } = await sharp(file, { limitInputPixels: false }).metadata();
  if (exif === undefined) return undefined;
  const tiff = exif.subarray(0, 6).toString("latin1") === "Exif\0\0" ? exif.subarray(6) : exif;
  return (await exifr.gps(tiff).catch(() => undefined)) ?? undefined;
}

/** Whether byte `at` lies in one of `ranges`. */
export function inRanges(at: number, ranges: readonly ByteRange[]): boolean {
  return ranges.some((r) => at >= r.start && at < r.end);
}

/** Offsets at which `a` and `b` (same length) differ. */
export function differingOffsets(a: Buffer, b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}
