/**
 * HEIF metadata scrubbing (src/media/heif-metadata.ts): Exif/GPS and XMP removed in place from
 * hand-built HEIC files (every iloc layout the parser reads) and from real AVIF files written by
 * sharp, checked with exifr and with libheif (through sharp), plus hostile inputs: truncations,
 * bad sizes and counts, and random mutations that must never throw nor write outside the
 * metadata extents.
 */
import exifr from "exifr";
import fc from "fast-check";
import sharp from "sharp";
import { type ByteRange, emptyExif, emptyXmp, isHeifFile, scrubHeifMetadata, type HeifScrubResult } from "../../src/media/heif-metadata.js";
import { box, buildHeic, differingOffsets, fullBox, GPS_XMP, type HeicOptions, inRanges, libheifGps, u16, u32 } from "./heif-files.js";
import { CAMERA_EXIF, canvas, jpegWithExif, pngWithTextChunks } from "./images.js";

type Scrubbed = Extract<HeifScrubResult, { ok: true }>;

function scrubbed(result: HeifScrubResult): Scrubbed {
  if (!result.ok) throw new Error(`expected a scrubbed file, got ${result.reason}: ${result.message}`);
  return result;
}

/** The bytes of `ranges`, concatenated. */
function gather(file: Buffer, ranges: readonly ByteRange[]): Buffer {
  return Buffer.concat(ranges.map((r) => file.subarray(r.start, r.end)));
}

/** Offsets where `a` and `b` differ that lie outside `ranges` (none expected). */
function outside(a: Buffer, b: Buffer, ranges: readonly ByteRange[]): number[] {
  return differingOffsets(a, b).filter((at) => !inRanges(at, ranges));
}

const total = (ranges: readonly ByteRange[]) => ranges.reduce((n, r) => n + r.end - r.start, 0);

describe("HEIC built like a phone's: Exif with GPS, XMP with GPS, irot", () => {
  test("GPS readable before, gone after; same length; only the metadata bytes changed; irot kept", async () => {
    const built = buildHeic();
    const { file } = built;
    expect(isHeifFile(file)).toBe(true);
    expect(await exifr.gps(file)).toEqual({ latitude: expect.closeTo(48.8567, 3), longitude: expect.closeTo(2.3508, 3) });
    expect((await exifr.parse(file, { tiff: true }))?.Make).toBe("Acme");
    expect((await sharp(file).metadata()).xmp?.toString()).toContain("SecretPlace");

    const out = scrubbed(scrubHeifMetadata(file));
    expect(out).toMatchObject({ changed: true, exifItems: 1, xmpItems: 1, movieBoxes: 0 });
    expect(out.body.length).toBe(file.length);
    expect(out.body).not.toBe(file);
    expect(file.equals(buildHeic().file)).toBe(true); // the input is not modified

    expect(await exifr.gps(out.body)).toBeUndefined();
    expect(await exifr.parse(out.body, { tiff: true, xmp: true })).toBeUndefined();
    expect(out.body.includes("Acme")).toBe(false);
    expect(out.body.includes("SecretPlace")).toBe(false);
    expect(out.body.includes("GPSLatitude")).toBe(false);

    const metadata = [...built.exif, ...built.xmp];
    expect(out.regions).toEqual([...metadata].sort((a, b) => a.start - b.start));
    expect(outside(file, out.body, metadata)).toEqual([]);
    expect(gather(out.body, built.exif).equals(emptyExif(total(built.exif)))).toBe(true);
    expect(gather(out.body, built.xmp).equals(emptyXmp(total(built.xmp)))).toBe(true);
    expect(out.body.subarray(built.image.start, built.image.end).equals(file.subarray(built.image.start, built.image.end))).toBe(true);
    expect(out.body.subarray(built.irot!.start, built.irot!.end).toString("latin1", 4, 8)).toBe("irot");
    expect(out.body.subarray(built.irot!.start, built.irot!.end).equals(file.subarray(built.irot!.start, built.irot!.end))).toBe(true);

    // libheif still reads the file, with the rotation applied (64x48 stored, irot 90°).
    const meta = await sharp(out.body).metadata();
    expect(meta).toMatchObject({ format: "heif", compression: "hevc", width: 48, height: 64 });
    expect(out.displaySize).toEqual({ width: 48, height: 64 });
    expect(await libheifGps(out.body)).toBeUndefined();
    expect(meta.xmp?.toString()).not.toContain("GPS");
  });

  test("scrubbing twice changes nothing the second time and answers the same buffer", () => {
    const once = scrubbed(scrubHeifMetadata(buildHeic().file));
    const twice = scrubbed(scrubHeifMetadata(once.body));
    expect(twice.changed).toBe(false);
    expect(twice.body).toBe(once.body);
    expect(twice.exifItems).toBe(1);
  });

  const layouts: Array<[string, HeicOptions]> = [
    ["iloc v0", { ilocVersion: 0 }],
    ["iloc v1, base_offset_size 4", { baseOffsetSize: 4 }],
    ["iloc v1, 8-byte offsets, lengths and base offsets", { offsetSize: 8, lengthSize: 8, baseOffsetSize: 8 }],
    ["iloc v1, index_size 4", { indexSize: 4 }],
    ["iloc v2 (32-bit ids), infe v3, ids past 65535", { ilocVersion: 2, infeVersion: 3, ids: [70000, 70001, 70002], indexSize: 8 }],
    ["Exif in idat (construction method 1)", { exifIn: "idat" }],
    ["Exif in 3 extents, stored out of order", { exifExtents: 3 }],
    ["mdat with a 64-bit size", { mdatSize: "large" }],
    ["mdat with size 0 (to end of file)", { mdatSize: "zero" }],
    ["no XMP, no irot", { xmp: false, irot: null }],
    ["avif brand", { brand: "avif" }],
  ];

  test.each(layouts)("%s: metadata blanked, nothing else touched, libheif agrees", async (_name, options) => {
    const built = buildHeic(options);
    const { file } = built;
    expect(await libheifGps(file)).toEqual({ latitude: expect.closeTo(48.8567, 3), longitude: expect.closeTo(2.3508, 3) });

    const out = scrubbed(scrubHeifMetadata(file));
    expect(out.body.length).toBe(file.length);
    expect(out.exifItems).toBe(1);
    expect(out.xmpItems).toBe(options.xmp === false ? 0 : 1);
    const metadata = [...built.exif, ...built.xmp];
    expect(outside(file, out.body, metadata)).toEqual([]);
    expect(gather(out.body, built.exif).equals(emptyExif(total(built.exif)))).toBe(true);
    if (built.xmp.length > 0) expect(gather(out.body, built.xmp).equals(emptyXmp(total(built.xmp)))).toBe(true);
    expect(await libheifGps(out.body)).toBeUndefined();
    expect(out.body.includes("Acme")).toBe(false);
    const meta = await sharp(out.body).metadata();
    expect([meta.width, meta.height]).toEqual(options.irot === null ? [64, 48] : [48, 64]);
    expect(out.displaySize).toEqual({ width: meta.width, height: meta.height });
  });
});

