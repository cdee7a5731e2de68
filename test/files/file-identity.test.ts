import type { IncomingMessage } from "node:http";
import { createIdentityResolver } from "../../src/auth/identity.js";
import { createFileIdentityResolver } from "../../src/server/files/file-identity.js";

const bearer = createIdentityResolver({
  accessToken: async (token) => (token === "good-jwt" ? { userId: 1, via: "access-token" } : undefined),
  personalAccessToken: async (token) => (token === "memos_pat_ok" ? { userId: 2, via: "personal-access-token" } : undefined),
});

const req = (headers: Record<string, string | string[]>) => ({ headers }) as unknown as IncomingMessage;

describe("file server identity (spec §5.2 step 5, Q5)", () => {
  const resolve = createFileIdentityResolver({
    bearer,
    refreshCookie: async (token) => {
      if (token === "fresh") return { userId: 3 };
      if (token === "explodes") throw new Error("refresh token revoked");
      return undefined;
    },
  });

  test("Bearer access token or PAT first", async () => {
    expect(await resolve(req({ authorization: "Bearer good-jwt", cookie: "memos_refresh=fresh" }))).toMatchObject({ userId: 1 });
    expect(await resolve(req({ authorization: "bearer memos_pat_ok" }))).toMatchObject({ userId: 2 });
  });

  test("then the refresh cookie, so <img> tags work", async () => {
    expect(await resolve(req({ cookie: "theme=dark; memos_refresh=fresh" }))).toEqual({ userId: 3 });
    expect(await resolve(req({ authorization: "Bearer expired", cookie: "memos_refresh=fresh" }))).toEqual({ userId: 3 });
  });

  test("stale, unknown or failing cookies are anonymous, never an error", async () => {
    expect(await resolve(req({ cookie: "memos_refresh=stale" }))).toBeUndefined();
    expect(await resolve(req({ cookie: "memos_refresh=explodes" }))).toBeUndefined();
    expect(await resolve(req({ cookie: "memos_refresh=" }))).toBeUndefined();
    expect(await resolve(req({}))).toBeUndefined();
  });

  test("without a cookie verifier, cookies are ignored", async () => {
    const bearerOnly = createFileIdentityResolver({ bearer });
    expect(await bearerOnly(req({ cookie: "memos_refresh=fresh" }))).toBeUndefined();
  });
});
