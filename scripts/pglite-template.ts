// Runs at `npm install` (postinstall): makes the migrated PGlite template that lets a new data
// directory start without running initdb or the migrations (see src/store/pglite-template.ts).
import { writePgliteTemplate } from "../src/store/pglite-template.js";

console.log(`pglite template: ${(await writePgliteTemplate()) ?? "not made"}`);
