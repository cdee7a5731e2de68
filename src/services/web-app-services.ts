import type { ServiceImpl } from "@connectrpc/connect";
import type { IdentityProviderService } from "../../gen/memos/api/v1/idp_service_pb.js";
import type { MemoViewService } from "../../gen/memos/api/v1/memo_view_service_pb.js";
import type { UserService } from "../../gen/memos/api/v1/user_service_pb.js";
import type { AccessModeReader } from "../auth/access-policy.js";
import type { Logger } from "../logger.js";
import type { Db } from "../store/database.js";
import { createIdentityProviderRepository } from "../store/identity-provider-repository.js";
import { createInboxRepository } from "../store/inbox-repository.js";
import { createMemoRepository } from "../store/memo-repository.js";
import { createMemoStatsRepository } from "../store/memo-stats-repository.js";
import { createUserIdentityRepository } from "../store/user-identity-repository.js";
import type { UserRepository } from "../store/user-repository.js";
import { createUserSettingRepository } from "../store/user-setting-repository.js";
import { createIdentityProviderService } from "./identity-provider-service.js";
import type { InstanceSettings } from "./instance-settings.js";
import { createLinkedIdentityRpcs } from "./linked-identities.js";
import type { MemoEventBus } from "./memo-events.js";
import { createMemoViewService } from "./memo-view-service.js";
import { createMentionNotifier, createUserNotificationRpcs } from "./user-notifications.js";
import { createUserSettingRpcs } from "./user-settings.js";
import { createUserStatsRpcs } from "./user-stats.js";

/** Options of {@link createWebAppServices}. */
export interface WebAppServicesOptions {
  readonly db: Db;
  readonly users: UserRepository;
  readonly settings: InstanceSettings;
  readonly readAccessMode: AccessModeReader;
  /** The in-process memo event bus: mention notifications are written from its events. */
  readonly memoEvents: MemoEventBus;
  readonly logger: Pick<Logger, "warn">;
  readonly clock?: () => number;
}

/** The services and UserService RPCs the web app reads around memos (see `spec/web-app-flows.md`). */
export interface WebAppServices {
  /** UserService settings, stats, notifications and linked identities, to merge with the account RPCs. */
  readonly userService: Partial<ServiceImpl<typeof UserService>>;
  readonly memoViewService: Partial<ServiceImpl<typeof MemoViewService>>;
  readonly identityProviderService: Partial<ServiceImpl<typeof IdentityProviderService>>;
  /** Stops writing mention notifications and waits for the ones under way. */
  close(): Promise<void>;
}

/**
 * Builds the web app's remaining services over one database: user settings, stats,
 * notifications (with `@mention` notifications written from memo events) and linked identities;
 * saved memo views; identity providers.
 */
export function createWebAppServices(options: WebAppServicesOptions): WebAppServices {
  const { db, users } = options;
  const userSettings = createUserSettingRepository(db);
  const inbox = createInboxRepository(db);
  const mentions = createMentionNotifier({ memos: createMemoRepository(db), users, inbox, logger: options.logger });
  const detach = mentions.attach(options.memoEvents);
  const clock = options.clock ?? Date.now;
  return {
    userService: {
      ...createUserSettingRpcs({ users, userSettings }),
      ...createUserStatsRpcs({ users, stats: createMemoStatsRepository(db), readAccessMode: options.readAccessMode, clock }),
      ...createUserNotificationRpcs({ users, inbox }),
      ...createLinkedIdentityRpcs({ users, identities: createUserIdentityRepository(db) }),
    },
    memoViewService: createMemoViewService({ users, userSettings, clock }),
    identityProviderService: createIdentityProviderService({
      users,
      identityProviders: createIdentityProviderRepository(db),
      settings: options.settings,
    }),
    async close() {
      detach();
      await mentions.idle();
    },
  };
}
