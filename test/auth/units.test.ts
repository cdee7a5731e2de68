import { hash as rawBcryptHash } from "@node-rs/bcrypt";
import { createPasswordHasher } from "../../src/auth/password.js";
import { generatePersonalAccessToken, hashPersonalAccessToken } from "../../src/auth/personal-access-token.js";
import { clearedRefreshCookie, isSecureRequest, readCookie, refreshCookie } from "../../src/auth/refresh-cookie.js";
import { clientAddress } from "../../src/auth/client-address.js";
import { decodeOffsetToken, encodeOffsetToken, resolveOffsetPage } from "../../src/domain/page-token.js";
import { parsePersonalAccessTokenName, parseUserName } from "../../src/domain/resource-name.js";
import { isValidUsername } from "../../src/domain/username.js";
import { parseUsernameFilter } from "../../src/services/user-service.js";

describe("passwords (bcrypt)", () => {
  const hasher = createPasswordHasher();
  test("hashes at cost 10 and verifies", async () => {
    const h = await hasher.hash("correct horse");
    expect(h).toMatch(/^\$2[ab]\$10\$/);
    expect(await hasher.verify("correct horse", h)).toBe(true);
    expect(await hasher.verify("wrong", h)).toBe(false);
  });
  test.each([
    // Published bcrypt test vectors (OpenBSD / jBCrypt / Openwall), `$2a$` hashes from other implementations.
    ["", "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."],
    ["abc", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"],
    ["U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"],
    ["abcdefghijklmnopqrstuvwxyz", "$2a$10$fVH8e28OQRj9tqiDXs1e1uxpsjN0c7II7YPKXua2NAKYvM6iQk7dq"],
  ])("verifies the existing hash of %p", async (password, stored) => {
    expect(await hasher.verify(password, stored)).toBe(true);
    expect(await hasher.verify(`${password}x`, stored)).toBe(false);
  });
  test("verifies $2b$ hashes and refuses junk hashes without throwing", async () => {
    const b = await rawBcryptHash("pw", { cost: 4, version: "2b" });
    expect(await hasher.verify("pw", b)).toBe(true);
    expect(await hasher.verify("pw", "not-a-hash")).toBe(false);
    expect(await hasher.verify("pw", undefined)).toBe(false);
  });
  test("does not block the event loop while hashing", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await Promise.all([hasher.hash("a"), hasher.hash("b"), hasher.hash("c")]);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(5);
  });
});

describe("refresh cookie", () => {
  test("formats the reference attribute order", () => {
    expect(refreshCookie("abc", 1767225600, false)).toBe("memos_refresh=abc; Path=/; HttpOnly; Expires=Thu, 01 Jan 2026 00:00:00 GMT; SameSite=Lax");
    expect(refreshCookie("abc", 1767225600, true)).toBe("memos_refresh=abc; Path=/; HttpOnly; Expires=Thu, 01 Jan 2026 00:00:00 GMT; SameSite=Lax; Secure");
    expect(clearedRefreshCookie(false)).toBe("memos_refresh=; Path=/; HttpOnly; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax");
  });
  test.each([
    [{ "x-forwarded-proto": "https" }, true],
    [{ "x-forwarded-proto": "HTTPS" }, true],
    [{ "x-forwarded-proto": "http,https" }, true],
    [{ "x-forwarded-proto": "http" }, false],
    [{ forwarded: "proto=https" }, true],
    [{ forwarded: "for=192.0.2.60;proto=https;by=203.0.113.43" }, true],
    [{ forwarded: "for=x;proto=http" }, false],
    [{ origin: "https://a.example" }, true],
    [{ origin: "http://a.example" }, false],
    [{}, false],
  ])("secure(%p) = %p", (headers, secure) => {
    expect(isSecureRequest(new Headers(headers))).toBe(secure);
  });
  test("reads the cookie among others", () => {
    expect(readCookie("a=1; memos_refresh=tok; b=2", "memos_refresh")).toBe("tok");
    expect(readCookie('memos_refresh="q"', "memos_refresh")).toBe("q");
    expect(readCookie("xmemos_refresh=1", "memos_refresh")).toBeUndefined();
    expect(readCookie(null, "memos_refresh")).toBeUndefined();
  });
});

