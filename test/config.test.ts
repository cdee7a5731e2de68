import { ConfigError, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  test("defaults: port 8081, all interfaces, embedded PGlite, local blobs", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8081, addr: undefined, driver: "pglite", storage: "local", logLevel: "info", s3: undefined });
    expect(c.maxBodyBytes).toBe(256 * 1024 * 1024);
    expect(c.dataDir.endsWith("/data")).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("reads every MEMOS_* variable", () => {
    const c = loadConfig({
      MEMOS_PORT: "9000",
      MEMOS_ADDR: "127.0.0.1",
      MEMOS_DATA: "/var/opt/memos",
      MEMOS_DRIVER: "postgres",
      MEMOS_DSN: "postgres://u:p@db:5432/memos",
      MEMOS_INSTANCE_URL: "https://memos.example.com",
      MEMOS_LOG_LEVEL: "warn",
      MEMOS_STORAGE: "s3",
      MEMOS_S3_ENDPOINT: "http://minio:9000",
      MEMOS_S3_ACCESS_KEY: "ak",
      MEMOS_S3_SECRET_KEY: "sk",
      MEMOS_S3_BUCKET: "memos",
    });
    expect(c).toMatchObject({
      port: 9000,
      addr: "127.0.0.1",
      dataDir: "/var/opt/memos",
      driver: "postgres",
      dsn: "postgres://u:p@db:5432/memos",
      instanceUrl: "https://memos.example.com",
      logLevel: "warn",
      storage: "s3",
    });
    expect(c.s3).toEqual({
      endpoint: "minio",
      port: 9000,
      useSSL: false,
      accessKey: "ak",
      secretKey: "sk",
      bucket: "memos",
      region: "us-east-1",
      pathStyle: true,
    });
    expect(Object.isFrozen(c.s3)).toBe(true);
  });

  test("every bad value is reported together, each naming its variable", () => {
    let error: unknown;
    try {
      loadConfig({
        MEMOS_PORT: "eighty",
        MEMOS_DRIVER: "mysql",
        MEMOS_INSTANCE_URL: "ftp://x",
        MEMOS_LOG_LEVEL: "loud",
        MEMOS_STORAGE: "s3",
        MEMOS_S3_BUCKET: "A",
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of [
      "MEMOS_PORT",
      "MEMOS_DRIVER",
      "MEMOS_INSTANCE_URL",
      "MEMOS_LOG_LEVEL",
      "MEMOS_S3_ENDPOINT",
      "MEMOS_S3_ACCESS_KEY",
      "MEMOS_S3_SECRET_KEY",
      "MEMOS_S3_BUCKET",
    ]) {
      expect(problems).toContain(name);
    }
  });

  test("postgres without a DSN is refused", () => {
    expect(() => loadConfig({ MEMOS_DRIVER: "postgres" })).toThrow(/MEMOS_DSN: required/);
  });

  test("a port out of range is refused", () => {
    expect(() => loadConfig({ MEMOS_PORT: "70000" })).toThrow(/MEMOS_PORT/);
  });
});

describe("loadConfig: fault handling settings", () => {
  test("database connect timeout and blob janitor: defaults, values, bad values named", () => {
    expect(loadConfig({})).toMatchObject({ dbConnectTimeoutMs: 5_000, blobJanitorIntervalMs: 6 * 3_600_000, blobJanitorGraceMs: 3_600_000 });
    expect(
      loadConfig({ MEMOS_DB_CONNECT_TIMEOUT_MS: "1500", MEMOS_BLOB_JANITOR_INTERVAL_MS: "0", MEMOS_BLOB_JANITOR_GRACE_MS: "0" }),
    ).toMatchObject({ dbConnectTimeoutMs: 1_500, blobJanitorIntervalMs: 0, blobJanitorGraceMs: 0 });
    let error: unknown;
    try {
      // An interval past 7 days would overflow Node's timer (it would fire at once, forever).
      loadConfig({ MEMOS_DB_CONNECT_TIMEOUT_MS: "0", MEMOS_BLOB_JANITOR_INTERVAL_MS: String(30 * 86_400_000), MEMOS_BLOB_JANITOR_GRACE_MS: "-1" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of ["MEMOS_DB_CONNECT_TIMEOUT_MS", "MEMOS_BLOB_JANITOR_INTERVAL_MS", "MEMOS_BLOB_JANITOR_GRACE_MS"]) expect(problems).toContain(name);
  });
});
