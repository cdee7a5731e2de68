import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** Which database the server stores its data in. */
export type Driver = "pglite" | "postgres";

/** Log levels understood by pino. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/** S3-compatible object storage settings (MinIO, AWS S3, R2, ...). */
export interface S3Config {
  readonly endpoint: string;
  readonly port: number | undefined;
  readonly useSSL: boolean;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly bucket: string;
  readonly region: string;
  readonly pathStyle: boolean;
}

/** The whole server configuration, parsed once from `MEMOS_*` variables and frozen. */
export interface Config {
  /** TCP port of the one listener (Connect, gRPC, gRPC-Web, REST, files). Default 8081. */
  readonly port: number;
  /** Address to bind. Default: all interfaces. */
  readonly addr: string | undefined;
  /** Data directory: the embedded database and local blobs live here. Default `./data`. */
  readonly dataDir: string;
  /** Database driver. Default `pglite` (embedded). */
  readonly driver: Driver;
  /** Postgres connection string, required with `MEMOS_DRIVER=postgres`. */
  readonly dsn: string | undefined;
  /** Canonical external URL of the instance, e.g. `https://memos.example.com`. */
  readonly instanceUrl: string | undefined;
  readonly logLevel: LogLevel;
  /** Largest request body accepted on API routes, in bytes. Default 256 MiB (spec §1.1). */
  readonly maxBodyBytes: number;
  /** Blob storage used when the instance is first set up: `local` (default) or `s3`. */
  readonly storage: "local" | "s3";
  /** S3 settings, present when every required `MEMOS_S3_*` variable is set. */
  readonly s3: S3Config | undefined;
  /** How long a graceful shutdown waits for in-flight calls, in milliseconds. */
  readonly shutdownTimeoutMs: number;
  /** A built Memos web app (`dist/` with `index.html`) served from `/`; unset: no web app. */
  readonly frontendDir: string | undefined;
  /** Interval of heartbeat comments on `GET /api/v1/sse`, in milliseconds. Default 15000. */
  readonly sseHeartbeatMs: number;
  /**
   * How long a Postgres query waits for a connection before failing as unavailable, in
   * milliseconds. Default 5000.
   */
  readonly dbConnectTimeoutMs: number;
  /**
   * How often the blob janitor removes blobs no attachment references (it also runs at start-up),
   * in milliseconds; 0 turns it off. Default 6 hours.
   */
  readonly blobJanitorIntervalMs: number;
  /**
   * Blobs younger than this are never removed by the janitor (uploads in flight), in
   * milliseconds. Default 1 hour.
   */
  readonly blobJanitorGraceMs: number;
}

