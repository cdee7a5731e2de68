import { create, fromJson, toJsonString, type JsonValue } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  IdentityProvider_Type,
  IdentityProviderConfigSchema,
  IdentityProviderSchema,
  ListIdentityProvidersResponseSchema,
  type IdentityProvider,
  type IdentityProviderConfig,
  type IdentityProviderService,
} from "../../gen/memos/api/v1/idp_service_pb.js";
import { resolveUid } from "../domain/attachment-rules.js";
import { parseResourceName } from "../domain/resource-name.js";
import type { IdentityProviderPatch, IdentityProviderRepository, IdentityProviderRow } from "../store/identity-provider-repository.js";
import { isUniqueViolation, type UserRepository, type UserRow } from "../store/user-repository.js";
import { loadCaller } from "./caller.js";
import type { InstanceSettings } from "./instance-settings.js";

/** What IdentityProviderService needs. */
export interface IdentityProviderServiceDeps {
  readonly users: UserRepository;
  readonly identityProviders: IdentityProviderRepository;
  /** Instance settings: password sign-in must not be off while no provider is left. */
  readonly settings: Pick<InstanceSettings, "general">;
}

const TITLE_MAX = 256;

/**
 * IdentityProviderService: the SSO providers of the instance (`idp` rows), named
 * `identity-providers/{uid}`. Anyone may list them (the sign-in page shows their buttons, so
 * ListIdentityProviders is a bootstrap method); reading one needs a signed-in caller; creating,
 * changing and removing them is for admins. OAuth2 client secrets are write-only, as every other
 * stored credential: never answered, and an empty secret in a change keeps the stored one.
 * Signing in through a provider is not implemented yet (AuthService answers `unimplemented`).
 */
