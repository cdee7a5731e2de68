import type { ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "../../gen/memos/api/v1/auth_service_pb.js";
import type { UserService } from "../../gen/memos/api/v1/user_service_pb.js";
import { createAccessTokens, createAccessTokenVerifier } from "../auth/access-token.js";
import type { AccessModeReader } from "../auth/access-policy.js";
import type { TokenVerifier } from "../auth/identity.js";
import { loadInstanceSecret } from "../auth/instance-secret.js";
import { hmacKey } from "../auth/jwt.js";
import { createPasswordHasher, type PasswordHasherOptions } from "../auth/password.js";
import { createPersonalAccessTokenVerifier } from "../auth/personal-access-token.js";
import { createRefreshSessions } from "../auth/refresh-token.js";
import { createSignInThrottle, type SignInThrottleOptions } from "../auth/sign-in-throttle.js";
import type { Logger } from "../logger.js";
import type { Db } from "../store/database.js";
import { createIdentityProviderRepository } from "../store/identity-provider-repository.js";
import { createPersonalAccessTokenRepository } from "../store/personal-access-token-repository.js";
import { createRefreshTokenRepository } from "../store/refresh-token-repository.js";
import { createSignInThrottleRepository } from "../store/sign-in-throttle-repository.js";
import type { SystemSettingRepository } from "../store/system-setting-repository.js";
import { createUserRepository } from "../store/user-repository.js";
import { createAuthService } from "./auth-service.js";
import type { InstanceSettingDeps } from "./instance-service.js";
import { createInstanceSettings } from "./instance-settings.js";
import { createUserService } from "./user-service.js";

/** Everything accounts and sign-in consist of, built once by the composition root. */
export interface AccountServices {
  /** Verifiers for the identity resolver of the auth gate. */
  readonly verifiers: { accessToken: TokenVerifier; personalAccessToken: TokenVerifier };
  readonly authService: Partial<ServiceImpl<typeof AuthService>>;
  readonly userService: Partial<ServiceImpl<typeof UserService>>;
  /** What InstanceService needs for its setting RPCs. */
  readonly instanceSettings: InstanceSettingDeps;
}

/** Options of {@link createAccountServices}. */
export interface AccountServicesOptions {
  readonly db: Db;
  readonly systemSettings: SystemSettingRepository;
  readonly readAccessMode: AccessModeReader;
  readonly logger: Logger;
  readonly clock?: () => number;
  readonly passwords?: PasswordHasherOptions;
  readonly throttle?: Omit<SignInThrottleOptions, "repository" | "clock">;
}

/**
 * Builds users, sign-in, tokens and instance settings over one database. Loads (or on the first
 * boot creates) the instance secret, so call it once at start-up.
 */
export async function createAccountServices(options: AccountServicesOptions): Promise<AccountServices> {
  const { db, logger } = options;
  const clock = options.clock ?? Date.now;
  const key = await hmacKey(await loadInstanceSecret(options.systemSettings));
  const users = createUserRepository(db);
  const personalAccessTokens = createPersonalAccessTokenRepository(db);
  const passwords = createPasswordHasher(options.passwords);
  const accessTokens = createAccessTokens(key, clock);
  const values = createInstanceSettings(options.systemSettings);
  return {
    verifiers: {
      accessToken: createAccessTokenVerifier({ tokens: accessTokens, users }),
      personalAccessToken: createPersonalAccessTokenVerifier({
        tokens: personalAccessTokens,
        clock,
        onTouchError: (err) => logger.warn({ err }, "failed to record personal access token use"),
      }),
    },
    authService: createAuthService({
      users,
      passwords,
      accessTokens,
      sessions: createRefreshSessions({ key, tokens: createRefreshTokenRepository(db), clock }),
      throttle: createSignInThrottle({ ...options.throttle, repository: createSignInThrottleRepository(db), clock }),
      settings: values,
      logger,
    }),
    userService: createUserService({ users, passwords, personalAccessTokens, settings: values, clock }),
    instanceSettings: {
      users,
      readAccessMode: options.readAccessMode,
      values,
      systemSettings: options.systemSettings,
      identityProviders: createIdentityProviderRepository(db),
    },
  };
}
