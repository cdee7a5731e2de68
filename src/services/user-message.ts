import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { UserSchema, User_Role, type User } from "../../gen/memos/api/v1/user_service_pb.js";
import type { UserRow } from "../store/user-repository.js";

/** Who is looking at a user: e-mail is shown only to the user themself and to admins (spec §3.2). */
export interface UserViewer {
  readonly userId: number;
  readonly role: string;
}

/** Converts a user row into the API message as `viewer` may see it. */
export function toUserMessage(row: UserRow, viewer: UserViewer | undefined): User {
  const maySeeEmail = viewer !== undefined && (viewer.userId === row.id || viewer.role === "ADMIN");
  return create(UserSchema, {
    name: `users/${row.username}`,
    role: row.role === "ADMIN" ? User_Role.ADMIN : User_Role.USER,
    username: row.username,
    email: maySeeEmail ? row.email : "",
    displayName: row.nickname,
    // A data-URI avatar is served by the file server instead of being inlined (spec §3.2).
    avatarUrl: row.avatar_url.startsWith("data:") ? `/file/users/${row.username}/avatar` : row.avatar_url,
    description: row.description,
    state: row.row_status === "ARCHIVED" ? State.ARCHIVED : State.NORMAL,
    createTime: timestampFromMs(row.created_ts * 1000),
    updateTime: timestampFromMs(row.updated_ts * 1000),
  });
}