export function createIdentityProviderService(deps: IdentityProviderServiceDeps): Partial<ServiceImpl<typeof IdentityProviderService>> {
  const requireCaller = async (ctx: HandlerContext): Promise<UserRow> => {
    const caller = await loadCaller(ctx, deps.users);
    if (caller === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
    return caller;
  };
  const requireAdmin = async (ctx: HandlerContext): Promise<UserRow> => {
    const caller = await requireCaller(ctx);
    if (caller.role !== "ADMIN") throw new ConnectError("permission denied", Code.PermissionDenied);
    return caller;
  };
  const uidOf = (name: string): string => {
    const ids = parseResourceName(name, ["identity-providers"]);
    if (ids === undefined) throw new ConnectError(`invalid identity provider name: ${name}`, Code.InvalidArgument);
    return ids[0]!;
  };
  const notFound = () => new ConnectError("identity provider not found", Code.NotFound);

  return {
    async listIdentityProviders() {
      const rows = await deps.identityProviders.list();
      return create(ListIdentityProvidersResponseSchema, { identityProviders: rows.map(toMessage) });
    },

    async getIdentityProvider(req, ctx) {
      const uid = uidOf(req.name);
      await requireCaller(ctx);
      const row = await deps.identityProviders.findByUid(uid);
      if (row === undefined) throw notFound();
      return toMessage(row);
    },

    async createIdentityProvider(req, ctx) {
      await requireAdmin(ctx);
      const input = req.identityProvider;
      if (input === undefined) throw new ConnectError("identity provider is required", Code.InvalidArgument);
      const uid = resolveUid(req.identityProviderId);
      if (!uid.ok) throw new ConnectError(uid.message, Code.InvalidArgument);
      checkTitle(input.title);
      if (input.type !== IdentityProvider_Type.OAUTH2) throw new ConnectError("identity provider type must be OAUTH2", Code.InvalidArgument);
      checkIdentifierFilter(input.identifierFilter);
      const config = checkConfig(input.config);
      try {
        const row = await deps.identityProviders.create({
          uid: uid.uid,
          name: input.title,
          type: "OAUTH2",
          identifierFilter: input.identifierFilter,
          config: toJsonString(IdentityProviderConfigSchema, config),
        });
        return toMessage(row);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConnectError(`identity provider ${JSON.stringify(uid.uid)} already exists`, Code.AlreadyExists);
        throw err;
      }
    },

    async updateIdentityProvider(req, ctx) {
      const input = req.identityProvider;
      if (input === undefined) throw new ConnectError("identity provider is required", Code.InvalidArgument);
      const uid = uidOf(input.name);
      const paths = req.updateMask?.paths ?? [];
      if (paths.length === 0) throw new ConnectError("update mask is required", Code.InvalidArgument);
      await requireAdmin(ctx);
      const existing = await deps.identityProviders.findByUid(uid);
      if (existing === undefined) throw notFound();
      const patch: IdentityProviderPatch = {};
      for (const path of paths) {
        switch (path) {
          case "title":
            checkTitle(input.title);
            patch.name = input.title;
            break;
          case "identifier_filter":
            checkIdentifierFilter(input.identifierFilter);
            patch.identifier_filter = input.identifierFilter;
            break;
          case "config": {
            const config = checkConfig(input.config);
            const stored = storedConfig(existing);
            if (config.config.case === "oauth2Config" && config.config.value.clientSecret === "" && stored.config.case === "oauth2Config") {
              config.config.value.clientSecret = stored.config.value.clientSecret;
            }
            patch.config = toJsonString(IdentityProviderConfigSchema, config);
            break;
          }
          case "type":
            if (input.type !== IdentityProvider_Type.OAUTH2) throw new ConnectError("identity provider type must be OAUTH2", Code.InvalidArgument);
            break;
          default:
            throw new ConnectError(`invalid update path: ${path}`, Code.InvalidArgument);
        }
      }
      const row = await deps.identityProviders.update(uid, patch);
      if (row === undefined) throw notFound();
      return toMessage(row);
    },

    async deleteIdentityProvider(req, ctx) {
      const uid = uidOf(req.name);
      await requireAdmin(ctx);
      // The mirror of UpdateInstanceSetting's rule: never leave users without a way to sign in.
      // Read before the transaction: the guard runs inside it and must not query (PGlite has one connection).
      const passwordSignInOff = (await deps.settings.general()).disallowPasswordAuth;
      const deleted = await deps.identityProviders.delete(uid, async (remaining) => {
        if (remaining === 0 && passwordSignInOff) {
          throw new ConnectError("the last identity provider cannot be removed while password sign-in is disabled", Code.FailedPrecondition);
        }
      });
      if (!deleted) throw notFound();
      return create(EmptySchema);
    },
  };
}

function checkTitle(title: string): void {
  if (title.trim() === "") throw new ConnectError("title is required", Code.InvalidArgument);
  if (Array.from(title).length > TITLE_MAX) throw new ConnectError(`title is too long (max ${TITLE_MAX} characters)`, Code.InvalidArgument);
}

/** The identifier filter is a regular expression an identifier must match (empty: any). */
function checkIdentifierFilter(filter: string): void {
  if (filter === "") return;
  try {
    new RegExp(filter, "u");
  } catch {
    throw new ConnectError("invalid identifier filter: not a regular expression", Code.InvalidArgument);
  }
}

/** OAuth2 needs a client id, the three endpoints (http or https) and the identifier claim. */
function checkConfig(config: IdentityProviderConfig | undefined): IdentityProviderConfig {
  if (config?.config.case !== "oauth2Config") throw new ConnectError("oauth2 config is required", Code.InvalidArgument);
  const oauth2 = config.config.value;
  if (oauth2.clientId.trim() === "") throw new ConnectError("oauth2 config: client_id is required", Code.InvalidArgument);
  for (const [field, value] of [
    ["auth_url", oauth2.authUrl],
    ["token_url", oauth2.tokenUrl],
    ["user_info_url", oauth2.userInfoUrl],
  ] as const) {
    let ok = false;
    try {
      ok = ["http:", "https:"].includes(new URL(value).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new ConnectError(`oauth2 config: ${field} must be an http(s) URL`, Code.InvalidArgument);
  }
  if ((oauth2.fieldMapping?.identifier ?? "").trim() === "") {
    throw new ConnectError("oauth2 config: field_mapping.identifier is required", Code.InvalidArgument);
  }
  return config;
}

function storedConfig(row: IdentityProviderRow): IdentityProviderConfig {
  const raw = typeof row.config === "string" ? (JSON.parse(row.config) as JsonValue) : (row.config as JsonValue);
  return fromJson(IdentityProviderConfigSchema, raw ?? {}, { ignoreUnknownFields: true });
}

/** The API message of a row, its client secret left out. */
function toMessage(row: IdentityProviderRow): IdentityProvider {
  const config = storedConfig(row);
  if (config.config.case === "oauth2Config") config.config.value.clientSecret = "";
  return create(IdentityProviderSchema, {
    name: `identity-providers/${row.uid}`,
    type: row.type === "OAUTH2" ? IdentityProvider_Type.OAUTH2 : IdentityProvider_Type.TYPE_UNSPECIFIED,
    title: row.name,
    identifierFilter: row.identifier_filter,
    config,
  });
}
