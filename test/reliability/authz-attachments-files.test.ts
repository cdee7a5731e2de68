/**
 * Authorization matrix, attachments and the file server: every caller x every attachment (bound
 * to a memo or comment of each visibility and state, or unbound) x every AttachmentService RPC
 * and every file route (original, with a file name, `?thumbnail=true`, `?share_token=`) x both
 * access modes. The RPCs run over Connect JSON, Connect binary, gRPC and REST (one per cell in
 * rotation, ListAttachments over all four); every
 * file response is compared with the bytes of every attachment (each PNG is its own colour), and
 * every RPC response searched for markers of things the caller may not see. Outcomes from spec
 * §4.3-§4.7, §5.2 and §6.3.
 */
import { Code } from "@connectrpc/connect";
import { jest } from "@jest/globals";
import { attachmentClients } from "../attachments/support.js";
import { creatorOrAdmin, first, rotating, runCell } from "./support/authz-cells.js";
import { buildThread, FOUR_COMMENTS, uniquePng } from "./support/authz-seed.js";
import { ATTACHMENT_RPCS } from "./support/authz-coverage.js";
import { ALL_TRANSPORTS, procedureOf, RpcCaller, type Outcome } from "./support/authz-transports.js";
import {
  ACCESS_MODES,
  CALLERS,
  effectiveUser,
  gate,
  marker,
  MemoModel,
  startAuthzWorld,
  VISIBILITIES,
  type AccessMode,
  type AuthzWorld,
  type CallerKey,
  type MemoFact,
  type RowState,
  type UserKey,
} from "./support/authz-world.js";

jest.setTimeout(120_000);

/** An attachment of the matrix: bound to a memo of the model, or unbound. */
interface AttachmentFact {
  readonly uid: string;
  /** In the file name. */
  readonly marker: string;
  /** The file's bytes, its own among all attachments. */
  readonly bytes: Buffer;
  readonly creator: UserKey;
  readonly memo?: MemoFact;
}

const STATES: readonly RowState[] = ["NORMAL", "ARCHIVED"];
const TARGET_KEYS: string[] = [];
for (const visibility of VISIBILITIES) {
  for (const state of STATES) {
    TARGET_KEYS.push(`on owner's ${visibility} ${state} memo`);
    for (const c of FOUR_COMMENTS) TARGET_KEYS.push(`on ${c.creator}'s ${c.state} comment under owner's ${visibility} ${state} memo`);
  }
}
TARGET_KEYS.push("unbound, owner's", "unbound, other's");

let world: AuthzWorld;
let caller: RpcCaller;
const model = new MemoModel();
const targets = new Map<string, AttachmentFact>();
const unbound: AttachmentFact[] = [];

beforeAll(async () => {
  world = await startAuthzWorld();
  caller = new RpcCaller(world.t.baseUrl);
  const combos = VISIBILITIES.flatMap((visibility) => STATES.map((state) => ({ visibility, state })));
  await Promise.all(
    combos.map(async ({ visibility, state }) => {
      const t = await buildThread(world, model, { creator: "owner", visibility, state, share: true, attachment: true }, FOUR_COMMENTS);
      const fact = (m: MemoFact): AttachmentFact => ({ ...m.attachment!, creator: m.creator, memo: m });
      targets.set(`on owner's ${visibility} ${state} memo`, fact(t.memo));
      FOUR_COMMENTS.forEach((c, i) => targets.set(`on ${c.creator}'s ${c.state} comment under owner's ${visibility} ${state} memo`, fact(t.comments[i]!)));
    }),
  );
  for (const who of ["owner", "other"] as const) {
    const mark = marker();
    const bytes = await uniquePng(mark);
    const a = await attachmentClients(world.t.baseUrl, world.users[who].token).attachments.createAttachment({
      attachment: { filename: `${mark}.png`, type: "image/png", content: bytes },
    });
    const fact = { uid: a.name.slice("attachments/".length), marker: mark, bytes, creator: who };
    unbound.push(fact);
    targets.set(`unbound, ${who}'s`, fact);
  }
}, 300_000);

afterAll(async () => {
  caller?.close();
  await world?.close();
});

function readable(viewer: UserKey | undefined, mode: AccessMode): Set<string> {
  return new Set(model.all().filter((m) => model.read(m, viewer, mode) === "ok").map((m) => m.uid));
}

/** Attachment metadata read access (spec §4.4): unbound -> creator or admin; bound -> memo read access (§6.3). */
function attachmentRead(a: AttachmentFact, viewer: UserKey | undefined, mode: AccessMode): Outcome {
  if (a.memo !== undefined) return model.read(a.memo, viewer, mode);
  if (viewer === undefined) return Code.Unauthenticated;
  return viewer === a.creator || viewer === "admin" ? "ok" : Code.PermissionDenied;
}

/** Markers of unbound attachments the viewer may not see. */
function forbiddenUnbound(viewer: UserKey | undefined, except?: AttachmentFact): string[] {
  return unbound.filter((a) => a !== except && !(viewer === a.creator || viewer === "admin")).map((a) => a.marker);
}