describe("personal access tokens", () => {
  test("format, uniqueness and the stored hash", () => {
    const tokens = new Set(Array.from({ length: 200 }, () => generatePersonalAccessToken()));
    expect(tokens.size).toBe(200);
    for (const t of tokens) expect(t).toMatch(/^memos_pat_[0-9a-zA-Z]{32}$/);
    // SHA-256 test vector ("abc"), lowercase hex of the whole string.
    expect(hashPersonalAccessToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
  test("every character of the alphabet is used", () => {
    const seen = new Set(Array.from({ length: 100 }, () => generatePersonalAccessToken().slice(10)).join(""));
    expect(seen.size).toBe(62);
  });
});

describe("client address", () => {
  test.each([
    [{ "x-forwarded-for": "203.0.113.9, 10.0.0.1" }, "127.0.0.1", "203.0.113.9"],
    [{ "x-real-ip": "198.51.100.2" }, "127.0.0.1", "198.51.100.2"],
    [{ "x-forwarded-for": "203.0.113.9", "x-real-ip": "198.51.100.2" }, "127.0.0.1", "203.0.113.9"],
    [{}, "::ffff:127.0.0.1", "127.0.0.1"],
    [{}, "::1", "::1"],
  ])("%p from %p -> %p", (headers, peer, expected) => {
    expect(clientAddress(new Headers(headers), peer)).toBe(expected);
  });
});

describe("domain rules", () => {
  test("offset page tokens match the reference bytes", () => {
    expect(encodeOffsetToken({ limit: 2, offset: 2 })).toBe("CAIQAg==");
    expect(encodeOffsetToken({ limit: 10, offset: 10 })).toBe("CAoQCg==");
    expect(encodeOffsetToken({ limit: 50, offset: 50 })).toBe("CDIQMg==");
    expect(decodeOffsetToken("CAIQAg==")).toEqual({ limit: 2, offset: 2 });
    expect(decodeOffsetToken("!!")).toBeUndefined();
    expect(resolveOffsetPage(0, "")).toEqual({ limit: 50, offset: 0 });
    expect(resolveOffsetPage(5000, "")).toEqual({ limit: 1000, offset: 0 });
  });
  test.each([
    ["alice", true],
    ["Alice-2", true],
    ["123", true],
    ["a", true],
    ["a".repeat(36), true],
    ["a".repeat(37), false],
    ["alice@example.com", false],
    ["legacy_user", false],
    ["-a", false],
    ["a-", false],
    ["", false],
    ["ä", false],
  ])("username %p valid: %p", (name, valid) => {
    expect(isValidUsername(name)).toBe(valid);
  });
  test("resource names", () => {
    expect(parseUserName("users/1")).toBe("1");
    expect(parseUserName("users/")).toBeUndefined();
    expect(parseUserName("users/a/b")).toBeUndefined();
    expect(parsePersonalAccessTokenName("users/a/personalAccessTokens/b")).toEqual(["a", "b"]);
    expect(parsePersonalAccessTokenName("users/a/tokens/b")).toBeUndefined();
  });
  test("ListUsers filter", () => {
    expect(parseUsernameFilter("")).toBeUndefined();
    expect(parseUsernameFilter('username == "bob"')).toBe("bob");
    expect(parseUsernameFilter("username=='bob'")).toBe("bob");
    expect(parseUsernameFilter('username == "a\\"b"')).toBe('a"b');
    expect(() => parseUsernameFilter('role == "ADMIN"')).toThrow();
    expect(() => parseUsernameFilter('username == "a" || true')).toThrow();
  });
});
