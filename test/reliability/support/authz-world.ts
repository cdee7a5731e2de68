/**
 * The people and rules of the authorization matrix: three users (admin, owner, another user),
 * six callers (anonymous, owner, another user, admin, the owner's personal access token, an
 * expired access token of the owner), the instance access mode, and the read rules of spec §1.3
 * and §6.3 written as plain functions over a model of the memos a test file created.
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { InstanceAccessMode, InstanceSetting_AccessSettingSchema } from "../../../gen/memos/api/v1/instance_service_pb.js";
import { ACCESS_TOKEN_AUDIENCE } from "../../../src/auth/access-token.js";
import { methodAccess } from "../../../src/auth/access-policy.js";
import { hmacKey, signJwt } from "../../../src/auth/jwt.js";
import { clients, instanceSecret, signUpAndIn, uniqueName } from "../../auth/support.js";
import { startTestApp, type TestApp } from "../../support/app.js";
import type { Outcome } from "./authz-transports.js";

export type AccessMode = "PRIVATE" | "PUBLIC";
export const ACCESS_MODES: readonly AccessMode[] = ["PRIVATE", "PUBLIC"];

export type UserKey = "admin" | "owner" | "other";
export type CallerKey = "anonymous" | "owner" | "other" | "admin" | "pat" | "expired";
export const CALLERS: readonly CallerKey[] = ["anonymous", "owner", "other", "admin", "pat", "expired"];

/** Who a caller is once the server has looked at its token (spec §1.3): PAT = its owner, expired = nobody. */
export function effectiveUser(caller: CallerKey): UserKey | undefined {
  switch (caller) {
    case "anonymous":
    case "expired":
      return undefined;
    case "pat":
      return "owner";
    default:
      return caller;
  }
}

export interface WorldUser {
  readonly key: UserKey;
  readonly username: string;
  readonly name: string;
  readonly id: number;
  readonly token: string;
  /** A unique e-mail address: only the user and admins may see it (spec §3.2). */
  readonly email: string;
}

export interface AuthzWorld {
  readonly t: TestApp;
  readonly users: Record<UserKey, WorldUser>;
  /** The bearer token a caller sends (`undefined` for anonymous). */
  token(caller: CallerKey): string | undefined;
  setAccessMode(mode: AccessMode): Promise<void>;
  close(): Promise<void>;
}

/** A unique marker: a string that can only appear in a response if the thing it was put in leaks. */
export function marker(prefix = "zq"): string {
  return `${prefix}${randomBytes(6).toString("hex")}`;
}

/** Starts one app with the three users, the owner's PAT and an expired token of the owner. */
export async function startAuthzWorld(): Promise<AuthzWorld> {
  const t = await startTestApp();
  try {
    const make = async (key: UserKey): Promise<WorldUser> => {
      const u = await signUpAndIn(t.baseUrl, uniqueName(key));
      const email = `${marker("mail")}@example.com`;
      await clients(t.baseUrl, { token: u.accessToken }).users.updateUser({ user: { name: `users/${u.username}`, email }, updateMask: { paths: ["email"] } });
      return { key, username: u.username, name: `users/${u.username}`, id: u.userId, token: u.accessToken, email };
    };
    const admin = await make("admin"); // the first user of an instance is its admin
    const owner = await make("owner");
    const other = await make("other");
    const pat = (await clients(t.baseUrl, { token: owner.token }).users.createPersonalAccessToken({ parent: owner.name, description: "matrix" })).token;
    // An access token signed with the instance secret exactly like src/auth signs them, issued an hour ago.
    const key = await hmacKey(await instanceSecret(t.app.database.db));
    const issuedAt = Math.floor(Date.now() / 1000) - 3600;
    const expired = (
      await signJwt(
        key,
        { type: "access", role: "USER", status: "NORMAL", username: owner.username },
        { subject: String(owner.id), audience: ACCESS_TOKEN_AUDIENCE, issuedAt, lifetimeSeconds: 15 * 60 },
      )
    ).token;
    const users = { admin, owner, other };
    const adminClients = clients(t.baseUrl, { token: admin.token });
    return {
      t,
      users,
      token(caller) {
        switch (caller) {
          case "anonymous":
            return undefined;
          case "pat":
            return pat;
          case "expired":
            return expired;
          default:
            return users[caller].token;
        }
      },
      async setAccessMode(mode) {
        await adminClients.instance.updateInstanceSetting({
          setting: {
            name: "instance/settings/ACCESS",
            value: {
              case: "accessSetting",
              value: create(InstanceSetting_AccessSettingSchema, {
                accessMode: mode === "PUBLIC" ? InstanceAccessMode.PUBLIC : InstanceAccessMode.PRIVATE,
              }),
            },
          },
        });
      },
      close: () => t.close(),
    };
  } catch (err) {
    await t.close();
    throw err;
  }
}

/**
 * The auth gate of spec §1.3 for `procedure`: `Unauthenticated` when an anonymous caller may not
 * reach it in this access mode, `undefined` when the call goes on to the service.
 */
export function gate(procedure: string, viewer: UserKey | undefined, mode: AccessMode): Outcome | undefined {
  if (viewer !== undefined) return undefined;
  const access = methodAccess(procedure);
  if (access === "bootstrap") return undefined;
  if (access === "public" && mode === "PUBLIC") return undefined;
  return Code.Unauthenticated;
}

