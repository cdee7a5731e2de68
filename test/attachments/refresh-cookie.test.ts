/**
 * File server identity from the `memos_refresh` cookie (spec §5.2 step 5, Q5): `<img>` tags carry
 * only the cookie. A live cookie reads a private attachment; a rotated, revoked or forged one is
 * anonymous (401 on an unlinked attachment), never a 500.
 */
import { signUpAndIn } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { attachmentClients } from "./support.js";

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});

afterAll(async () => {
  await t?.close();
});

const img = (path: string, cookie?: string) => fetch(t.baseUrl + path, { headers: cookie === undefined ? {} : { cookie: `memos_refresh=${cookie}` } });

async function refresh(cookie: string): Promise<string> {
  const res = await fetch(`${t.baseUrl}/memos.api.v1.AuthService/RefreshToken`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: `memos_refresh=${cookie}` },
    body: "{}",
  });
  expect(res.status).toBe(200);
  const next = res.headers.getSetCookie().map((c) => /^memos_refresh=([^;]*)/.exec(c)?.[1]).find((v) => v !== undefined && v !== "");
  return next!;
}

test("cookie-only GET reads a private attachment; rotated, revoked and forged cookies are anonymous", async () => {
  const alice = await signUpAndIn(t.baseUrl);
  const bob = await signUpAndIn(t.baseUrl);
  const a = await attachmentClients(t.baseUrl, alice.accessToken).attachments.createAttachment({
    attachment: { filename: "secret.txt", content: new TextEncoder().encode("secret") },
  });
  const path = `/file/attachments/${a.name.slice(12)}/secret.txt`;

  const ok = await img(path, alice.refreshToken);
  expect(ok.status).toBe(200);
  expect(await ok.text()).toBe("secret");
  expect((await img(path, bob.refreshToken)).status).toBe(403);
  expect((await img(path)).status).toBe(401);
  expect((await img(path, "not-a-jwt")).status).toBe(401);
  // A cookie with a valid signature's shape but another token's payload.
  const [h, , s] = alice.refreshToken.split(".");
  const forged = `${h}.${Buffer.from(JSON.stringify({ sub: String(bob.userId) })).toString("base64url")}.${s}`;
  expect((await img(path, forged)).status).toBe(401);

  // Checking does not spend it: the same cookie works again, then rotation makes it stale.
  expect((await img(path, alice.refreshToken)).status).toBe(200);
  const next = await refresh(alice.refreshToken);
  expect((await img(path, alice.refreshToken)).status).toBe(401);
  expect((await img(path, next)).status).toBe(200);

  // Signed out: the family is revoked.
  const signOut = await fetch(`${t.baseUrl}/memos.api.v1.AuthService/SignOut`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: `memos_refresh=${next}`, authorization: `Bearer ${alice.accessToken}` },
    body: "{}",
  });
  expect(signOut.status).toBe(200);
  expect((await img(path, next)).status).toBe(401);
});

test("a stale cookie never breaks Bearer access", async () => {
  const alice = await signUpAndIn(t.baseUrl);
  const a = await attachmentClients(t.baseUrl, alice.accessToken).attachments.createAttachment({ attachment: { filename: "b.txt", content: new TextEncoder().encode("b") } });
  const res = await fetch(`${t.baseUrl}/file/attachments/${a.name.slice(12)}`, {
    headers: { authorization: `Bearer ${alice.accessToken}`, cookie: "memos_refresh=garbage" },
  });
  expect(res.status).toBe(200);
});
