import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { LinkedIdentitySchema, ListLinkedIdentitiesResponseSchema, type LinkedIdentity, type UserService } from "../../gen/memos/api/v1/user_service_pb.js";
import { parseResourceName, parseUserName } from "../domain/resource-name.js";
import type { UserIdentityRepository, UserIdentityRow } from "../store/user-identity-repository.js";
import type { UserRepository, UserRow } from "../store/user-repository.js";
import { loadCaller } from "./caller.js";

/** What the linked-identity RPCs need. */
export interface LinkedIdentityDeps {
  readonly users: UserRepository;
  readonly identities: UserIdentityRepository;
}

/**
 * UserService linked identities: a user's links to accounts at SSO identity providers
 * (`user_identity` rows), named `users/{username}/linkedIdentities/{idp uid}` (one link per
 * provider). The user and admins may list, read and remove them. Linking needs an OAuth2
 * exchange with the provider, which this server does not do yet: CreateLinkedIdentity answers
 * `unimplemented`, like SSO sign-in.
 */
export function createLinkedIdentityRpcs(
  deps: LinkedIdentityDeps,
): Pick<ServiceImpl<typeof UserService>, "listLinkedIdentities" | "getLinkedIdentity" | "createLinkedIdentity" | "deleteLinkedIdentity"> {
  /** The user `username` when the caller is that user or an admin. */
  const ownerFor = async (ctx: HandlerContext, username: string): Promise<UserRow> => {
    const caller = await loadCaller(ctx, deps.users);
    if (caller === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
    const owner = caller.username === username ? caller : await deps.users.findByUsername(username);
    if (owner === undefined) throw new ConnectError("user not found", Code.NotFound);
    if (owner.id !== caller.id && caller.role !== "ADMIN") throw new ConnectError("permission denied", Code.PermissionDenied);
    return owner;
  };
  const parseName = (name: string): [string, string] => {
    const ids = parseResourceName(name, ["users", "linkedIdentities"]);
    if (ids === undefined) throw new ConnectError(`invalid linked identity name: ${name}`, Code.InvalidArgument);
    return [ids[0]!, ids[1]!];
  };

  return {
    async listLinkedIdentities(req, ctx) {
      const username = parseUserName(req.parent);
      if (username === undefined) throw new ConnectError(`invalid user name: ${req.parent}`, Code.InvalidArgument);
      const owner = await ownerFor(ctx, username);
      const rows = await deps.identities.listByUser(owner.id);
      return create(ListLinkedIdentitiesResponseSchema, { linkedIdentities: rows.map((r) => toMessage(owner.username, r)) });
    },

    async getLinkedIdentity(req, ctx) {
      const [username, provider] = parseName(req.name);
      const owner = await ownerFor(ctx, username);
      const row = await deps.identities.find(owner.id, provider);
      if (row === undefined) throw new ConnectError("linked identity not found", Code.NotFound);
      return toMessage(owner.username, row);
    },

    async createLinkedIdentity() {
      throw new ConnectError("linking an identity provider account is not supported", Code.Unimplemented);
    },

    async deleteLinkedIdentity(req, ctx) {
      const [username, provider] = parseName(req.name);
      const owner = await ownerFor(ctx, username);
      if (!(await deps.identities.delete(owner.id, provider))) throw new ConnectError("linked identity not found", Code.NotFound);
      return create(EmptySchema);
    },
  };
}

function toMessage(username: string, row: UserIdentityRow): LinkedIdentity {
  return create(LinkedIdentitySchema, {
    name: `users/${username}/linkedIdentities/${row.provider}`,
    idpName: `identity-providers/${row.provider}`,
    externUid: row.extern_uid,
  });
}
