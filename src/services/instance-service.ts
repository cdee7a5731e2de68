import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  InstanceAccessMode,
  InstanceProfileSchema,
  type InstanceService,
} from "../../gen/memos/api/v1/instance_service_pb.js";
import { parseAccessMode } from "../auth/access-mode-store.js";
import type { Db } from "../store/database.js";
import { loadProfileState } from "../store/instance-profile-repository.js";
import { toUserMessage } from "./user-message.js";

/** What InstanceService needs from the rest of the server. */
export interface InstanceServiceDeps {
  readonly db: Db;
  readonly version: string;
  readonly instanceUrl: string | undefined;
}

/** InstanceService: the instance profile, and (with the auth issue) its settings. */
export function createInstanceService(deps: InstanceServiceDeps): Partial<ServiceImpl<typeof InstanceService>> {
  return {
    async getInstanceProfile() {
      const { admin, accessSetting, hasUsers } = await loadProfileState(deps.db);
      return create(InstanceProfileSchema, {
        version: deps.version,
        demo: false,
        instanceUrl: deps.instanceUrl ?? "",
        admin: admin === undefined ? undefined : toUserMessage(admin, undefined),
        commit: "",
        needsSetup: !hasUsers,
        accessMode: parseAccessMode(accessSetting) === "PUBLIC" ? InstanceAccessMode.PUBLIC : InstanceAccessMode.PRIVATE,
      });
    },
  };
}
