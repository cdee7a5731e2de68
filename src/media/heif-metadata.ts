/**
 * EXIF and XMP removal for HEIF files (HEIC, AVIF and the other ISO/IEC 23008-12 brands) without
 * decoding any image: the ISO base media file format boxes (ISO/IEC 14496-12) are walked, the
 * metadata items are found through `iinf` and located through `iloc`, and their payloads are
 * overwritten in place with empty metadata of the same length. No box, offset or length changes,
 * so the file stays valid and every other byte (image data, thumbnails, depth and gain maps,
 * colour profiles, `irot`/`imir`/`clap` properties) is untouched.
 *
 * Orientation: HEIF carries it in the transformative item properties `irot` (rotation in 90°
 * steps) and `imir` (mirroring), applied by every conforming reader. ISO/IEC 23008-12 says that
 * metadata items such as Exif are descriptive and do not affect presentation ("rotation metadata,
 * e.g. according to Annex A, is ignored in the displaying process"), and MIAF (ISO/IEC 23000-22,
 * 7.3.10.1) says transformations expressed by Exif shall be ignored by a renderer. Blanking the
 * Exif item therefore never changes how the image displays; it only removes a stale orientation
 * tag that viewers treating HEIF like JPEG would wrongly apply on top of `irot`.
 *
 * Also blanked: XMP in `uuid` boxes (top level or in `meta`), and the `udta`/`meta` boxes of an
 * image sequence's `moov` (turned into `free` boxes). Duplicated `iinf`/`iloc` boxes are all read,
 * so an item one reader finds and another does not is blanked either way.
 *
 * Not rewritten (the file is then refused, `ok: false`, and the caller keeps or re-encodes it):
 * metadata located through construction method 2 (offsets into another item), extents of length
 * 0 ("all of the referenced data"), and anything past the limits below. Metadata in boxes this
 * format does not define for it (vendor `uuid` boxes other than XMP, `free` payloads) is left.
 *
 * Every read is bounds-checked: a hostile or truncated file is answered with `ok: false` and is
 * never written to; nothing here throws.
 */

/** `ftyp` brands of HEIF image files and image sequences (ISO/IEC 23008-12, MIAF, AVIF). */
const HEIF_BRANDS = new Set(["mif1", "mif2", "msf1", "miaf", "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs", "avif", "avis"]);

/** The `uuid` box user type that holds an XMP packet (XMP specification part 3, ISO BMFF files). */
const XMP_UUID = "be7acfcb97a942e89c71999491e3afac";

/** Payload of an empty EXIF item: exif_tiff_header_offset 0, a big-endian TIFF header, IFD0 with no entry. */
const EMPTY_EXIF = Buffer.from([0, 0, 0, 0, 0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0]);

const XMP_HEAD = '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/"/>\n';
const XMP_BARE = '<x:xmpmeta xmlns:x="adobe:ns:meta/"/>';
const XMP_TAIL = '<?xpacket end="w"?>';

/**
 * Limits that keep a hostile file cheap: real files have a handful of metadata items, one
 * `meta` box and one `iinf`/`iloc` each.
 */
const MAX_METADATA_ITEMS = 4096;
const MAX_METADATA_EXTENTS = 65536;
const MAX_SAME_BOXES = 16;
/** `ipma` property indexes are at most 15 bits. */
const MAX_PROPERTIES = 0x7fff;

/** A byte range `[start, end)` of the file. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** What {@link scrubHeifMetadata} found and did. */
export type HeifScrubResult =
  | {
      readonly ok: true;
      /** The scrubbed copy, or the input itself when there was nothing to overwrite. Same length as the input. */
      readonly body: Buffer;
      /** Whether any byte differs from the input. */
      readonly changed: boolean;
      /** Exif items blanked. */
      readonly exifItems: number;
      /** XMP items (`mime` items of type application/rdf+xml) and XMP `uuid` boxes blanked. */
      readonly xmpItems: number;
      /** `udta` and `meta` boxes of an image sequence's `moov` turned into `free` boxes. */
      readonly movieBoxes: number;
      /** The ranges overwritten (item extents and `uuid` payloads), in file order. */
      readonly regions: readonly ByteRange[];
      /** The primary image's displayed size (`ispe`, then `clap` and `irot` as associated), when given. */
      readonly displaySize?: { readonly width: number; readonly height: number };
    }
  | {
      readonly ok: false;
      /**
       * `not-heif`: no `ftyp` box with a HEIF brand first; `malformed`: a box or field runs past
       * its container or the file, or a count or size field is invalid; `unsupported`: a valid
       * construct this scrubber does not rewrite (metadata located through construction method 2,
       * zero-length extents, more metadata items than the limits).
       */
      readonly reason: "not-heif" | "malformed" | "unsupported";
      readonly message: string;
    };

