/** The instance access mode (spec §1.3): PRIVATE unless an admin or the first boot chose PUBLIC. */
export type AccessMode = "PUBLIC" | "PRIVATE";

/** How a method may be reached by an anonymous caller. */
export type MethodAccess = "protected" | "public" | "bootstrap";

/**
 * Methods anonymous callers may reach (spec §1.3). `bootstrap` methods work on every instance;
 * other `public` methods only when the access mode is PUBLIC. Everything else, including unknown
 * procedures, needs an authenticated caller.
 */
const PUBLIC_METHODS: ReadonlyMap<string, MethodAccess> = new Map<string, MethodAccess>([
  ["/memos.api.v1.AuthService/SignIn", "bootstrap"],
  ["/memos.api.v1.AuthService/RefreshToken", "bootstrap"],
  ["/memos.api.v1.InstanceService/GetInstanceProfile", "bootstrap"],
  ["/memos.api.v1.InstanceService/GetInstanceSetting", "bootstrap"],
  ["/memos.api.v1.InstanceService/BatchGetInstanceSettings", "bootstrap"],
  ["/memos.api.v1.IdentityProviderService/ListIdentityProviders", "bootstrap"],
  ["/memos.api.v1.UserService/CreateUser", "bootstrap"],
  ["/memos.api.v1.MemoService/GetSharedMemo", "bootstrap"],
  ["/memos.api.v1.UserService/GetUser", "public"],
  ["/memos.api.v1.UserService/BatchGetUsers", "public"],
  ["/memos.api.v1.UserService/GetUserAvatar", "public"],
  ["/memos.api.v1.UserService/GetUserStats", "public"],
  ["/memos.api.v1.UserService/ListAllUserStats", "public"],
  ["/memos.api.v1.MemoService/GetMemo", "public"],
  ["/memos.api.v1.MemoService/ListMemos", "public"],
  ["/memos.api.v1.MemoService/ListMemoComments", "public"],
  ["/memos.api.v1.MemoService/ListMemoAttachments", "public"],
  ["/memos.api.v1.MemoService/GetLinkMetadata", "public"],
  ["/memos.api.v1.MemoService/BatchGetLinkMetadata", "public"],
  ["/memos.api.v1.AttachmentService/GetAttachment", "public"],
]);

/** How anonymous callers may reach `procedure` (`/memos.api.v1.<Service>/<Method>`). */
export function methodAccess(procedure: string): MethodAccess {
  return PUBLIC_METHODS.get(procedure) ?? "protected";
}

/** Reads the current access mode; must read fresh state on every call (no caching, spec §1.3). */
export type AccessModeReader = () => Promise<AccessMode>;
