// Baseline for GetMemo: a bare node:http handler on node-postgres that does what our GetMemo does
// for a signed-in caller (verify the HS256 access token, the same six SQL statements: the caller's
// row for the auth gate and again for the service, the memo with creator and comment parent,
// attachments, relations with snippets, reactions) and answers the same Connect JSON.
//   MEMOS_PORT, BARE_DSN, BARE_SECRET (the instance secret that signs access tokens)
import http from "node:http";
import { jwtVerify } from "jose";
import pg from "pg";

const pool = new pg.Pool({
  connectionString: process.env.BARE_DSN,
  max: 10,
  types: { getTypeParser: (oid: number, format?: "text" | "binary") => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as "text")) } as pg.CustomTypesConfig,
});
const key = new TextEncoder().encode(process.env.BARE_SECRET);

const USER = `select * from "user" where "id" = $1`;
const MEMO = `select "memo"."id", "memo"."uid", "memo"."creator_id", "memo"."created_ts", "memo"."updated_ts", "memo"."row_status", "memo"."content", "memo"."visibility", "memo"."pinned", "memo"."payload", "creator"."username" as "creator_username", "parent"."id" as "parent_id", "parent"."uid" as "parent_uid", "parent"."creator_id" as "parent_creator_id", "parent"."visibility" as "parent_visibility", "parent"."row_status" as "parent_row_status" from "memo" left join "user" as "creator" on "creator"."id" = "memo"."creator_id" left join "memo_relation" as "cr" on "cr"."memo_id" = "memo"."id" and "cr"."type" = $1 left join "memo" as "parent" on "parent"."id" = "cr"."related_memo_id" where "memo"."uid" = $2 limit $3`;
const ATTACHMENTS = `select "a"."id", "a"."uid", "a"."creator_id", "a"."created_ts", "a"."updated_ts", "a"."filename", "a"."type", "a"."size", "a"."memo_id", "a"."storage_type", "a"."reference", "a"."payload" from "attachment" as "a" where "a"."memo_id" in ($1) order by "a"."updated_ts" desc, "a"."id" desc`;
const RELATIONS = `select "r"."memo_id", "m"."uid" as "memo_uid", "r"."related_memo_id", "rm"."uid" as "related_uid", "r"."type", "m"."payload" as "memo_payload", "m"."content" as "memo_content", "rm"."payload" as "related_payload", "rm"."content" as "related_content" from "memo_relation" as "r" inner join "memo" as "m" on "m"."id" = "r"."memo_id" inner join "memo" as "rm" on "rm"."id" = "r"."related_memo_id" where ("r"."memo_id" in ($1) or "r"."related_memo_id" in ($2)) and ("m"."creator_id" = $3 OR "m"."visibility" IN ('PUBLIC', 'PROTECTED')) and ("rm"."creator_id" = $4 OR "rm"."visibility" IN ('PUBLIC', 'PROTECTED')) order by "r"."memo_id", "r"."related_memo_id", "r"."type"`;
const REACTIONS = `select "reaction".*, "user"."username" as "creator_username" from "reaction" inner join "user" on "user"."id" = "reaction"."creator_id" where "reaction"."memo_id" in ($1) order by "reaction"."id"`;

const time = (seconds: number) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
type Row = Record<string, any>;

