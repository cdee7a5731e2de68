// Builds the server into dist/main.js: one ESM bundle of src/, gen/ and the pure-JavaScript npm
// packages. Loading a package from node_modules costs a resolution, a file read and a compile
// per module (kysely alone is some 260 modules), a noticeable part of a start; bundled, they are
// one file. The packages in EXTERNAL stay imports: native addons, PGlite (its WebAssembly and
// data files sit beside its code), and CommonJS packages that load parts of themselves at run
// time. Type-checking is separate (npm run typecheck).
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Packages loaded from node_modules at run time rather than bundled. */
export const EXTERNAL = ["@electric-sql/pglite", "@node-rs/bcrypt", "sharp", "pino", "pg", "minio"];

/** The esbuild options of the server bundle: `entry` bundled into `outfile`. */
export function serverBundleOptions(entry, outfile) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    external: EXTERNAL,
    platform: "node",
    target: "node20",
    format: "esm",
    sourcemap: true,
    logLevel: "warning",
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  await build(serverBundleOptions(join(root, "src", "main.ts"), join(root, "dist", "main.js")));
}
