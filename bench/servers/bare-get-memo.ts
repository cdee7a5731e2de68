// Baseline for GetMemo: a bare node:http handler on node-postgres that does what our GetMemo does
// for a signed-in caller (verify the HS256 access token, the same three SQL statements: the
// caller's row for the auth gate and again for the service, then the memo with its creator,
// comment parent, attachments, reactions and relations) and answers the same Connect JSON.
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
// The memo with its attachments, reactions and relations (with snippets): our statement, verbatim.
const MEMO = `select "memo"."id", "memo"."uid", "memo"."creator_id", "memo"."created_ts", "memo"."updated_ts", "memo"."row_status", "memo"."content", "memo"."visibility", "memo"."pinned", "memo"."payload", "creator"."username" as "creator_username", "parent"."id" as "parent_id", "parent"."uid" as "parent_uid", "parent"."creator_id" as "parent_creator_id", "parent"."visibility" as "parent_visibility", "parent"."row_status" as "parent_row_status", (SELECT coalesce(json_agg(json_build_object( 'id', a.id, 'uid', a.uid, 'creator_id', a.creator_id, 'created_ts', a.created_ts, 'updated_ts', a.updated_ts, 'filename', a.filename, 'type', a.type, 'size', a.size, 'memo_id', a.memo_id, 'storage_type', a.storage_type, 'reference', a.reference, 'payload', a.payload) ORDER BY a.updated_ts DESC, a.id DESC), '[]'::json) FROM attachment a WHERE a.memo_id = memo.id) as "attachments", (SELECT coalesce(json_agg(json_build_object( 'id', r.id, 'created_ts', r.created_ts, 'creator_id', r.creator_id, 'memo_id', r.memo_id, 'reaction_type', r.reaction_type, 'creator_username', u.username) ORDER BY r.id), '[]'::json) FROM reaction r JOIN "user" u ON u.id = r.creator_id WHERE r.memo_id = memo.id) as "reactions", (SELECT coalesce(json_agg(json_build_object( 'memo_id', memo.id, 'memo_uid', memo.uid, 'related_memo_id', x.id, 'related_uid', x.uid, 'type', r.type , 'memo_payload', json_build_object('snippet', "memo"."payload"->'snippet'), 'memo_content', CASE WHEN "memo"."payload"->'snippet' IS NULL THEN "memo"."content" ELSE '' END , 'related_payload', json_build_object('snippet', "x"."payload"->'snippet'), 'related_content', CASE WHEN "x"."payload"->'snippet' IS NULL THEN "x"."content" ELSE '' END) ORDER BY r.related_memo_id, r.type), '[]'::json) FROM memo_relation r JOIN memo x ON x.id = r.related_memo_id WHERE r.memo_id = memo.id AND ("memo"."creator_id" = $1 OR "memo"."visibility" IN ('PUBLIC', 'PROTECTED')) AND ("x"."creator_id" = $2 OR "x"."visibility" IN ('PUBLIC', 'PROTECTED'))) as "relations_out", (SELECT coalesce(json_agg(json_build_object( 'memo_id', x.id, 'memo_uid', x.uid, 'related_memo_id', memo.id, 'related_uid', memo.uid, 'type', r.type , 'memo_payload', json_build_object('snippet', "x"."payload"->'snippet'), 'memo_content', CASE WHEN "x"."payload"->'snippet' IS NULL THEN "x"."content" ELSE '' END , 'related_payload', json_build_object('snippet', "memo"."payload"->'snippet'), 'related_content', CASE WHEN "memo"."payload"->'snippet' IS NULL THEN "memo"."content" ELSE '' END) ORDER BY r.memo_id, r.type), '[]'::json) FROM memo_relation r JOIN memo x ON x.id = r.memo_id WHERE r.related_memo_id = memo.id AND r.memo_id <> memo.id AND ("memo"."creator_id" = $3 OR "memo"."visibility" IN ('PUBLIC', 'PROTECTED')) AND ("x"."creator_id" = $4 OR "x"."visibility" IN ('PUBLIC', 'PROTECTED'))) as "relations_in" from "memo" left join "user" as "creator" on "creator"."id" = "memo"."creator_id" left join "memo_relation" as "cr" on "cr"."memo_id" = "memo"."id" and "cr"."type" = $5 left join "memo" as "parent" on "parent"."id" = "cr"."related_memo_id" where "memo"."uid" = $6 limit $7`;

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
  const memo = (await pool.query(MEMO, [caller.id, caller.id, caller.id, caller.id, "COMMENT", uid, 1])).rows[0] as Row | undefined;
  if (memo === undefined) return [404, "not_found", "memo not found"];
  const visibility = memo.parent_id !== null ? memo.parent_visibility : memo.visibility;
  if (visibility === "PRIVATE" && memo.creator_id !== caller.id) return [403, "permission_denied", "permission denied"];
  const attachments = memo.attachments as Row[];
  const reactions = memo.reactions as Row[];
  const relations = [...(memo.relations_out as Row[]), ...(memo.relations_in as Row[])];
  const p = memo.payload as Row;
  const property: Row = {};
  for (const k of ["hasLink", "hasTaskList", "hasCode", "hasIncompleteTasks"]) if (p.property?.[k] === true) property[k] = true;
  if (p.property?.title) property.title = p.property.title;
  const relation = (r: Row) => ({
    memo: { name: `memos/${r.memo_uid}`, ...(r.memo_payload?.snippet ? { snippet: r.memo_payload.snippet } : {}) },
    relatedMemo: { name: `memos/${r.related_uid}`, ...(r.related_payload?.snippet ? { snippet: r.related_payload.snippet } : {}) },
    type: r.type === "COMMENT" ? "COMMENT" : "REFERENCE",
  });
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
    ...(attachments.length
      ? {
          attachments: attachments.map((a) => ({
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
    ...(relations.length ? { relations: relations.map(relation) } : {}),
    ...(reactions.length
      ? {
          reactions: reactions.map((r) => ({
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
