import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  InstanceAccessMode,
  InstanceProfileSchema,
  type InstanceService,
} from "../../gen/memos/api/v1/instance_service_pb.js";
import type { AccessModeReader } from "../auth/access-policy.js";
import type { UserRepository } from "../store/user-repository.js";
import { toUserMessage } from "./user-message.js";

/** What InstanceService needs from the rest of the server. */
export interface InstanceServiceDeps {
  readonly users: UserRepository;
  readonly readAccessMode: AccessModeReader;
  readonly version: string;
  readonly instanceUrl: string | undefined;
}

/** InstanceService: the instance profile, and (with the auth issue) its settings. */
export function createInstanceService(deps: InstanceServiceDeps): Partial<ServiceImpl<typeof InstanceService>> {
  return {
    async getInstanceProfile() {
      const [admin, accessMode] = await Promise.all([deps.users.findFirstAdmin(), deps.readAccessMode()]);
      return create(InstanceProfileSchema, {
        version: deps.version,
        demo: false,
        instanceUrl: deps.instanceUrl ?? "",
        admin: admin === undefined ? undefined : toUserMessage(admin, undefined),
        commit: "",
        // The first account to sign up becomes the admin, so no admin means no users yet.
        needsSetup: admin === undefined && (await deps.users.count()) === 0,
        accessMode: accessMode === "PUBLIC" ? InstanceAccessMode.PUBLIC : InstanceAccessMode.PRIVATE,
      });
    },
  };
}
