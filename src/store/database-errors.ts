import { isConnectionFailure, someInChain } from "../connection-errors.js";

/**
 * Messages of pg and pg-pool for a connection that could not be made or was lost (they carry no
 * code), and PGlite's once it is closed.
 */
const UNAVAILABLE_MESSAGES = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
  "Cannot use a pool after calling end on the pool",
  "PGlite is closed",
];

/**
 * SQLSTATEs that say the server cannot serve now: class 08 (connection exception), 57P01
 * admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or in recovery),
 * 53300 too_many_connections.
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300";
}

/**
 * Whether `err` means the database is unreachable or going away (as opposed to a failed
 * statement): the caller should see `unavailable` and may retry, and `/healthz` turns 503.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (isConnectionFailure(err)) return true;
  return someInChain(err, (e) => {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && isUnavailableSqlState(code)) return true;
    return typeof message === "string" && UNAVAILABLE_MESSAGES.some((m) => message.startsWith(m));
  });
}

/**
 * The database's message when `err` is a data exception (SQLSTATE class 22): a value the
 * statement was given cannot be stored or compared, such as text with a NUL character (22021),
 * an integer out of range for its column (22003) or a string too long (22001). Those values come
 * from the request, so the caller gets `invalid_argument` with this message. `undefined` for
 * every other error.
 */
export function dataExceptionMessage(err: unknown): string | undefined {
  let message: string | undefined;
  someInChain(err, (e) => {
    const { code, message: m } = e as { code?: unknown; message?: unknown };
    if (typeof code === "string" && /^22[0-9A-Z]{3}$/.test(code) && typeof m === "string") {
      message = m;
      return true;
    }
    return false;
  });
  return message;
}
