import {
  attachmentContentDisposition,
  checkAttachmentFilename,
  FILENAME_INVALID,
  FILENAME_REQUIRED,
  generateShortUuid,
  INVALID_UID,
  isInlineServedType,
  isScriptCapableType,
  isValidUid,
  renderStoragePath,
  resolveUid,
  servedContentType,
  SHORTUUID_ALPHABET,
  storageSafeFilename,
} from "../../src/domain/attachment-rules.js";
import { guessMimeType, mimeTypeFromExtension, normalizeMimeType, parseMediaType, sniffMimeType } from "../../src/domain/mime.js";

describe("attachment filename (spec §4.3 step 2)", () => {
  test.each(["a.png", "photo 1.jpg", "日本語.txt", "x", "a..b", "no-extension", "émoji 🎉.gif", "a".repeat(5000)])("accepts %j", (name) => {
    expect(checkAttachmentFilename(name)).toBeUndefined();
  });
  test("empty is required", () => expect(checkAttachmentFilename("")).toBe(FILENAME_REQUIRED));
  test.each([".hidden", "name.", " x", "x ", "../x", "a/b", "a\\b", "/etc/passwd", "..", ".", "C:\\x", "a\0b"])("refuses %j", (name) => {
    expect(checkAttachmentFilename(name)).toBe(FILENAME_INVALID);
  });
  test("control characters other than NUL are allowed, as in the reference", () => {
    expect(checkAttachmentFilename("tab\there")).toBeUndefined();
  });
});

describe("UIDs (spec §2.1)", () => {
  test.each(["a", "abc-123", "A1", "550e8400-e29b-41d4-a716-446655440000", "x".repeat(36)])("valid %j", (uid) => {
    expect(isValidUid(uid)).toBe(true);
  });
  test.each(["", "-a", "a-", "a_b", "a b", "x".repeat(37), "ä", "a/b", "a.b"])("invalid %j", (uid) => {
    expect(isValidUid(uid)).toBe(false);
  });
  test("empty or blank generates; otherwise trimmed and checked", () => {
    expect(resolveUid("  ", () => "generated")).toEqual({ ok: true, uid: "generated" });
    expect(resolveUid(" pixel ")).toEqual({ ok: true, uid: "pixel" });
    expect(resolveUid("bad_id")).toEqual({ ok: false, message: INVALID_UID });
    expect(INVALID_UID.startsWith("invalid UID: must be 1-36 characters")).toBe(true);
  });
  test("generated shortuuids: 22 base57 characters, valid UIDs, unique", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = generateShortUuid();
      expect(id).toHaveLength(22);
      expect([...id].every((c) => SHORTUUID_ALPHABET.includes(c))).toBe(true);
      expect(isValidUid(id)).toBe(true);
      seen.add(id);
    }
    expect(seen.size).toBe(2000);
    expect(SHORTUUID_ALPHABET).toHaveLength(57);
  });
});

