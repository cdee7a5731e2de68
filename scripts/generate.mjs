// Regenerates gen/ from proto/ with local plugins only (no registry access).
// The google/api protos (and google/type/color.proto) come from the google-proto-files npm
// dependency and are copied into the git-ignored third_party/ folder first, so no third-party
// source is committed.
//   node scripts/generate.mjs              copy google/api, buf lint, buf generate
//   node scripts/generate.mjs --lint-only  copy google/api, buf lint
import { copyFileSync, mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const source = join(dirname(require.resolve("google-proto-files/package.json")), "google", "api");
const target = join(root, "third_party", "googleapis", "google", "api");
mkdirSync(target, { recursive: true });
for (const name of ["annotations", "http", "field_behavior", "resource", "client", "launch_stage", "httpbody"]) {
  copyFileSync(join(source, `${name}.proto`), join(target, `${name}.proto`));
}
// google.type.Color (tag colours in the settings messages) imports only WKTs.
const typeSource = join(dirname(source), "type");
const typeTarget = join(dirname(target), "type");
mkdirSync(typeTarget, { recursive: true });
copyFileSync(join(typeSource, "color.proto"), join(typeTarget, "color.proto"));

const buf = join(root, "node_modules", ".bin", "buf");
const run = (...args) => execFileSync(buf, args, { cwd: root, stdio: "inherit" });
run("lint");
if (!process.argv.includes("--lint-only")) run("generate");
if (!process.argv.includes("--lint-only")) await import("./proto-comments.mjs"); // proto comments for the OpenAPI document
