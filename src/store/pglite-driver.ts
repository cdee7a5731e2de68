import type { PGlite } from "@electric-sql/pglite";
import {
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from "kysely";

/**
 * A Kysely dialect for PGlite that talks the extended query protocol to it directly.
 *
 * PGlite's own `query()` enters the WebAssembly backend six times per statement (parse, describe,
 * bind, describe, execute, sync), plans the statement afresh each time and decodes the answer
 * with a general protocol parser; for the small statements an API call makes, that is most of
 * the statement's cost. Here every distinct SQL text is prepared once as a named statement (its
 * parameter types learnt then), and each execution is one batch (bind, describe, execute, sync)
 * in one call into the backend, whose answer is decoded in place. Postgres keeps the statements'
 * parse trees and, once it finds a generic plan as good, the plan.
 *
 * Values are serialized and parsed with the PGlite instance's own type handlers (so rows look
 * exactly as PGlite's `query()` returns them), and errors are PGlite's `DatabaseError` with the
 * server's fields (`code`, `detail`, `constraint`, ...).
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly client: PGlite) {}

  createAdapter() {
    return new PostgresAdapter();
  }

  createDriver(): Driver {
    return new PGliteDriver(this.client);
  }

  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}

/** Prepared statements kept per database; the least recently used is closed beyond this. */
const MAX_STATEMENTS = 256;

type PGliteModule = typeof import("@electric-sql/pglite");

class PGliteDriver implements Driver {
  readonly #client: PGlite;
  #connection: PGliteConnection | undefined;
  #busy = false;
  readonly #waiting: Array<(connection: PGliteConnection) => void> = [];

  constructor(client: PGlite) {
    this.#client = client;
  }

  async init(): Promise<void> {
    await this.#client.waitReady;
    this.#connection = new PGliteConnection(this.#client, await import("@electric-sql/pglite"));
  }

  /** One connection, handed to one holder at a time (a transaction keeps it to its end). */
  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = this.#connection!;
    if (!this.#busy) {
      this.#busy = true;
      return connection;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  async releaseConnection(): Promise<void> {
    const next = this.#waiting.shift();
    if (next === undefined) this.#busy = false;
    else next(this.#connection!);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const begin = settings.isolationLevel === undefined ? "begin" : `start transaction isolation level ${settings.isolationLevel}`;
    await (connection as PGliteConnection).run(begin);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).run("commit");
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).run("rollback");
  }

  async destroy(): Promise<void> {
    if (!this.#client.closed) await this.#client.close();
  }
}

/** A statement prepared in the backend: its name and the types of its parameters. */
interface Prepared {
  readonly name: string;
  readonly paramTypes: readonly number[];
}

type Serializer = (value: unknown) => string;
type Parser = (text: string, typeId: number) => unknown;

class PGliteConnection implements DatabaseConnection {
  readonly #client: PGlite;
  readonly #pglite: PGliteModule;
  /** SQL text to its prepared statement, least recently used first. */
  readonly #statements = new Map<string, Prepared>();
  #nextName = 0;
  /** Statements evicted from the cache, closed in the backend with the next preparation. */
  #toClose: string[] = [];

  constructor(client: PGlite, pglite: PGliteModule) {
    this.#client = client;
    this.#pglite = pglite;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return (await this.#execute(query.sql, query.parameters, true)) as QueryResult<R>;
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("streaming queries are not supported on PGlite");
  }

  /** Runs a statement without parameters (transaction control). */
  async run(sql: string): Promise<void> {
    await this.#execute(sql, [], false);
  }

  async #execute(sql: string, parameters: readonly unknown[], retry: boolean): Promise<QueryResult<unknown>> {
    if (this.#client.closed) throw new Error("PGlite is closed");
    const statement = this.#prepare(sql);
    const serializers = this.#client.serializers as Record<number, Serializer | undefined>;
    const values: Array<string | null> = new Array(parameters.length);
    for (let i = 0; i < parameters.length; i++) {
      const value = parameters[i];
      if (value === null || value === undefined) values[i] = null;
      else {
        const serialize = serializers[statement.paramTypes[i]!];
        values[i] = serialize === undefined ? String(value) : serialize(value);
      }
    }
    const s = this.#pglite.protocol.serialize;
    const reply = this.#call([s.bind({ statement: statement.name, values }), s.describe({ type: "P" }), s.execute({}), s.sync()]);
    const result = decodeResult(reply, this.#client.parsers as Record<number, Parser | undefined>);
    if (result.error !== undefined) {
      // A statement prepared before its tables changed shape cannot run again ("cached plan
      // must not change result type"): prepare it anew, once, when no transaction is affected.
      if (retry && result.error.code === "0A000" && result.idle) {
        this.#forget(sql);
        return this.#execute(sql, parameters, false);
      }
      throw this.#databaseError(result.error, sql, parameters);
    }
    return result.numAffectedRows === undefined ? { rows: result.rows } : { rows: result.rows, numAffectedRows: result.numAffectedRows };
  }

  /** The prepared statement for `sql`, preparing it (and closing evicted ones) when new. */
  #prepare(sql: string): Prepared {
    const cached = this.#statements.get(sql);
    if (cached !== undefined) {
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    const s = this.#pglite.protocol.serialize;
    const name = `memos_${this.#nextName++}`;
    const parts = this.#toClose.map((n) => s.close({ type: "S", name: n }));
    this.#toClose = [];
    parts.push(s.parse({ name, text: sql }), s.describe({ type: "S", name }), s.sync());
    const reply = decodeResult(this.#call(parts), {});
    if (reply.error !== undefined) throw this.#databaseError(reply.error, sql, []);
    const prepared = { name, paramTypes: reply.paramTypes };
    this.#statements.set(sql, prepared);
    if (this.#statements.size > MAX_STATEMENTS) {
      const [oldest, evicted] = this.#statements.entries().next().value as [string, Prepared];
      this.#statements.delete(oldest);
      this.#toClose.push(evicted.name);
    }
    return prepared;
  }

  #forget(sql: string): void {
    const prepared = this.#statements.get(sql);
    if (prepared === undefined) return;
    this.#statements.delete(sql);
    this.#toClose.push(prepared.name);
  }

  /** Sends the messages to the backend in one call; answers its reply (valid until the next call). */
  #call(parts: readonly Uint8Array[]): Uint8Array {
    let length = 0;
    for (const p of parts) length += p.length;
    const message = new Uint8Array(length);
    let offset = 0;
    for (const p of parts) {
      message.set(p, offset);
      offset += p.length;
    }
    return this.#client.execProtocolRawSync(message);
  }

  #databaseError(fields: ErrorFields, sql: string, parameters: readonly unknown[]): Error {
    const error = new this.#pglite.messages.DatabaseError(fields.message ?? "database error", 0, "error");
    Object.assign(error, {
      severity: fields.severity,
      code: fields.code,
      detail: fields.detail,
      hint: fields.hint,
      position: fields.position,
      internalPosition: fields.internalPosition,
      internalQuery: fields.internalQuery,
      where: fields.where,
      schema: fields.schema,
      table: fields.table,
      column: fields.column,
      dataType: fields.dataType,
      constraint: fields.constraint,
      file: fields.file,
      line: fields.line,
      routine: fields.routine,
      query: sql,
      params: parameters,
    });
    return error;
  }
}

/** The fields of an ErrorResponse, by the names pg and PGlite give them. */
interface ErrorFields {
  severity?: string;
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;
}

const ERROR_FIELD_NAMES: Readonly<Record<string, keyof ErrorFields>> = {
  S: "severity",
  C: "code",
  M: "message",
  D: "detail",
  H: "hint",
  P: "position",
  p: "internalPosition",
  q: "internalQuery",
  W: "where",
  s: "schema",
  t: "table",
  c: "column",
  d: "dataType",
  n: "constraint",
  F: "file",
  L: "line",
  R: "routine",
};

/** What a reply held: rows, the affected-row count, parameter types, or the first error. */
interface DecodedResult {
  rows: Array<Record<string, unknown>>;
  numAffectedRows: bigint | undefined;
  paramTypes: number[];
  error: ErrorFields | undefined;
  /** The backend is outside any transaction after the reply (ReadyForQuery status `I`). */
  idle: boolean;
}

/** Commands whose completion tag ends with the number of rows they touched. */
const COUNTED_COMMANDS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);