// ---------------------------------------------------------------------------------------------
// Memos as the matrix knows them

export type Visibility = "PRIVATE" | "PROTECTED" | "PUBLIC";
export const VISIBILITIES: readonly Visibility[] = ["PRIVATE", "PROTECTED", "PUBLIC"];
export type RowState = "NORMAL" | "ARCHIVED";

/** One memo a test created, with the unique strings placed in it. */
export interface MemoFact {
  readonly uid: string;
  readonly name: string;
  readonly creator: UserKey;
  /** Stored visibility (for a comment: what it was created with, possibly stale). */
  visibility: Visibility;
  state: RowState;
  /** The parent's uid, for comments. */
  readonly parent?: string;
  deleted: boolean;
  /** In the content (its first word, so it is also in the snippet). */
  readonly contentMarker: string;
  /** The reaction type of the creator's reaction on the memo, if one was made. */
  reactionMarker?: string;
  /** An attachment bound to the memo: its uid, the marker in its file name, and its bytes. */
  attachment?: { uid: string; marker: string; bytes: Buffer };
  /** A share token of the memo, if one was made. */
  shareToken?: string;
  /** The id of the creator's reaction, once made. */
  reactionId?: number;
}

/** Every memo a test file made, by uid. */
export class MemoModel {
  readonly memos = new Map<string, MemoFact>();

  add(fact: MemoFact): MemoFact {
    this.memos.set(fact.uid, fact);
    return fact;
  }

  get(uid: string): MemoFact {
    const m = this.memos.get(uid);
    if (m === undefined) throw new Error(`unknown memo ${uid}`);
    return m;
  }

  all(): MemoFact[] {
    return [...this.memos.values()];
  }

  /** Comments of `parent` that still exist. */
  commentsOf(parent: MemoFact): MemoFact[] {
    return this.all().filter((m) => m.parent === parent.uid && !m.deleted);
  }

  /**
   * Memo read access of spec §6.3 (GetMemo, ListMemoAttachments, ListMemoComments, GetAttachment,
   * the file server): the state check of the memo itself, then for a comment the parent's state
   * and visibility, which are authoritative.
   */
  read(m: MemoFact, viewer: UserKey | undefined, mode: AccessMode): Outcome {
    if (m.deleted) return Code.NotFound;
    if (m.state !== "NORMAL" && viewer !== m.creator) return Code.NotFound;
    if (m.parent === undefined) return visibilityRule(m.visibility, m.creator, viewer, mode);
    const p = this.get(m.parent);
    if (p.deleted) return Code.NotFound;
    if (p.state !== "NORMAL" && viewer !== p.creator) return Code.NotFound;
    return visibilityRule(p.visibility, p.creator, viewer, mode);
  }

  /** Visibility the API shows for `m`: a comment shows its parent's (spec §6.2). */
  shownVisibility(m: MemoFact): Visibility {
    return m.parent === undefined ? m.visibility : this.get(m.parent).visibility;
  }
}

function visibilityRule(v: Visibility, creator: UserKey, viewer: UserKey | undefined, mode: AccessMode): Outcome {
  switch (v) {
    case "PUBLIC":
      return viewer !== undefined || mode === "PUBLIC" ? "ok" : Code.Unauthenticated;
    case "PROTECTED":
      return viewer !== undefined ? "ok" : Code.Unauthenticated;
    case "PRIVATE":
      if (viewer === undefined) return Code.Unauthenticated;
      return viewer === creator ? "ok" : Code.PermissionDenied;
  }
}

/** Every unique string of `m` (content, reaction, attachment). */
export function markersOf(m: MemoFact): string[] {
  return [m.contentMarker, m.reactionMarker, m.attachment?.marker].filter((x): x is string => x !== undefined);
}

/**
 * The forbidden strings that appear in `raw`: markers of other users' memos outside `allowed` (and
 * the names of those memos, unless the request itself named them), any of `forbiddenMarkers`, e-mail addresses
 * of users other than `viewer` unless the viewer is an admin, and password hashes.
 */
export function leaksIn(
  raw: string,
  model: MemoModel,
  allowed: ReadonlySet<string>,
  opts: {
    requestNames?: readonly string[];
    viewer: UserKey | undefined;
    users: Record<UserKey, WorldUser>;
    allowedMarkers?: ReadonlySet<string>;
    forbiddenMarkers?: readonly string[];
  },
): string[] {
  const found: string[] = [];
  for (const s of opts.forbiddenMarkers ?? []) if (raw.includes(s)) found.push(s);
  for (const m of model.all()) {
    // The caller's own words are never a leak to the caller (outcomes are checked separately).
    if (allowed.has(m.uid) || m.creator === opts.viewer) continue;
    for (const s of markersOf(m)) if (!opts.allowedMarkers?.has(s) && raw.includes(s)) found.push(`${m.uid}:${s}`);
    if (!(opts.requestNames ?? []).includes(m.uid) && raw.includes(m.uid)) found.push(`${m.uid}:name`);
  }
  for (const u of Object.values(opts.users)) {
    if (opts.viewer === "admin" || opts.viewer === u.key) continue;
    if (raw.includes(u.email)) found.push(`email of ${u.key}`);
  }
  if (/\$2[aby]\$\d\d\$/.test(raw)) found.push("a bcrypt hash");
  return found;
}