class HeifError extends Error {
  constructor(
    readonly reason: "malformed" | "unsupported",
    message: string,
  ) {
    super(message);
  }
}

const malformed = (message: string) => new HeifError("malformed", message);
const unsupported = (message: string) => new HeifError("unsupported", message);

/** Whether `bytes` starts with an `ftyp` box naming a HEIF brand (major or compatible). */
export function isHeifFile(bytes: Uint8Array): boolean {
  return heifBrand(asBuffer(bytes)) !== undefined;
}

/**
 * Overwrites the EXIF and XMP metadata of a HEIF file in a copy of `input`, keeping its length and
 * structure: each Exif item becomes an empty EXIF block (a TIFF header whose IFD0 has no entry)
 * followed by zeros, each XMP item or XMP `uuid` box an empty XMP packet padded with spaces, and
 * the user data of an image sequence's `moov` a `free` box. Never throws; when the file cannot be
 * parsed safely nothing is written and `ok` is false.
 */
export function scrubHeifMetadata(input: Uint8Array): HeifScrubResult {
  const file = asBuffer(input);
  if (heifBrand(file) === undefined) return { ok: false, reason: "not-heif", message: "no ftyp box with a HEIF brand" };
  let plan: Plan;
  try {
    plan = planScrub(file);
  } catch (err) {
    if (err instanceof HeifError) return { ok: false, reason: err.reason, message: err.message };
    // A bounds check missed above surfaces as a RangeError from Buffer: still a malformed file.
    return { ok: false, reason: "malformed", message: err instanceof Error ? err.message : String(err) };
  }
  const regions = plan.writes.flatMap((w) => w.ranges).sort((a, b) => a.start - b.start || a.end - b.end);
  let body = file;
  let changed = false;
  if (plan.writes.length > 0) {
    body = Buffer.from(file);
    for (const write of plan.writes) {
      const length = write.ranges.reduce((sum, r) => sum + (r.end - r.start), 0);
      const payload = write.kind === "exif" ? emptyExif(length) : write.kind === "xmp" ? emptyXmp(length) : freeBoxBytes(length);
      let at = 0;
      for (const range of write.ranges) {
        payload.copy(body, range.start, at, at + (range.end - range.start));
        at += range.end - range.start;
      }
    }
    changed = regions.some((r) => !body.subarray(r.start, r.end).equals(file.subarray(r.start, r.end)));
    if (!changed) body = file;
  }
  return {
    ok: true,
    body,
    changed,
    exifItems: plan.exifItems,
    xmpItems: plan.xmpItems,
    movieBoxes: plan.movieBoxes,
    regions,
    ...(plan.displaySize === undefined ? {} : { displaySize: plan.displaySize }),
  };
}

/** The type and payload of a `free` box: "free" then zeros, `length` bytes in all. */
function freeBoxBytes(length: number): Buffer {
  const out = Buffer.alloc(length);
  out.write("free", 0, "latin1");
  return out;
}

/** An empty EXIF item payload of exactly `length` bytes (all zeros when too short for the header). */
export function emptyExif(length: number): Buffer {
  const out = Buffer.alloc(length);
  if (length >= EMPTY_EXIF.length) EMPTY_EXIF.copy(out);
  return out;
}

