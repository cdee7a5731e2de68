/**
 * The authorization matrix covers every RPC: each method of every service generated under
 * gen/memos/api/v1 must have cells in one of the authz-*.test.ts files, so a new RPC fails here
 * until its authorization is written down.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import { coveredProcedures } from "./support/authz-coverage.js";

const GEN_DIR = fileURLToPath(new URL("../../gen/memos/api/v1/", import.meta.url));

async function generatedServices(): Promise<DescService[]> {
  const services: DescService[] = [];
  for (const file of readdirSync(GEN_DIR).filter((f) => f.endsWith("_pb.ts"))) {
    const mod = (await import(`${GEN_DIR}${file}`)) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      if (typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "service") services.push(value as DescService);
    }
  }
  return services;
}

test("every RPC of every generated service has authorization-matrix cells", async () => {
  const services = await generatedServices();
  expect(services.map((s) => s.typeName).sort()).toEqual(
    expect.arrayContaining(["memos.api.v1.AttachmentService", "memos.api.v1.AuthService", "memos.api.v1.MemoService", "memos.api.v1.UserService"]),
  );
  const all = services.flatMap((s) => s.methods.map((m) => `/${s.typeName}/${m.name}`));
  const covered = coveredProcedures();
  expect(all.filter((p) => !covered.has(p))).toEqual([]);
  // And nothing in the matrix names an RPC that does not exist.
  expect([...covered].filter((p) => !all.includes(p))).toEqual([]);
  expect(all.length).toBeGreaterThanOrEqual(70);
});