describe("AVIF written by sharp (a real HEIF container with an Exif item)", () => {
  const xmp =
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.4N"/></rdf:RDF></x:xmpmeta>';

  test("Exif (GPS, camera) and XMP removed, pixels and orientation identical", async () => {
    const avif = await canvas(40, 20).heif({ compression: "av1", quality: 60 }).withMetadata({ orientation: 6 }).withExifMerge(CAMERA_EXIF).withXmp(xmp).toBuffer();
    const before = await sharp(avif).metadata();
    expect(before).toMatchObject({ format: "heif", compression: "av1", width: 20, height: 40 });
    expect(await libheifGps(avif)).toEqual({ latitude: expect.closeTo(48.8567, 3), longitude: expect.closeTo(2.3508, 3) });
    expect(before.xmp?.toString()).toContain("GPSLatitude");

    const out = scrubbed(scrubHeifMetadata(avif));
    expect(out).toMatchObject({ changed: true, exifItems: 1, xmpItems: 1, displaySize: { width: 20, height: 40 } });
    expect(out.body.length).toBe(avif.length);
    expect(outside(avif, out.body, out.regions)).toEqual([]);
    const after = await sharp(out.body).metadata();
    expect(after).toMatchObject({ format: "heif", compression: "av1", width: 20, height: 40 });
    expect(await libheifGps(out.body)).toBeUndefined();
    expect(after.xmp?.toString() ?? "").not.toContain("GPS");
    expect(out.body.includes("Acme")).toBe(false);
    const [a, b] = await Promise.all([sharp(avif).raw().toBuffer(), sharp(out.body).raw().toBuffer()]);
    expect(b.equals(a)).toBe(true);
  });

  test("an AVIF without metadata is answered unchanged (the same buffer)", async () => {
    const avif = await canvas(16, 16).heif({ compression: "av1", quality: 50 }).toBuffer();
    const out = scrubbed(scrubHeifMetadata(avif));
    expect(out).toMatchObject({ changed: false, exifItems: 0, xmpItems: 0, regions: [] });
    expect(out.body).toBe(avif);
  });
});