/** Thrown when the environment holds bad values; the message lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/**
 * Parses the `MEMOS_*` environment into a frozen {@link Config}. Every invalid value is
 * collected, and a {@link ConfigError} naming each variable is thrown at the end.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) return def;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}: expected a whole number from ${min} to ${max}, got "${raw}"`);
      return def;
    }
    return Number(raw);
  };
  const bool = (name: string, def: boolean): boolean => {
    const raw = str(name)?.toLowerCase();
    if (raw === undefined) return def;
    if (["1", "true", "yes", "on"].includes(raw)) return true;
    if (["0", "false", "no", "off"].includes(raw)) return false;
    problems.push(`${name}: expected true or false, got "${raw}"`);
    return def;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], def: T): T => {
    const raw = str(name)?.toLowerCase();
    if (raw === undefined) return def;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name}: expected one of ${allowed.join(", ")}, got "${raw}"`);
      return def;
    }
    return raw as T;
  };

  const port = int("MEMOS_PORT", 8081, 0, 65535);
  const driver = oneOf<Driver>("MEMOS_DRIVER", ["pglite", "postgres"], "pglite");
  const dsn = str("MEMOS_DSN");
  if (driver === "postgres" && dsn === undefined) {
    problems.push("MEMOS_DSN: required when MEMOS_DRIVER=postgres (e.g. postgres://user:pass@host:5432/memos)");
  }
  if (dsn !== undefined && !/^postgres(ql)?:\/\//.test(dsn)) {
    problems.push(`MEMOS_DSN: expected a postgres:// URL`);
  }
  const instanceUrl = str("MEMOS_INSTANCE_URL");
  if (instanceUrl !== undefined) {
    let ok = false;
    try {
      ok = ["http:", "https:"].includes(new URL(instanceUrl).protocol);
    } catch {
      ok = false;
    }
    if (!ok) problems.push(`MEMOS_INSTANCE_URL: expected an http(s) URL, got "${instanceUrl}"`);
  }
  const logLevel = oneOf<LogLevel>("MEMOS_LOG_LEVEL", LOG_LEVELS, "info");
  const maxBodyBytes = int("MEMOS_MAX_BODY_BYTES", 256 * 1024 * 1024, 1024, 2 ** 40);
  const storage = oneOf<"local" | "s3">("MEMOS_STORAGE", ["local", "s3"], "local");
  const shutdownTimeoutMs = int("MEMOS_SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000);
  const sseHeartbeatMs = int("MEMOS_SSE_HEARTBEAT_MS", 15_000, 10, 3_600_000);
  const dbConnectTimeoutMs = int("MEMOS_DB_CONNECT_TIMEOUT_MS", 5_000, 100, 600_000);
  const blobJanitorIntervalMs = int("MEMOS_BLOB_JANITOR_INTERVAL_MS", 6 * 3_600_000, 0, 7 * 86_400_000);
  const blobJanitorGraceMs = int("MEMOS_BLOB_JANITOR_GRACE_MS", 3_600_000, 0, 30 * 86_400_000);
  const frontendRaw = str("MEMOS_FRONTEND_DIR");
  const frontendDir = frontendRaw === undefined ? undefined : resolve(frontendRaw);
  if (frontendDir !== undefined && !(existsSync(frontendDir) && statSync(frontendDir).isDirectory() && existsSync(join(frontendDir, "index.html")))) {
    problems.push(`MEMOS_FRONTEND_DIR: expected a directory holding a built web app (index.html), got "${frontendRaw}"`);
  }

  let s3: S3Config | undefined;
  const s3Endpoint = str("MEMOS_S3_ENDPOINT");
  if (s3Endpoint !== undefined || storage === "s3") {
    const accessKey = str("MEMOS_S3_ACCESS_KEY");
    const secretKey = str("MEMOS_S3_SECRET_KEY");
    const bucket = str("MEMOS_S3_BUCKET");
    const missing = [
      ["MEMOS_S3_ENDPOINT", s3Endpoint],
      ["MEMOS_S3_ACCESS_KEY", accessKey],
      ["MEMOS_S3_SECRET_KEY", secretKey],
      ["MEMOS_S3_BUCKET", bucket],
    ].filter(([, v]) => v === undefined);
    for (const [name] of missing) problems.push(`${name}: required when S3 storage is configured`);
    let endpoint: URL | undefined;
    if (s3Endpoint !== undefined) {
      try {
        endpoint = new URL(s3Endpoint.includes("://") ? s3Endpoint : `https://${s3Endpoint}`);
      } catch {
        problems.push(`MEMOS_S3_ENDPOINT: not a valid URL or host, got "${s3Endpoint}"`);
      }
    }
    if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      problems.push(`MEMOS_S3_BUCKET: expected 3-63 lowercase letters, digits, dots or hyphens, got "${bucket}"`);
    }
    if (missing.length === 0 && endpoint !== undefined) {
      s3 = Object.freeze({
        endpoint: endpoint.hostname,
        port: endpoint.port === "" ? undefined : Number(endpoint.port),
        useSSL: endpoint.protocol === "https:",
        accessKey: accessKey!,
        secretKey: secretKey!,
        bucket: bucket!,
        region: str("MEMOS_S3_REGION") ?? "us-east-1",
        pathStyle: bool("MEMOS_S3_PATH_STYLE", true),
      });
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    port,
    addr: str("MEMOS_ADDR"),
    dataDir: resolve(str("MEMOS_DATA") ?? "data"),
    driver,
    dsn,
    instanceUrl,
    logLevel,
    maxBodyBytes,
    storage,
    s3,
    shutdownTimeoutMs,
    frontendDir,
    sseHeartbeatMs,
    dbConnectTimeoutMs,
    blobJanitorIntervalMs,
    blobJanitorGraceMs,
  });
}