function fail(res: http.ServerResponse, status: number, code: string, message: string) {
  const body = JSON.stringify({ code, message });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

async function getMemo(authorization: string | undefined, name: string): Promise<[number, string, string] | string> {
  const token = /^Bearer (\S+)$/i.exec(authorization ?? "")?.[1];
  if (token === undefined) return [401, "unauthenticated", "authentication required"];
  const { payload } = await jwtVerify(token, key, { algorithms: ["HS256"], issuer: "memos", audience: "user.access-token" });
  const userId = Number(payload.sub);
  const gate = (await pool.query(USER, [userId])).rows[0];
  if (gate === undefined) return [401, "unauthenticated", "authentication required"];
  const caller = (await pool.query(USER, [userId])).rows[0] as Row;
  const uid = name.startsWith("memos/") ? name.slice(6) : "";
  const memo = (await pool.query(MEMO, ["COMMENT", uid, 1])).rows[0] as Row | undefined;
  if (memo === undefined) return [404, "not_found", "memo not found"];
  const visibility = memo.parent_id !== null ? memo.parent_visibility : memo.visibility;
  if (visibility === "PRIVATE" && memo.creator_id !== caller.id) return [403, "permission_denied", "permission denied"];
  const [attachments, relations, reactions] = await Promise.all([
    pool.query(ATTACHMENTS, [memo.id]),
    pool.query(RELATIONS, [memo.id, memo.id, caller.id, caller.id]),
    pool.query(REACTIONS, [memo.id]),
  ]);
  const p = memo.payload as Row;
  const property: Row = {};
  for (const k of ["hasLink", "hasTaskList", "hasCode", "hasIncompleteTasks"]) if (p.property?.[k] === true) property[k] = true;
  if (p.property?.title) property.title = p.property.title;
  const relation = (r: Row) => ({
    memo: { name: `memos/${r.memo_uid}`, ...(r.memo_payload?.snippet ? { snippet: r.memo_payload.snippet } : {}) },
    relatedMemo: { name: `memos/${r.related_uid}`, ...(r.related_payload?.snippet ? { snippet: r.related_payload.snippet } : {}) },
    type: r.type === "COMMENT" ? "COMMENT" : "REFERENCE",
  });
  const outgoing = relations.rows.filter((r) => r.memo_id === memo.id);
  const incoming = relations.rows.filter((r) => r.related_memo_id === memo.id && r.memo_id !== memo.id);
  const out: Row = {
    name: `memos/${memo.uid}`,
    state: memo.row_status === "ARCHIVED" ? "ARCHIVED" : "NORMAL",
    creator: `users/${memo.creator_username}`,
    createTime: time(memo.created_ts),
    updateTime: time(memo.updated_ts),
    ...(memo.content === "" ? {} : { content: memo.content }),
    visibility,
    ...(p.tags?.length ? { tags: p.tags } : {}),
    ...(memo.pinned ? { pinned: true } : {}),
    ...(attachments.rows.length
      ? {
          attachments: attachments.rows.map((a) => ({
            name: `attachments/${a.uid}`,
            createTime: time(a.created_ts),
            filename: a.filename,
            ...(a.storage_type === "EXTERNAL" && a.reference !== "" ? { externalLink: a.reference } : {}),
            ...(a.type === "" ? {} : { type: a.type }),
            ...(a.size === 0 ? {} : { size: String(a.size) }),
            memo: `memos/${memo.uid}`,
          })),
        }
      : {}),
    ...(outgoing.length + incoming.length ? { relations: [...outgoing, ...incoming].map(relation) } : {}),
    ...(reactions.rows.length
      ? {
          reactions: reactions.rows.map((r) => ({
            name: `memos/${memo.uid}/reactions/${r.id}`,
            creator: `users/${r.creator_username}`,
            reactionType: r.reaction_type,
            createTime: time(r.created_ts),
          })),
        }
      : {}),
    property,
    ...(memo.parent_id !== null ? { parent: `memos/${memo.parent_uid}` } : {}),
    ...(p.snippet ? { snippet: p.snippet } : {}),
  };
  return JSON.stringify(out);
}

http
  .createServer((req, res) => {
    if (req.url === "/healthz") return void res.end("ok");
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const { name } = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as { name?: string };
      getMemo(req.headers.authorization, name ?? "").then(
        (result) => {
          if (typeof result !== "string") return fail(res, ...result);
          res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(result) });
          res.end(result);
        },
        (err: unknown) => fail(res, 500, "internal", String(err)),
      );
    });
  })
  .listen(Number(process.env.MEMOS_PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
