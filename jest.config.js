/** Jest in native ESM mode (jose and other dependencies are ESM-only), TypeScript through SWC. */
export default {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "es6" } },
    ],
  },
  testTimeout: 60000,
  // Every test file runs in a worker process (never in band), and a worker that has grown past
  // the limit (PGlite instances are large) is replaced after its file, so memory stays bounded.
  maxWorkers: 2,
  workerIdleMemoryLimit: "1GB",
  reporters: ["default", "<rootDir>/scripts/summary-reporter.cjs"],
};
