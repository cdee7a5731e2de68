import { create } from "@bufbuild/protobuf";
import { EmptySchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  GetCurrentUserResponseSchema,
  RefreshTokenResponseSchema,
  SignInResponseSchema,
  type AuthService,
} from "../../gen/memos/api/v1/auth_service_pb.js";
import type { AccessTokens } from "../auth/access-token.js";
import { clientAddress } from "../auth/client-address.js";
import type { PasswordHasher } from "../auth/password.js";
import { clearedRefreshCookie, isSecureRequest, readCookie, REFRESH_COOKIE, refreshCookie } from "../auth/refresh-cookie.js";
import type { ClientInfo, RefreshSessions } from "../auth/refresh-token.js";
import type { SignInThrottle } from "../auth/sign-in-throttle.js";
import type { Logger } from "../logger.js";
import { peerAddressKey } from "../server/request-context.js";
import type { UserRepository } from "../store/user-repository.js";
import { callerIdentity, loadCaller, viewerOf } from "./caller.js";
import type { InstanceSettings } from "./instance-settings.js";
import { toUserMessage } from "./user-message.js";

/** What AuthService needs from the rest of the server. */
export interface AuthServiceDeps {
  readonly users: UserRepository;
  readonly passwords: PasswordHasher;
  readonly accessTokens: AccessTokens;
  readonly sessions: RefreshSessions;
  readonly throttle: SignInThrottle;
  readonly settings: InstanceSettings;
  readonly logger: Logger;
}

/**
 * AuthService (spec §3.5): password sign-in with a rotating refresh cookie, refresh, sign-out
 * and the current user. Cookies are set with `ctx.responseHeader` and read from the request's
 * `Cookie` header, the same on Connect and REST.
 */
export function createAuthService(deps: AuthServiceDeps): Partial<ServiceImpl<typeof AuthService>> {
  const setCookie = (ctx: HandlerContext, value: string) => ctx.responseHeader.append("Set-Cookie", value);
  const clearCookie = (ctx: HandlerContext) => setCookie(ctx, clearedRefreshCookie(isSecureRequest(ctx.requestHeader)));

  return {
    async signIn(req, ctx) {
      if (req.credentials.case === "ssoCredentials") {
        throw new ConnectError("single sign-on is not supported", Code.Unimplemented);
      }
      if (req.credentials.case !== "passwordCredentials") throw new ConnectError("invalid credentials", Code.InvalidArgument);
      const { username, password } = req.credentials.value;
      const client = clientInfo(ctx);

      const verdict = await deps.throttle.check(username, client.ip);
      if (verdict.retryAfterSeconds !== undefined) {
        throw new ConnectError(
          "too many failed sign-in attempts, try again later",
          Code.ResourceExhausted,
          new Headers({ "Retry-After": String(verdict.retryAfterSeconds) }),
        );
      }
      const user = await deps.users.findByUsername(username);
      if (!(await deps.passwords.verify(password, user?.password_hash)) || user === undefined) {
        await deps.throttle.failure(username, client.ip);
        throw new ConnectError("unmatched username and password", Code.InvalidArgument);
      }
      if (user.role === "USER" && (await deps.settings.general()).disallowPasswordAuth) {
        throw new ConnectError("password signin is not allowed", Code.PermissionDenied);
      }
      if (user.row_status === "ARCHIVED") {
        throw new ConnectError(`user has been archived with username ${user.username}`, Code.PermissionDenied);
      }
      await deps.throttle.success(username, verdict);

      try {
        const refresh = await deps.sessions.start(user.id, client);
        setCookie(ctx, refreshCookie(refresh.token, refresh.expiresAt, isSecureRequest(ctx.requestHeader)));
      } catch (err) {
        // As the reference server: the sign-in still succeeds, only without a refresh cookie.
        deps.logger.warn({ err, userId: user.id }, "failed to store refresh token");
      }
      const access = await deps.accessTokens.issue(user);
      return create(SignInResponseSchema, {
        user: toUserMessage(user, viewerOf(user)),
        accessToken: access.token,
        accessTokenExpiresAt: timestampFromMs(access.expiresAt * 1000),
      });
    },

    async signOut(_req, ctx) {
      const identity = callerIdentity(ctx);
      const token = readCookie(ctx.requestHeader.get("cookie"), REFRESH_COOKIE);
      // Only a session caller (access token) ends its session; a PAT caller revokes nothing.
      if (identity?.via === "access-token" && token !== undefined && token !== "") {
        await deps.sessions.revoke(token, identity.userId);
      }
      clearCookie(ctx);
      return create(EmptySchema);
    },

    async refreshToken(_req, ctx) {
      const token = readCookie(ctx.requestHeader.get("cookie"), REFRESH_COOKIE);
      if (token === undefined || token === "") throw new ConnectError("refresh token not found", Code.Unauthenticated);
      const result = await deps.sessions.rotate(token, clientInfo(ctx));
      if (!result.ok) {
        if (result.reason === "reused") {
          deps.logger.warn({ ip: clientInfo(ctx).ip }, "refresh token reuse detected: session revoked");
        }
        clearCookie(ctx);
        throw new ConnectError(`invalid refresh token: ${result.reason}`, Code.Unauthenticated);
      }
      const user = await deps.users.findById(result.userId);
      if (user === undefined || user.row_status !== "NORMAL") {
        clearCookie(ctx);
        throw new ConnectError("invalid refresh token: user not found", Code.Unauthenticated);
      }
      const access = await deps.accessTokens.issue(user);
      setCookie(ctx, refreshCookie(result.next.token, result.next.expiresAt, isSecureRequest(ctx.requestHeader)));
      return create(RefreshTokenResponseSchema, {
        accessToken: access.token,
        expiresAt: timestampFromMs(access.expiresAt * 1000),
      });
    },

    async getCurrentUser(_req, ctx) {
      const user = await loadCaller(ctx, deps.users);
      if (user === undefined) {
        clearCookie(ctx);
        throw new ConnectError("user not found", Code.Unauthenticated);
      }
      return create(GetCurrentUserResponseSchema, { user: toUserMessage(user, viewerOf(user)) });
    },
  };
}

/** The client's user agent and address, recorded with its refresh tokens and used for throttling. */
function clientInfo(ctx: HandlerContext): ClientInfo {
  return {
    userAgent: (ctx.requestHeader.get("user-agent") ?? "").slice(0, 512),
    ip: clientAddress(ctx.requestHeader, ctx.values.get(peerAddressKey)).slice(0, 128),
  };
}