describe("MIME types (spec §4.3 step 3)", () => {
  test.each([
    ["image/png", "image/png"],
    ["IMAGE/PNG", "image/png"],
    ["  audio/webm;codecs=opus ", "audio/webm"],
    ['text/plain; charset="utf-8"', "text/plain"],
    ["text/plain;", "text/plain"],
    ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
    ["image", "image"], // Go accepts a bare token
  ])("normalises %j to %j", (raw, type) => {
    expect(normalizeMimeType(raw)).toEqual({ ok: true, type });
  });
  test.each(["", "   ", 'text/plain; charset="utf-8', "image/", "/png", "image/png/x", "text/plain; charset", "text/plain; a=1; a=2", "ima ge/png", "x".repeat(256), "image/pn g"])(
    "refuses %j",
    (raw) => {
      expect(normalizeMimeType(raw)).toEqual({ ok: false, message: "invalid MIME type format" });
    },
  );
  test("parameters are parsed like Go's mime.ParseMediaType", () => {
    expect(parseMediaType('Text/HTML; Charset="UTF-8"; q=1')).toEqual({ type: "text/html", params: { charset: "UTF-8", q: "1" } });
    expect(parseMediaType('a/b; f="C:\\dev\\x"')?.params.f).toBe("C:\\dev\\x");
  });
  test("extension table: Go built-ins and common types, case-insensitive, last extension", () => {
    expect(mimeTypeFromExtension("a.PNG")).toBe("image/png");
    expect(mimeTypeFromExtension("a.svg")).toBe("image/svg+xml");
    expect(mimeTypeFromExtension("a.html")).toBe("text/html");
    expect(mimeTypeFromExtension("archive.tar.gz")).toBe("application/gzip");
    expect(mimeTypeFromExtension("clip.MOV")).toBe("video/quicktime");
    expect(mimeTypeFromExtension("photo.heic")).toBe("image/heic");
    expect(mimeTypeFromExtension("README")).toBeUndefined();
    expect(mimeTypeFromExtension("x.unknownext")).toBeUndefined();
  });
  test.each([
    [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), "image/png"],
    [Buffer.from([0xff, 0xd8, 0xff, 0xe0]), "image/jpeg"],
    [Buffer.from("GIF89a...."), "image/gif"],
    [Buffer.from("RIFF\x10\x00\x00\x00WEBPVP8 ", "latin1"), "image/webp"],
    [Buffer.from("%PDF-1.7\n"), "application/pdf"],
    [Buffer.from("  <!DOCTYPE html><html>"), "text/html; charset=utf-8"],
    [Buffer.from("<svg onload=alert(1)>"), "text/plain; charset=utf-8"],
    [Buffer.from("<?xml version='1.0'?><svg/>"), "text/xml; charset=utf-8"],
    [Buffer.from("<script >alert(1)</script>"), "text/html; charset=utf-8"],
    [Buffer.from("hello, world\n"), "text/plain; charset=utf-8"],
    [Buffer.from([0, 1, 2, 3, 4]), "application/octet-stream"],
    [Buffer.from("PK\x03\x04rest", "latin1"), "application/zip"],
    [Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypmp42\0\0\0\0mp42isom", "latin1")]), "video/mp4"],
    [Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), "video/webm"],
    [Buffer.from("ID3\x03"), "audio/mpeg"],
    [Buffer.alloc(0), "text/plain; charset=utf-8"],
  ])("sniffs %#", (bytes, type) => {
    expect(sniffMimeType(bytes)).toBe(type);
  });
  test("guessing: extension first, then content, always normalised", () => {
    expect(guessMimeType("photo.JPG", Buffer.from("not a jpeg"))).toBe("image/jpeg");
    expect(guessMimeType("noext", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe("image/png");
    expect(guessMimeType("notes", Buffer.from("plain words"))).toBe("text/plain");
    expect(guessMimeType("blob.bin", Buffer.from([0, 1, 2]))).toBe("application/octet-stream");
  });
});

describe("serving rules (spec §5.3)", () => {
  test.each([
    ["text/html", "application/octet-stream"],
    ["TEXT/HTML", "application/octet-stream"],
    ["text/javascript", "application/octet-stream"],
    ["application/javascript", "application/octet-stream"],
    ["application/x-javascript", "application/octet-stream"],
    ["text/xml", "application/octet-stream"],
    ["application/xml", "application/octet-stream"],
    ["application/xhtml+xml", "application/octet-stream"],
    ["", "application/octet-stream"],
    ["text/plain", "text/plain; charset=utf-8"],
    ["text/markdown", "text/markdown; charset=utf-8"],
    ["image/svg+xml", "image/svg+xml"],
    ["image/png", "image/png"],
    ["application/pdf", "application/pdf"],
  ])("%j is served as %j", (stored, served) => {
    expect(servedContentType(stored)).toBe(served);
  });
  test("script-capable types and inline types", () => {
    expect(isScriptCapableType("text/html; charset=utf-8")).toBe(true);
    expect(isScriptCapableType("image/svg+xml")).toBe(false);
    for (const t of ["image/png", "image/svg+xml", "application/pdf", "video/mp4", "audio/mpeg"]) expect(isInlineServedType(t)).toBe(true);
    for (const t of ["application/octet-stream", "text/plain; charset=utf-8", "application/zip"]) expect(isInlineServedType(t)).toBe(false);
  });
  test("Content-Disposition: quoted ASCII fallback plus RFC 5987 filename* for other names", () => {
    expect(attachmentContentDisposition("report.txt")).toBe('attachment; filename="report.txt"');
    expect(attachmentContentDisposition('say "hi"\\.txt')).toBe('attachment; filename="say \\"hi\\"\\\\.txt"');
    expect(attachmentContentDisposition("résumé 1.pdf")).toBe(`attachment; filename="r_sum_ 1.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.pdf`);
    expect(attachmentContentDisposition("a\r\nSet-Cookie: x=1")).toBe(`attachment; filename="a__Set-Cookie: x=1"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x%3D1`);
    expect(attachmentContentDisposition("it's (1)*.txt")).toBe('attachment; filename="it\'s (1)*.txt"');
    expect(attachmentContentDisposition("日本'(x).txt")).toContain("filename*=UTF-8''%E6%97%A5%E6%9C%AC%27%28x%29.txt");
  });
});

describe("storage path template (spec §4.8)", () => {
  const now = new Date(2026, 0, 2, 3, 4, 5); // local time
  test("placeholders", () => {
    expect(renderStoragePath("assets/{timestamp}_{uuid}_{filename}", { filename: "a.png", now, uuid: "U" })).toBe(
      `assets/${Math.floor(now.getTime() / 1000)}_U_a.png`,
    );
    expect(renderStoragePath("{year}/{month}/{day}/{hour}{minute}{second}/{filename}", { filename: "a.png", now, uuid: "U" })).toBe(
      "2026/01/02/030405/a.png",
    );
  });
  test("unknown tokens stay, /{filename} is appended when missing, braces in the filename are not expanded", () => {
    expect(renderStoragePath("x/{nope}/{uuid}", { filename: "f{uuid}.txt", now, uuid: "U" })).toBe("x/{nope}/U/f{uuid}.txt");
    expect(renderStoragePath("dir/", { filename: "f.txt", now, uuid: "U" })).toBe("dir/f.txt");
  });
  test("a fresh UUID per rendering, the same for every {uuid}", () => {
    const path = renderStoragePath("{uuid}/{uuid}", { filename: "f", now });
    const [a, b] = path.split("/");
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).toBe(b);
  });
  test("storage-safe filenames: control characters replaced, long names shortened keeping the extension", () => {
    expect(storageSafeFilename("a\tb.png")).toBe("a_b.png");
    const long = storageSafeFilename(`${"é".repeat(200)}.jpeg`);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(160);
    expect(long.endsWith("é.jpeg")).toBe(true);
  });
});
