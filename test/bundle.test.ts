/**
 * The production bundle (scripts/build.mjs, what `npm start` runs): which packages it still
 * imports from node_modules, and how; and that the bundled server works, loading sharp only once
 * an image is handled.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { build, stop as stopEsbuild, type Metafile } from "esbuild";
import { ROOT, startServer, type ServerProcess } from "../bench/lib/process.js";
import { EXTERNAL, serverBundleOptions } from "../scripts/build.mjs";
import { runWorkload } from "./reliability/workload.js";

/** Packages every start needs, so imported statically. */
const STATIC = ["@node-rs/bcrypt", "pino"];
/** Packages only some processes need, loaded on first use; never static imports. */
const ON_DEMAND = ["@electric-sql/pglite", "pg", "sharp", "minio"];

let outDir: string;
let outfile: string;
let metafile: Metafile;
let dataDir: string;
let server: ServerProcess | undefined;

beforeAll(async () => {
  // Under node_modules, where the packages left out of the bundle resolve, as they do for dist/.
  const cache = join(ROOT, "node_modules", ".cache", "memos-connect");
  mkdirSync(cache, { recursive: true });
  outDir = mkdtempSync(join(cache, "bundle-test-"));
  outfile = join(outDir, "main.js");
  const result = await build({ ...serverBundleOptions(join(ROOT, "src", "main.ts"), outfile), metafile: true, logLevel: "error" });
  metafile = result.metafile;
  dataDir = mkdtempSync(join(tmpdir(), "memos-bundle-"));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await stopEsbuild();
  rmSync(outDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

/** The bundle's imports of npm packages (node: built-ins left out), by package name. */
function packageImports(kind: "import-statement" | "dynamic-import"): string[] {
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined);
  if (output === undefined) throw new Error(`no output in the metafile: ${Object.keys(metafile.outputs).join(", ")}`);
  const names = output.imports
    .filter((i) => i.kind === kind && i.external === true && !i.path.startsWith("node:"))
    .map((i) => (i.path.startsWith("@") ? i.path.split("/").slice(0, 2).join("/") : i.path.split("/")[0]!));
  return [...new Set(names)].sort();
}

test("only the packages every start needs are static imports; the others are loaded on demand", () => {
  expect(packageImports("import-statement")).toEqual([...STATIC].sort());
  expect(packageImports("dynamic-import")).toEqual([...ON_DEMAND].sort());
  expect([...EXTERNAL].sort()).toEqual([...STATIC, ...ON_DEMAND].sort());
});

test("the pure-JavaScript packages (query builder, protobuf, markdown, CEL) are inside the bundle", () => {
  const bundled = Object.keys(metafile.inputs).filter((p) => p.includes("node_modules/"));
  for (const pkg of ["kysely", "@bufbuild/protobuf", "@connectrpc/connect", "jose", "mdast-util-from-markdown", "micromark", "@marcbachmann/cel-js"]) {
    expect([pkg, bundled.some((p) => p.includes(`node_modules/${pkg}/`))]).toEqual([pkg, true]);
  }
});

test("the bundled server starts without sharp, serves the mixed workload, and loads sharp for images", async () => {
  server = await startServer("bundle", relative(ROOT, outfile), { MEMOS_DATA: dataDir, MEMOS_LOG_LEVEL: "warn" }, { timeoutMs: 120_000 });
  const libvipsLoaded = () => /libvips/.test(readFileSync(`/proc/${server!.child.pid}/maps`, "utf8"));
  expect(libvipsLoaded()).toBe(false);

  // Sign-up, sign-in, memos (markdown), filtered lists (CEL), uploads, downloads and thumbnails.
  const result = await runWorkload({ baseUrl: server.baseUrl, clients: 4, seconds: 5, users: 2 });
  expect(result.failures).toEqual([]);
  expect({ serverErrors: result.serverErrors, networkErrors: result.networkErrors, wrong: result.wrong }).toEqual({ serverErrors: 0, networkErrors: 0, wrong: 0 });
  for (const op of ["CreateMemo", "ListMemos", "Upload multipart", "Thumbnail"]) {
    expect([op, result.ops.some((o) => o.op.includes(op) && o.count > 0)]).toEqual([op, true]);
  }
  expect(libvipsLoaded()).toBe(true);
}, 180_000);
