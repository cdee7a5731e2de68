import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");

/** `docker compose` (v2 plugin) or `docker-compose` (v1), whichever is installed. */
function composeCommand(): string[] | undefined {
  if (spawnSync("docker", ["compose", "version"]).status === 0) return ["docker", "compose"];
  if (spawnSync("docker-compose", ["version"]).status === 0) return ["docker-compose"];
  return undefined;
}

const compose = composeCommand();
const maybe = compose === undefined ? test.skip : test;

maybe("docker-compose.yml is accepted by docker compose config", () => {
  const [cmd, ...args] = compose!;
  const r = spawnSync(cmd!, [...args, "config", "-q"], { cwd: root, encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
});

test("docker-compose.yml wires the app to Postgres and MinIO through MEMOS_* variables", () => {
  const text = readFileSync(join(root, "docker-compose.yml"), "utf8");
  for (const v of ["MEMOS_DRIVER: postgres", "MEMOS_DSN:", "MEMOS_STORAGE: s3", "MEMOS_S3_ENDPOINT:", "MEMOS_S3_BUCKET:"]) {
    expect(text).toContain(v);
  }
});