const STATUS: Record<string, number> = { ok: 200, [Code.NotFound]: 404, [Code.Unauthenticated]: 401, [Code.PermissionDenied]: 403 };

type FileVariant = "original" | "with file name" | "thumbnail" | "parent's or own share token";
const FILE_VARIANTS: readonly FileVariant[] = ["original", "with file name", "thumbnail", "parent's or own share token"];

/**
 * The file server's decision (spec §5.2): an anonymous reader's access first (public), then a
 * share token of exactly the bound memo, never a comment (a share of an archived memo grants
 * nothing, as GetSharedMemo refuses it, §6.13), then the caller's own memo read access.
 */
function fileOutcome(a: AttachmentFact, viewer: UserKey | undefined, mode: AccessMode, shareToken: string | undefined): { outcome: Outcome; cache?: string } {
  if (a.memo === undefined) {
    const o = attachmentRead(a, viewer, mode);
    return { outcome: o, ...(o === "ok" ? { cache: "private, no-store" } : {}) };
  }
  if (model.read(a.memo, undefined, mode) === "ok") return { outcome: "ok", cache: "public, no-cache" };
  if (shareToken !== undefined && shareToken === a.memo.shareToken && a.memo.parent === undefined && a.memo.state === "NORMAL") {
    return { outcome: "ok", cache: "private, no-store" };
  }
  const o = model.read(a.memo, viewer, mode);
  return { outcome: o, ...(o === "ok" ? { cache: "private, no-store" } : {}) };
}

const CELLS: Array<[CallerKey, string]> = CALLERS.flatMap((c) => TARGET_KEYS.map((k): [CallerKey, string] => [c, k]));