/** Decodes the backend messages of one reply (text format values). */
function decodeResult(reply: Uint8Array, parsers: Record<number, Parser | undefined>): DecodedResult {
  const buf = Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
  const result: DecodedResult = { rows: [], numAffectedRows: undefined, paramTypes: [], error: undefined, idle: true };
  let names: string[] = [];
  let columnParsers: Array<Parser | undefined> = [];
  let types: number[] = [];
  let offset = 0;
  while (offset + 5 <= buf.length) {
    const kind = buf[offset]!;
    const end = offset + 1 + buf.readInt32BE(offset + 1);
    let p = offset + 5;
    switch (kind) {
      case 0x54: {
        // 'T' RowDescription: name, table oid, column number, type oid, size, modifier, format.
        const n = buf.readInt16BE(p);
        p += 2;
        names = new Array<string>(n);
        types = new Array<number>(n);
        columnParsers = new Array<Parser | undefined>(n);
        for (let i = 0; i < n; i++) {
          const zero = buf.indexOf(0, p);
          names[i] = buf.toString("utf8", p, zero);
          p = zero + 1;
          const type = buf.readInt32BE(p + 6);
          types[i] = type;
          columnParsers[i] = parsers[type];
          p += 18;
        }
        break;
      }
      case 0x44: {
        // 'D' DataRow: per column a length (-1: NULL) and the text.
        const n = buf.readInt16BE(p);
        p += 2;
        const row: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const length = buf.readInt32BE(p);
          p += 4;
          if (length === -1) row[names[i]!] = null;
          else {
            const text = buf.toString("utf8", p, p + length);
            p += length;
            const parse = columnParsers[i];
            row[names[i]!] = parse === undefined ? text : parse(text, types[i]!);
          }
        }
        result.rows.push(row);
        break;
      }
      case 0x43: {
        // 'C' CommandComplete: "INSERT 0 3", "UPDATE 2", "SELECT 5", ...
        const tag = buf.toString("utf8", p, end - 1);
        const space = tag.indexOf(" ");
        if (space !== -1 && COUNTED_COMMANDS.has(tag.slice(0, space))) {
          result.numAffectedRows = BigInt(tag.slice(tag.lastIndexOf(" ") + 1));
        }
        break;
      }
      case 0x74: {
        // 't' ParameterDescription
        const n = buf.readInt16BE(p);
        p += 2;
        for (let i = 0; i < n; i++) result.paramTypes.push(buf.readInt32BE(p + 4 * i));
        break;
      }
      case 0x45: {
        // 'E' ErrorResponse: (code byte, text) pairs up to a zero byte. The first error counts.
        if (result.error !== undefined) break;
        const fields: ErrorFields = {};
        while (p < end && buf[p] !== 0) {
          const code = String.fromCharCode(buf[p]!);
          const zero = buf.indexOf(0, p + 1);
          const name = ERROR_FIELD_NAMES[code];
          if (name !== undefined) fields[name] = buf.toString("utf8", p + 1, zero);
          p = zero + 1;
        }
        result.error = fields;
        break;
      }
      case 0x5a:
        // 'Z' ReadyForQuery: transaction status I (idle), T (in a transaction) or E (failed one).
        result.idle = buf[p] === 0x49;
        break;
      default:
        // ParseComplete, BindComplete, CloseComplete, NoData, EmptyQuery, notices, notifications.
        break;
    }
    offset = end;
  }
  return result;
}