describe("metadata outside items", () => {
  test("a top-level XMP uuid box gets an empty packet; moov udta/meta (image sequences) become free boxes", () => {
    const built = buildHeic();
    const xmpUuid = Buffer.from("be7acfcb97a942e89c71999491e3afac", "hex");
    const uuid = box("uuid", xmpUuid, Buffer.from(GPS_XMP, "utf8"));
    const udta = box("udta", box("\u00a9xyz", u16(17), u16(0), Buffer.from("+48.8567+002.3508/", "latin1")));
    const trakUdta = box("udta", box("name", Buffer.from("home", "latin1")));
    const moov = box("moov", fullBox("mvhd", 0, 0, Buffer.alloc(96)), box("trak", fullBox("tkhd", 0, 0, Buffer.alloc(80)), trakUdta), udta);
    const file = Buffer.concat([built.file, uuid, moov]);
    const out = scrubbed(scrubHeifMetadata(file));
    expect(out.body.length).toBe(file.length);
    expect(out).toMatchObject({ exifItems: 1, xmpItems: 2, movieBoxes: 2 });
    const uuidAt = built.file.length;
    expect(out.body.subarray(uuidAt + 24, uuidAt + uuid.length).equals(emptyXmp(uuid.length - 24))).toBe(true);
    expect(out.body.subarray(uuidAt, uuidAt + 24).equals(uuid.subarray(0, 24))).toBe(true);
    expect(out.body.includes("+48.8567")).toBe(false);
    expect(out.body.includes("home")).toBe(false);
    expect(out.body.includes("SecretPlace")).toBe(false);
    // The moov still parses: same sizes, the metadata boxes now 'free'.
    const moovAt = uuidAt + uuid.length;
    expect(out.body.subarray(moovAt, moovAt + 8).equals(moov.subarray(0, 8))).toBe(true);
    const udtaAt = moovAt + moov.length - udta.length;
    expect(out.body.readUInt32BE(udtaAt)).toBe(udta.length);
    expect(out.body.toString("latin1", udtaAt + 4, udtaAt + 8)).toBe("free");
    expect(out.body.subarray(udtaAt + 8, udtaAt + udta.length).every((b) => b === 0)).toBe(true);
  });
});

