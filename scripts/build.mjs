// Builds the server into dist/main.js: one ESM bundle of src/ and gen/, with every npm package
// left as an import. Type-checking is separate (npm run typecheck).
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
await build({
  entryPoints: [join(root, "src", "main.ts")],
  outfile: join(root, "dist", "main.js"),
  bundle: true,
  packages: "external",
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  logLevel: "warning",
});