/** An empty XMP packet of exactly `length` bytes, padded with spaces (only spaces when too short). */
export function emptyXmp(length: number): Buffer {
  const out = Buffer.alloc(length, 0x20);
  if (length >= XMP_HEAD.length + XMP_TAIL.length) {
    out.write(XMP_HEAD, 0, "latin1");
    out.write(XMP_TAIL, length - XMP_TAIL.length, "latin1");
  } else if (length >= XMP_BARE.length) {
    out.write(XMP_BARE, 0, "latin1");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

interface Box {
  readonly type: string;
  /** Offset of the box header. */
  readonly start: number;
  /** Offset of the payload (after size, type, largesize and the uuid user type). */
  readonly payload: number;
  readonly end: number;
  /** The 16-byte user type of a `uuid` box, as hex. */
  readonly uuid?: string;
}

interface Write {
  /** `free`: a box whose type becomes `free` and whose payload is zeroed (ranges: type, payload). */
  readonly kind: "exif" | "xmp" | "free";
  /** The item's extents in order: its payload is their concatenation. */
  readonly ranges: readonly ByteRange[];
}

interface Plan {
  readonly writes: Write[];
  exifItems: number;
  xmpItems: number;
  movieBoxes: number;
  displaySize?: { width: number; height: number };
}

/** The first box must be `ftyp` (ISO/IEC 14496-12 4.3), with a HEIF brand major or compatible. */
function heifBrand(file: Buffer): string | undefined {
  if (file.length < 16 || file.toString("latin1", 4, 8) !== "ftyp") return undefined;
  const size = file.readUInt32BE(0);
  if (size < 16 || size > file.length) return undefined;
  const brands = [file.toString("latin1", 8, 12)];
  for (let at = 16; at + 4 <= size; at += 4) brands.push(file.toString("latin1", at, at + 4));
  return brands.find((b) => HEIF_BRANDS.has(b));
}

/**
 * The boxes in `[from, to)`. Inside a container every byte must belong to a box (a box running
 * past `to` is malformed). At the top level (`lenient`), an `mdat` running past the end of a
 * truncated file, or fewer than 8 trailing bytes, end the walk instead: image data cut short is
 * no reason to keep the metadata, and extents into the missing part are still refused.
 */
function* boxesIn(file: Buffer, from: number, to: number, lenient = false): Generator<Box> {
  let at = from;
  while (at < to) {
    if (to - at < 8) {
      if (lenient) return;
      throw malformed(`${to - at} stray bytes at ${at}`);
    }
    let size = file.readUInt32BE(at);
    const type = file.toString("latin1", at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      if (to - at < 16) throw malformed(`box '${type}' at ${at}: truncated 64-bit size`);
      const large = file.readBigUInt64BE(at + 8);
      size = large > BigInt(to - at) ? Number.MAX_SAFE_INTEGER : Number(large);
      header = 16;
    } else if (size === 0) {
      size = to - at; // extends to the end of its container (the file at the top level)
    }
    let uuid: string | undefined;
    if (type === "uuid") {
      if (to - at < header + 16) throw malformed(`uuid box at ${at}: truncated user type`);
      uuid = file.toString("hex", at + header, at + header + 16);
      header += 16;
    }
    if (size < header) throw malformed(`box '${type}' at ${at}: size ${size} is smaller than its header`);
    if (size > to - at) {
      if (lenient && type === "mdat") return;
      throw malformed(`box '${type}' at ${at}: size ${size} runs past its container`);
    }
    yield { type, start: at, payload: at + header, end: at + size, ...(uuid === undefined ? {} : { uuid }) };
    at += size;
  }
}

/** A bounds-checked big-endian reader over `[pos, end)`. */
class Reader {
  constructor(
    private readonly file: Buffer,
    public pos: number,
    readonly end: number,
    private readonly what: string,
  ) {}

  get left(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    if (n > this.end - this.pos) throw malformed(`${this.what}: truncated at ${this.pos}`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.file.readUInt8(this.need(1));
  }

  u16(): number {
    return this.file.readUInt16BE(this.need(2));
  }

  u32(): number {
    return this.file.readUInt32BE(this.need(4));
  }

  /** An unsigned integer of 0, 2, 4 or 8 bytes; 8-byte values past 2^53 are malformed. */
  uint(bytes: number): number {
    switch (bytes) {
      case 0:
        return 0;
      case 2:
        return this.u16();
      case 4:
        return this.u32();
      case 8: {
        const value = this.file.readBigUInt64BE(this.need(8));
        if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`${this.what}: 64-bit value too large`);
        return Number(value);
      }
      default:
        throw malformed(`${this.what}: field size ${bytes}`);
    }
  }

  fourcc(): string {
    const at = this.need(4);
    return this.file.toString("latin1", at, at + 4);
  }

  /** A NUL-terminated UTF-8 string; one cut short by the end of the box ends there. */
  cstring(): string {
    const nul = this.file.subarray(this.pos, this.end).indexOf(0);
    const stop = nul === -1 ? this.end : this.pos + nul;
    const text = this.file.toString("utf8", this.pos, stop);
    this.pos = Math.min(stop + 1, this.end);
    return text;
  }

  /** Version and flags of a FullBox. */
  fullBox(): { version: number; flags: number } {
    const word = this.u32();
    return { version: word >>> 24, flags: word & 0xffffff };
  }
}

function planScrub(file: Buffer): Plan {
  const plan: Plan = { writes: [], exifItems: 0, xmpItems: 0, movieBoxes: 0 };
  let metas = 0;
  for (const box of boxesIn(file, 0, file.length, true)) {
    if (box.type === "meta") {
      if (++metas > MAX_SAME_BOXES) throw unsupported("too many meta boxes");
      scrubMeta(file, box, plan, metas === 1);
    } else if (box.type === "uuid" && box.uuid === XMP_UUID) {
      addXmpBox(box, plan);
    } else if (box.type === "moov") {
      freeMovieMetadata(file, box, plan);
    }
  }
  if (metas === 0) throw unsupported("no top-level meta box");
  return plan;
}

function addXmpBox(box: Box, plan: Plan): void {
  if (box.end > box.payload) plan.writes.push({ kind: "xmp", ranges: [{ start: box.payload, end: box.end }] });
  plan.xmpItems++;
}

/**
 * Image sequences (`msf1`, `avis`) also have a `moov` box whose user data (`udta`: a QuickTime
 * location, XMP) and `meta` boxes can carry what Exif carries. Those become `free` boxes of the
 * same size with zeroed payloads: every reader skips `free`, and no offset moves.
 */
function freeMovieMetadata(file: Buffer, moov: Box, plan: Plan): void {
  for (const box of boxesIn(file, moov.payload, moov.end)) {
    if (box.type === "udta" || box.type === "meta") freeBox(box, plan);
    if (box.type !== "trak") continue;
    for (const inner of boxesIn(file, box.payload, box.end)) {
      if (inner.type === "udta" || inner.type === "meta") freeBox(inner, plan);
    }
  }
}

function freeBox(box: Box, plan: Plan): void {
  const type = { start: box.start + 4, end: box.start + 8 };
  plan.writes.push({ kind: "free", ranges: box.end > box.payload ? [type, { start: box.payload, end: box.end }] : [type] });
  plan.movieBoxes++;
}

/** Child boxes of `meta` that this scrubber reads, in file order. */
interface MetaChildren {
  iinf: Box[];
  iloc: Box[];
  idat: Box[];
  pitm: Box[];
  iprp: Box[];
}

/** The metadata items of one `meta` box (ISO/IEC 23008-12 6.2 and Annex A). */
function scrubMeta(file: Buffer, meta: Box, plan: Plan, primary: boolean): void {
  const head = new Reader(file, meta.payload, meta.end, "meta");
  head.fullBox();
  const children: MetaChildren = { iinf: [], iloc: [], idat: [], pitm: [], iprp: [] };
  for (const box of boxesIn(file, head.pos, meta.end)) {
    if (box.type === "uuid" && box.uuid === XMP_UUID) addXmpBox(box, plan);
    if (!Object.hasOwn(children, box.type)) continue;
    const list = children[box.type as keyof MetaChildren];
    if (list.length >= MAX_SAME_BOXES) throw unsupported(`too many '${box.type}' boxes`);
    list.push(box);
  }

  const kinds = new Map<number, "exif" | "xmp">();
  for (const iinf of children.iinf) readItemInfos(file, iinf, kinds);
  if (kinds.size === 0) {
    if (primary) plan.displaySize = primaryDisplaySize(file, children);
    return;
  }

  const locations = new Map<number, ItemLocation[]>();
  for (const iloc of children.iloc) readItemLocations(file, iloc, kinds, locations);

  let extents = 0;
  for (const [id, kind] of kinds) {
    const found = locations.get(id) ?? [];
    if (kind === "exif") plan.exifItems++;
    else plan.xmpItems++;
    for (const location of found) {
      extents += location.extents.length;
      if (extents > MAX_METADATA_EXTENTS) throw unsupported("too many metadata extents");
      const ranges = resolveExtents(location, file.length, children.idat);
      if (ranges.length > 0) plan.writes.push({ kind, ranges });
    }
  }
  if (primary) plan.displaySize = primaryDisplaySize(file, children);
}

/**
 * `infe` entries of an `iinf` box: Exif items (item_type `Exif`) and XMP items (item_type `mime`
 * with content_type application/rdf+xml, or a version 0/1 entry with that content type).
 */
function readItemInfos(file: Buffer, iinf: Box, kinds: Map<number, "exif" | "xmp">): void {
  const r = new Reader(file, iinf.payload, iinf.end, "iinf");
  const { version } = r.fullBox();
  const count = version === 0 ? r.u16() : r.u32();
  let seen = 0;
  for (const infe of boxesIn(file, r.pos, iinf.end)) {
    if (seen++ >= count) break;
    if (infe.type !== "infe") continue;
    const e = new Reader(file, infe.payload, infe.end, "infe");
    const v = e.fullBox().version;
    let id: number;
    let contentType: string | undefined;
    let itemType: string | undefined;
    if (v <= 1) {
      id = e.u16();
      e.u16(); // item_protection_index
      e.cstring(); // item_name
      contentType = e.cstring();
    } else if (v <= 3) {
      id = v === 2 ? e.u16() : e.u32();
      e.u16(); // item_protection_index
      itemType = e.fourcc();
      e.cstring(); // item_name
      if (itemType === "mime") contentType = e.cstring();
    } else {
      continue; // an unknown entry version is skipped, as readers do
    }
    const kind = itemType === "Exif" ? "exif" : contentType !== undefined && isXmpContentType(contentType) ? "xmp" : undefined;
    if (kind === undefined) continue;
    if (!kinds.has(id) && kinds.size >= MAX_METADATA_ITEMS) throw unsupported("too many metadata items");
    kinds.set(id, kind);
  }
}

function isXmpContentType(value: string): boolean {
  return value.split(";")[0]!.trim().toLowerCase() === "application/rdf+xml";
}

/**
 * An item's location. Its data_reference_index is not kept: the data is taken to be in this file
 * whatever `dref` says, because that is where libheif reads it from (it ignores data references),
 * so a metadata item "in another file" would still be shown from these bytes. MIAF files are
 * self-contained anyway.
 */
interface ItemLocation {
  readonly method: number;
  readonly baseOffset: number;
  readonly extents: ReadonlyArray<{ readonly offset: number; readonly length: number }>;
}

/** Entries of an `iloc` box (versions 0 to 2) for the items in `wanted`. */
function readItemLocations(file: Buffer, iloc: Box, wanted: ReadonlyMap<number, unknown>, out: Map<number, ItemLocation[]>): void {
  const r = new Reader(file, iloc.payload, iloc.end, "iloc");
  const { version } = r.fullBox();
  if (version > 2) throw unsupported(`iloc version ${version}`);
  const sizes = r.u8();
  const offsetSize = sizes >> 4;
  const lengthSize = sizes & 0x0f;
  const more = r.u8();
  const baseOffsetSize = more >> 4;
  const indexSize = version === 0 ? 0 : more & 0x0f;
  for (const size of [offsetSize, lengthSize, baseOffsetSize, indexSize]) {
    if (size !== 0 && size !== 4 && size !== 8) throw malformed(`iloc field size ${size}`);
  }
  const count = version < 2 ? r.u16() : r.u32();
  const extentSize = indexSize + offsetSize + lengthSize;
  for (let i = 0; i < count; i++) {
    const id = version < 2 ? r.u16() : r.u32();
    const method = version === 0 ? 0 : r.u16() & 0x0f;
    r.u16(); // data_reference_index
    const baseOffset = r.uint(baseOffsetSize);
    const extentCount = r.u16();
    if (extentCount * extentSize > r.left) throw malformed(`iloc: item ${id} has more extents than bytes`);
    if (!wanted.has(id)) {
      r.pos += extentCount * extentSize;
      continue;
    }
    const extents: Array<{ offset: number; length: number }> = [];
    for (let k = 0; k < extentCount; k++) {
      r.uint(indexSize);
      extents.push({ offset: r.uint(offsetSize), length: r.uint(lengthSize) });
    }
    const list = out.get(id) ?? [];
    list.push({ method, baseOffset, extents });
    out.set(id, list);
  }
}

/** File ranges of a location: construction method 0 (file offsets) or 1 (offsets in `idat`). */
function resolveExtents(location: ItemLocation, fileLength: number, idat: readonly Box[]): ByteRange[] {
  let origin: number;
  let limit: number;
  if (location.method === 0) {
    origin = 0;
    limit = fileLength;
  } else if (location.method === 1) {
    if (idat.length !== 1) throw malformed(`construction method 1 with ${idat.length} idat boxes`);
    origin = idat[0]!.payload;
    limit = idat[0]!.end;
  } else {
    throw unsupported(`metadata item stored with construction method ${location.method}`);
  }
  const ranges: ByteRange[] = [];
  for (const extent of location.extents) {
    if (extent.length === 0) throw unsupported("metadata extent of length 0 (the whole referenced data)");
    const start = origin + location.baseOffset + extent.offset;
    const end = start + extent.length;
    if (!Number.isSafeInteger(end) || end > limit) throw malformed(`metadata extent [${start}, ${end}) runs past its data (${limit})`);
    ranges.push({ start, end });
  }
  return ranges;
}

/**
 * The primary item's displayed size: its `ispe`, then its transformative properties in
 * association order (`clap` crops, `irot` by 90° or 270° swaps). `undefined` when the file names
 * no primary item or gives it no `ispe`. Malformed property boxes make it undefined too, since
 * the size is informative and the scrub does not depend on it.
 */
function primaryDisplaySize(file: Buffer, children: MetaChildren): { width: number; height: number } | undefined {
  try {
    const pitm = children.pitm[0];
    if (pitm === undefined || children.iprp.length === 0) return undefined;
    const p = new Reader(file, pitm.payload, pitm.end, "pitm");
    const primary = p.fullBox().version === 0 ? p.u16() : p.u32();
    const iprp = children.iprp[0]!;
    const properties: Box[] = [];
    const associations: number[] = [];
    for (const box of boxesIn(file, iprp.payload, iprp.end)) {
      if (box.type === "ipco" && properties.length === 0) {
        for (const property of boxesIn(file, box.payload, box.end)) {
          properties.push(property);
          if (properties.length >= MAX_PROPERTIES) break;
        }
      } else if (box.type === "ipma") {
        associations.push(...readAssociations(file, box, primary));
      }
    }
    let size: { width: number; height: number } | undefined;
    for (const index of associations) {
      const property = properties[index - 1];
      if (property === undefined) continue;
      const r = new Reader(file, property.payload, property.end, property.type);
      if (property.type === "ispe") {
        r.fullBox();
        size = { width: r.u32(), height: r.u32() };
      } else if (property.type === "clap" && size !== undefined) {
        const [wn, wd, hn, hd] = [r.u32(), r.u32(), r.u32(), r.u32()];
        if (wd > 0 && hd > 0) size = { width: Math.round(wn / wd), height: Math.round(hn / hd) };
      } else if (property.type === "irot" && size !== undefined) {
        if ((r.u8() & 0x03) % 2 === 1) size = { width: size.height, height: size.width };
      }
    }
    return size !== undefined && size.width > 0 && size.height > 0 ? size : undefined;
  } catch (err) {
    if (err instanceof HeifError) return undefined;
    throw err;
  }
}

/** Property indexes (1-based into `ipco`) associated with `item` by one `ipma` box, in order. */
function readAssociations(file: Buffer, ipma: Box, item: number): number[] {
  const r = new Reader(file, ipma.payload, ipma.end, "ipma");
  const { version, flags } = r.fullBox();
  const count = r.u32();
  const wide = (flags & 1) !== 0;
  for (let i = 0; i < count; i++) {
    const id = version < 1 ? r.u16() : r.u32();
    const n = r.u8();
    if (id !== item) {
      r.pos += n * (wide ? 2 : 1);
      if (r.pos > r.end) throw malformed("ipma truncated");
      continue;
    }
    const indexes: number[] = [];
    for (let k = 0; k < n; k++) indexes.push(wide ? r.u16() & 0x7fff : r.u8() & 0x7f);
    return indexes;
  }
  return [];
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