describe("refusals", () => {
  test("not HEIF: JPEG, PNG, empty, an MP4 brand", async () => {
    for (const bytes of [await jpegWithExif(), await pngWithTextChunks(), Buffer.alloc(0), box("ftyp", Buffer.from("isom\0\0\0\0isomavc1", "latin1"))]) {
      expect(isHeifFile(bytes)).toBe(false);
      expect(scrubHeifMetadata(bytes)).toMatchObject({ ok: false, reason: "not-heif" });
    }
  });

  test("a HEIF brand with no meta box is refused", () => {
    const heic = Buffer.concat([box("ftyp", Buffer.from("heic\0\0\0\0mif1heic", "latin1")), box("mdat", Buffer.alloc(32))]);
    expect(scrubHeifMetadata(heic)).toMatchObject({ ok: false, reason: "unsupported" });
  });

  /** The built file with the `iloc` box patched by `patch(file, ilocPayloadOffset)`. */
  function patchIloc(options: HeicOptions, patch: (file: Buffer, at: number) => void): Buffer {
    const file = Buffer.from(buildHeic(options).file);
    const at = file.indexOf("iloc", 0, "latin1") + 4; // FullBox header
    patch(file, at);
    return file;
  }
  /** Offset of the Exif item's entry in an iloc v1 with 4-byte offsets and lengths, no base offset. */
  const exifEntry = (at: number) => at + 4 + 2 + 2 + (2 + 2 + 2 + 2 + 8); // header, sizes, count, image entry

  test.each<[string, string, Buffer]>([
    ["construction method 2 for the Exif item", "unsupported", patchIloc({}, (f, at) => f.writeUInt16BE(2, exifEntry(at) + 2))],
    ["an Exif extent of length 0", "unsupported", patchIloc({}, (f, at) => f.writeUInt32BE(0, exifEntry(at) + 8 + 4))],
    ["an Exif extent past the end of the file", "malformed", patchIloc({}, (f, at) => f.writeUInt32BE(0xfffffff0, exifEntry(at) + 8))],
    ["iloc field size 2", "malformed", patchIloc({}, (f, at) => f.writeUInt8(0x42, at + 4))],
    ["iloc version 3", "unsupported", patchIloc({}, (f, at) => f.writeUInt8(3, at))],
    ["an item count far past the box", "malformed", patchIloc({}, (f, at) => f.writeUInt16BE(0xffff, at + 6))],
    ["an extent count far past the box", "malformed", patchIloc({}, (f, at) => f.writeUInt16BE(0xffff, exifEntry(at) + 6))],
    ["64-bit offset past 2^53", "malformed", patchIloc({ offsetSize: 8 }, (f, at) => f.writeBigUInt64BE(0xffffffffffff0000n, exifEntry(at) + 8))],
  ])("%s -> %s, nothing written", (_name, reason, file) => {
    expect(scrubHeifMetadata(file)).toMatchObject({ ok: false, reason });
  });

  test("a data reference that names no dref entry: scrubbed in this file, where libheif reads it from", async () => {
    const built = buildHeic();
    const file = patchIloc({}, (f, at) => f.writeUInt16BE(1, exifEntry(at) + 4));
    expect(await libheifGps(file)).toBeDefined();
    const out = scrubbed(scrubHeifMetadata(file));
    expect(out.regions).toEqual([...built.exif, ...built.xmp]);
    expect(await libheifGps(out.body)).toBeUndefined();
  });

  test("box sizes: smaller than the header, past the container, 64-bit past the file, 0 inside meta", () => {
    const base = buildHeic().file;
    const metaAt = base.indexOf("meta", 0, "latin1") - 4;
    const hdlrAt = base.indexOf("hdlr", 0, "latin1") - 4;
    const cases: Array<(f: Buffer) => void> = [
      (f) => f.writeUInt32BE(4, hdlrAt), // smaller than a header
      (f) => f.writeUInt32BE(0x7fffffff, hdlrAt), // past meta
      (f) => f.writeUInt32BE(0x7fffffff, metaAt), // meta past the file
      (f) => f.writeUInt32BE(0, hdlrAt), // to the end of meta: swallows iinf/iloc
      (f) => f.writeUInt32BE(1, metaAt), // 64-bit size: version/flags and the hdlr size read as the large size
      (f) => {
        f.writeUInt32BE(1, metaAt);
        f.writeUInt32BE(0xffffffff, metaAt + 8); // a large size past the file
      },
    ];
    for (const patch of cases) {
      const file = Buffer.from(base);
      patch(file);
      const result = scrubHeifMetadata(file);
      // Either refused, or (size 0 inside meta) no metadata item found: never a write.
      if (result.ok) expect(result.regions).toEqual([]);
      else expect(result.reason).toBe("malformed");
    }
  });

  test("an iinf entry count of 65535 over three entries reads the three", () => {
    const file = Buffer.from(buildHeic().file);
    const iinfAt = file.indexOf("iinf", 0, "latin1") + 4;
    file.writeUInt16BE(0xffff, iinfAt + 4);
    expect(scrubbed(scrubHeifMetadata(file))).toMatchObject({ exifItems: 1, xmpItems: 1 });
  });

  test("every truncation of the file: never throws; refused unless all metadata is still there", () => {
    const built = buildHeic();
    const metadata = [...built.exif, ...built.xmp];
    const lastMetadataEnd = Math.max(...metadata.map((r) => r.end));
    for (let length = 0; length < built.file.length; length++) {
      const cut = built.file.subarray(0, length);
      const result = scrubHeifMetadata(cut);
      if (length < lastMetadataEnd) expect(result.ok).toBe(false);
      else {
        const out = scrubbed(result);
        expect(outside(cut, out.body, metadata)).toEqual([]);
        expect(out.exifItems).toBe(1);
      }
    }
  });
});