describe.each(ACCESS_MODES)("%s instance", (mode) => {
  beforeAll(() => world.setAccessMode(mode));

  const { GetAttachment } = ATTACHMENT_RPCS;
  describe("GetAttachment", () => {
    test.each(CELLS)("%s reads the attachment %s", async (callerKey, key) => {
      const a = targets.get(key)!;
      const viewer = effectiveUser(callerKey);
      const outcome = first(gate(procedureOf(GetAttachment), viewer, mode), attachmentRead(a, viewer, mode));
      const index = CELLS.findIndex(([c, k]) => c === callerKey && k === key) + CALLERS.indexOf(callerKey) + ACCESS_MODES.indexOf(mode);
      for (const kind of [rotating(index, ALL_TRANSPORTS)]) {
        const res = await runCell(caller, world, model, kind, GetAttachment, { name: `attachments/${a.uid}` }, world.token(callerKey), viewer, {
          outcome,
          allowed: readable(viewer, mode),
          forbiddenMarkers: forbiddenUnbound(viewer, outcome === "ok" ? a : undefined).concat(outcome === "ok" ? [] : [a.marker]),
          requestNames: [a.uid],
        });
        if (outcome === "ok") expect(res.raw).toContain(a.marker);
      }
    });
  });

  describe.each(FILE_VARIANTS)("file server, %s", (variant) => {
    test.each(CELLS)("%s fetches the attachment %s", async (callerKey, key) => {
      const a = targets.get(key)!;
      const viewer = effectiveUser(callerKey);
      const shareToken =
        variant === "parent's or own share token" && a.memo !== undefined
          ? (a.memo.parent === undefined ? a.memo : model.get(a.memo.parent)).shareToken
          : undefined;
      const path =
        `/file/attachments/${a.uid}` +
        (variant === "with file name" ? `/${a.marker}.png` : "") +
        (variant === "thumbnail" ? "?thumbnail=true" : "") +
        (shareToken !== undefined ? `?share_token=${shareToken}` : "");
      const token = world.token(callerKey);
      const res = await fetch(world.t.baseUrl + path, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
      const body = Buffer.from(await res.arrayBuffer());
      const expected = fileOutcome(a, viewer, mode, shareToken);
      // No other attachment's bytes, whatever the answer.
      const leaked = [...targets.values()].filter((o) => o.uid !== a.uid && body.equals(o.bytes)).map((o) => o.uid);
      expect({ status: res.status, cache: res.headers.get("cache-control"), leaked }).toEqual({
        status: STATUS[String(expected.outcome)],
        cache: expected.cache ?? "private, no-store",
        leaked: [],
      });
      if (expected.outcome === "ok") {
        if (variant === "thumbnail") {
          expect(res.headers.get("content-type")).toBe("image/jpeg");
          expect(body.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
        } else {
          expect(res.headers.get("content-type")).toBe("image/png");
          expect(body.equals(a.bytes)).toBe(true);
        }
      } else {
        expect({ bytes: body.equals(a.bytes), image: res.headers.get("content-type")?.startsWith("image/") }).toEqual({ bytes: false, image: false });
      }
    });
  });

  describe("UpdateAttachment", () => {
    const { UpdateAttachment } = ATTACHMENT_RPCS;
    test.each(CELLS)("%s renames (to the same name) the attachment %s", async (callerKey, key) => {
      const a = targets.get(key)!;
      const viewer = effectiveUser(callerKey);
      // Creator or admin, and the answer is re-read with GetAttachment's rules (spec §4.6).
      const outcome = first(gate(procedureOf(UpdateAttachment), viewer, mode), creatorOrAdmin(a.creator, viewer), attachmentRead(a, viewer, mode));
      const kind = rotating(CELLS.findIndex(([c, k]) => c === callerKey && k === key) + (mode === "PUBLIC" ? 1 : 0), ALL_TRANSPORTS);
      await runCell(
        caller,
        world,
        model,
        kind,
        UpdateAttachment,
        { attachment: { name: `attachments/${a.uid}`, filename: `${a.marker}.png` }, updateMask: { paths: ["filename"] } },
        world.token(callerKey),
        viewer,
        {
          outcome,
          allowed: readable(viewer, mode),
          forbiddenMarkers: forbiddenUnbound(viewer, outcome === "ok" ? a : undefined),
          allowedMarkers: new Set([a.marker]),
          requestNames: [a.uid],
        },
      );
    });
  });

  describe.each(["DeleteAttachment", "BatchDeleteAttachments", "CreateAttachment"] as const)("%s", (method) => {
    const r = ATTACHMENT_RPCS[method];
    test.each(CELLS)("%s on (a fresh attachment like) the attachment %s", async (callerKey, key) => {
      const a = targets.get(key)!;
      const viewer = effectiveUser(callerKey);
      const kind = rotating(CELLS.findIndex(([c, k]) => c === callerKey && k === key) + (mode === "PUBLIC" ? 2 : 0), ALL_TRANSPORTS);
      let request;
      let outcome: Outcome;
      if (method === "CreateAttachment") {
        // Binding at creation: the memo's creator only, admins included in "others" (spec §4.3 step 8).
        request = { attachment: { filename: "fresh.png", type: "image/png", content: await uniquePng(marker()), ...(a.memo === undefined ? {} : { memo: a.memo.name }) } };
        outcome = first(gate(procedureOf(r), viewer, mode), a.memo === undefined || viewer === a.memo.creator ? undefined : Code.PermissionDenied);
      } else {
        // A fresh attachment of the same creator, bound to the same memo, so the fixture stays.
        const fresh = await attachmentClients(world.t.baseUrl, world.users[a.creator].token).attachments.createAttachment({
          attachment: { filename: "fresh.png", type: "image/png", content: await uniquePng(marker()), ...(a.memo === undefined ? {} : { memo: a.memo.name }) },
        });
        request = method === "DeleteAttachment" ? { name: fresh.name } : { names: [fresh.name] };
        // DeleteAttachment hides others' attachments as not found, admins' too; the batch answers
        // permission denied and lets admins through (spec §4.7).
        outcome =
          method === "DeleteAttachment"
            ? first(gate(procedureOf(r), viewer, mode), viewer === a.creator ? undefined : Code.NotFound)
            : first(gate(procedureOf(r), viewer, mode), creatorOrAdmin(a.creator, viewer));
      }
      await runCell(caller, world, model, kind, r, request, world.token(callerKey), viewer, {
        outcome,
        allowed: readable(viewer, mode),
        forbiddenMarkers: forbiddenUnbound(viewer),
        ...(a.memo === undefined ? {} : { requestNames: [a.memo.uid] }),
      });
    });
  });

  describe("ListAttachments", () => {
    const { ListAttachments } = ATTACHMENT_RPCS;
    test.each(CALLERS.flatMap((c) => ["", 'mime_type == "image/png"', "memo_id != null", "memo_id == null"].map((f): [CallerKey, string] => [c, f])))(
      "%s lists attachments, filter %j",
      async (callerKey, filter) => {
        const viewer = effectiveUser(callerKey);
        const outcome = first(gate(procedureOf(ListAttachments), viewer, mode));
        const all = [...targets.values()];
        // Only the caller's own attachments, admins included (spec §4.5).
        const own = all.filter((a) => a.creator === viewer);
        for (const kind of ALL_TRANSPORTS) {
          const res = await runCell(caller, world, model, kind, ListAttachments, { pageSize: 1000, filter }, world.token(callerKey), viewer, {
            outcome,
            allowed: readable(viewer, mode),
            allowedMarkers: new Set(own.map((a) => a.marker)),
            forbiddenMarkers: all.filter((a) => a.creator !== viewer).map((a) => a.marker),
            requestNames: own.flatMap((a) => (a.memo === undefined ? [] : [a.memo.uid])),
          });
          if (outcome !== "ok") continue;
          const matches = (a: AttachmentFact) => (filter === "memo_id != null" ? a.memo !== undefined : filter === "memo_id == null" ? a.memo === undefined : true);
          expect({ kind, listed: own.filter((a) => res.raw.includes(a.marker)).map((a) => a.uid).sort() }).toEqual({
            kind,
            listed: own.filter(matches).map((a) => a.uid).sort(),
          });
        }
      },
    );
  });
});
