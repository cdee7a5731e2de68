/**
 * Authorization matrix, accounts, settings and the instance: every caller (anonymous, owner,
 * another user, admin, the owner's PAT, an expired token of the owner) x every RPC that acts on a
 * user's data or on the instance (support/authz-account-ops.ts) x both access modes, each cell
 * over one of Connect JSON, Connect binary, gRPC and REST in rotation. The gate of spec §1.3
 * decides first; the raw response must never carry another user's e-mail address (only the user
 * and admins see it, spec §3.2) or a password hash.
 */
import { jest } from "@jest/globals";
import { ACCOUNT_OPS, type AccountOp } from "./support/authz-account-ops.js";
import { first, rotating, runCell } from "./support/authz-cells.js";
import { ALL_TRANSPORTS, procedureOf, RpcCaller } from "./support/authz-transports.js";
import { ACCESS_MODES, CALLERS, effectiveUser, gate, MemoModel, startAuthzWorld, type AuthzWorld, type CallerKey } from "./support/authz-world.js";

jest.setTimeout(120_000);

let world: AuthzWorld;
let caller: RpcCaller;
const model = new MemoModel();

beforeAll(async () => {
  world = await startAuthzWorld();
  caller = new RpcCaller(world.t.baseUrl);
}, 120_000);

afterAll(async () => {
  caller?.close();
  await world?.close();
});

const title = (op: AccountOp) => `${op.rpc.service.name}.${op.rpc.method.name}${op.label === undefined ? "" : ` (${op.label})`}`;

describe.each(ACCESS_MODES)("%s instance", (mode) => {
  beforeAll(() => world.setAccessMode(mode));

  const cells = ACCOUNT_OPS.flatMap((op, i) => CALLERS.map((c): [string, CallerKey, number] => [title(op), c, i]));
  test.each(cells)("%s called by %s", async (_title, callerKey, opIndex) => {
    const op = ACCOUNT_OPS[opIndex]!;
    const viewer = effectiveUser(callerKey);
    const prepared = await op.request({ world, mode, callerKey, viewer });
    const outcome = first(gate(procedureOf(op.rpc), viewer, mode), op.expect(viewer, mode));
    const kind = rotating(opIndex + CALLERS.indexOf(callerKey) + ACCESS_MODES.indexOf(mode), ALL_TRANSPORTS);
    const token = "token" in prepared ? prepared.token : world.token(callerKey);
    const res = await runCell(caller, world, model, kind, op.rpc, prepared.request, token, viewer, { outcome, allowed: new Set() });
    if (res.outcome === "ok" && op.rpc.method.name === "GetUser" && (viewer === "owner" || viewer === "admin")) {
      // The e-mail does reach those who may see it.
      expect(res.raw).toContain(world.users.owner.email);
    }
  });
});