describe("properties (fast-check)", () => {
  const layoutArb: fc.Arbitrary<HeicOptions> = fc
    .record({
      ilocVersion: fc.constantFrom(0 as const, 1 as const, 2 as const),
      offsetSize: fc.constantFrom(4 as const, 8 as const),
      lengthSize: fc.constantFrom(4 as const, 8 as const),
      baseOffsetSize: fc.constantFrom(0 as const, 4 as const, 8 as const),
      indexSize: fc.constantFrom(0 as const, 4 as const, 8 as const),
      infeVersion: fc.constantFrom(2 as const, 3 as const),
      exifIn: fc.constantFrom("file" as const, "idat" as const),
      exifExtents: fc.integer({ min: 1, max: 5 }),
      xmp: fc.boolean(),
      irot: fc.constantFrom(null, 0, 1, 2, 3),
      mdatSize: fc.constantFrom("normal" as const, "large" as const, "zero" as const),
      size: fc.tuple(fc.integer({ min: 1, max: 100000 }), fc.integer({ min: 1, max: 100000 })),
    })
    .map((o) => ({ ...o, exifIn: o.ilocVersion === 0 ? ("file" as const) : o.exifIn }))
    .chain((o) =>
      o.infeVersion === 3 && o.ilocVersion === 2
        ? fc.tuple(fc.integer({ min: 1, max: 2 ** 32 - 3 })).map(([id]) => ({ ...o, ids: [id, id + 1, id + 2] as const }))
        : fc.constant(o),
    );

  test("any valid layout: exactly the Exif/XMP extents are rewritten, to empty metadata", () => {
    fc.assert(
      fc.property(layoutArb, (options) => {
        const built = buildHeic(options);
        const out = scrubbed(scrubHeifMetadata(built.file));
        const metadata = [...built.exif, ...built.xmp];
        expect(out.body.length).toBe(built.file.length);
        expect(total(out.regions)).toBe(total(metadata));
        for (const r of out.regions) expect(metadata.some((m) => r.start >= m.start && r.end <= m.end)).toBe(true);
        expect(outside(built.file, out.body, metadata)).toEqual([]);
        expect(gather(out.body, built.exif).equals(emptyExif(total(built.exif)))).toBe(true);
        const [w, h] = options.size!;
        const swapped = options.irot === 1 || options.irot === 3;
        expect(out.displaySize).toEqual(swapped ? { width: h, height: w } : { width: w, height: h });
      }),
      { numRuns: 300 },
    );
  });

  test("libheif reads no GPS after scrubbing any layout", async () => {
    await fc.assert(
      fc.asyncProperty(layoutArb, async (options) => {
        const built = buildHeic(options);
        expect(await libheifGps(built.file)).toBeDefined();
        expect(await libheifGps(scrubbed(scrubHeifMetadata(built.file)).body)).toBeUndefined();
      }),
      { numRuns: 25 },
    );
  });

  /** A mutation: overwrite bytes (a byte, or a 32-bit field with an interesting value), truncate, or insert. */
  const mutationArb = fc.oneof(
    fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("u32" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 7, 8, 16, 0x7fffffff, 0xffffffff) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  );
  type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

  function mutate(file: Buffer, mutations: readonly Mutation[]): Buffer {
    let out = Buffer.from(file);
    for (const m of mutations) {
      if (out.length === 0) break;
      const at = m.at % out.length;
      if (m.kind === "byte") out[at] = m.value;
      else if (m.kind === "u32") {
        if (at + 4 <= out.length) out.writeUInt32BE(m.value, at);
      } else if (m.kind === "truncate") out = out.subarray(0, at);
      else out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
    }
    return out;
  }

  test("mutated files anywhere: never throws, same length, writes only inside the regions it reports", () => {
    fc.assert(
      fc.property(layoutArb, fc.array(mutationArb, { minLength: 1, maxLength: 6 }), (options, mutations) => {
        const file = mutate(buildHeic(options).file, mutations);
        const copy = Buffer.from(file);
        const result = scrubHeifMetadata(file);
        expect(file.equals(copy)).toBe(true);
        if (!result.ok) return;
        expect(result.body.length).toBe(file.length);
        expect(result.regions.filter((r) => !(0 <= r.start && r.start <= r.end && r.end <= file.length))).toEqual([]);
        expect(outside(file, result.body, result.regions)).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });

  test("bytes mutated outside meta and outside the metadata: exactly the metadata extents are rewritten", () => {
    fc.assert(
      fc.property(layoutArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 20 }), (options, writes) => {
        const built = buildHeic(options);
        const metadata = [...built.exif, ...built.xmp];
        const mdatData = { start: built.meta.end + (options.mdatSize === "large" ? 16 : 8), end: built.file.length };
        const file = Buffer.from(built.file);
        for (const [n, value] of writes) {
          const at = mdatData.start + (n % (mdatData.end - mdatData.start));
          if (!inRanges(at, metadata)) file[at] = value;
        }
        const out = scrubbed(scrubHeifMetadata(file));
        expect(total(out.regions)).toBe(total(metadata));
        expect(outside(file, out.body, metadata)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  test("random byte strings after a HEIF ftyp: never throws", () => {
    const ftyp = box("ftyp", Buffer.from("heic", "latin1"), u32(0), Buffer.from("mif1heic", "latin1"));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (tail) => {
        const result = scrubHeifMetadata(Buffer.concat([ftyp, Buffer.from(tail)]));
        if (result.ok) expect(result.body.length).toBe(ftyp.length + tail.length);
      }),
      { numRuns: 2000 },
    );
  });
});
