import { join } from "node:path";
import type { Interceptor } from "@connectrpc/connect";
import { AttachmentService } from "../gen/memos/api/v1/attachment_service_pb.js";
import { AuthService } from "../gen/memos/api/v1/auth_service_pb.js";
import { IdentityProviderService } from "../gen/memos/api/v1/idp_service_pb.js";
import { InstanceService } from "../gen/memos/api/v1/instance_service_pb.js";
import { MemoService } from "../gen/memos/api/v1/memo_service_pb.js";
import { MemoViewService } from "../gen/memos/api/v1/memo_view_service_pb.js";
import { UserService } from "../gen/memos/api/v1/user_service_pb.js";
import { createAccessModeReader, initAccessMode } from "./auth/access-mode-store.js";
import { createIdentityResolver, type IdentityResolver } from "./auth/identity.js";
import { loadInstanceSecret } from "./auth/instance-secret.js";
import { hmacKey } from "./auth/jwt.js";
import { createRefreshTokenChecker } from "./auth/refresh-token.js";
import type { BlobStore } from "./blob/blob-store.js";
import { createLocalBlobStore } from "./blob/local-blob-store.js";
import type { Config } from "./config.js";
import { createKeysetTokenCodec, deriveKeysetTokenKey } from "./domain/keyset-page-token.js";
import type { Logger } from "./logger.js";
import { createThumbnailer } from "./media/thumbnail.js";
import { createConnectHandler } from "./server/connect-adapter.js";
import { createRoutes, registration, type ServiceRegistration } from "./server/connect-routes.js";
import { createCors } from "./server/cors.js";
import { ATTACHMENT_FILE_PREFIX, createFileRoute } from "./server/files/file-server.js";
import { AVATAR_FILE_PREFIX, createAvatarRoute } from "./server/files/avatar-route.js";
import { createFileIdentityResolver } from "./server/files/file-identity.js";
import { createFrontendRoute } from "./server/frontend/frontend-route.js";
import { answerNotFound, createHealthRoute, type NodeHandler } from "./server/http-handler.js";
import { createAttachmentUploadRoute } from "./server/rest/attachment-upload.js";
import { createRestHandler } from "./server/rest/rest-handler.js";
import { createAuthInterceptor } from "./server/interceptors/auth.js";
import { createLoggingInterceptor } from "./server/interceptors/logging.js";
import { createMetadataInterceptor } from "./server/interceptors/metadata.js";
import { createRecoveryInterceptor } from "./server/interceptors/recovery.js";
import { listen, type Listener } from "./server/listener.js";
import { callContextValues } from "./server/request-context.js";
import { createSseRoute, SSE_PATH } from "./server/sse/sse-route.js";
import { answerRouteFailure } from "./server/unavailable.js";
import { createAccountServices } from "./services/account.js";
import { createAttachmentFileAccess } from "./services/attachment-file-access.js";
import { createAttachmentService } from "./services/attachment-service.js";
import { createBlobJanitor } from "./services/blob-janitor.js";
import { createInstanceService } from "./services/instance-service.js";
import { openLiveEventHub, type LiveEventHub } from "./services/live-events.js";
import { createMemoEventBus, type MemoEventBus } from "./services/memo-events.js";
import { createMemoService } from "./services/memo-service.js";
import { createWebAppServices } from "./services/web-app-services.js";
import { createAttachmentRepository } from "./store/attachment-repository.js";
import { openDatabase, pgliteDir, type OpenDatabase } from "./store/database.js";
import { createSystemSettingRepository } from "./store/system-setting-repository.js";
import { createUserRepository } from "./store/user-repository.js";

/** The server's version, reported by GetInstanceProfile. */
export const VERSION = "0.1.0";

/** How long a ListMemos / ListMemoComments page token stays usable: a week of scrolling. */
const MEMO_PAGE_TOKEN_MAX_AGE_SECONDS = 7 * 24 * 3600;

/** Parts a caller may supply instead of the ones built from config (tests, benchmarks). */
export interface AppOverrides {
  /** An already open and migrated database; the app closes it on shutdown. */
  readonly database?: OpenDatabase;
  readonly blobs?: BlobStore;
  readonly identityResolver?: IdentityResolver;
}

/** A running server. */
export interface App {
  readonly port: number;
  readonly database: OpenDatabase;
  readonly blobs: BlobStore;
  /** Memo changes (memo.created, reaction.upserted, ...), published after they commit. */
  readonly memoEvents: MemoEventBus;
  /** Live events for `GET /api/v1/sse`, shared with the other replicas on Postgres. */
  readonly liveEvents: LiveEventHub;
  /** The request handler (everything behind the listener), for in-process use. */
  readonly handler: NodeHandler;
  /** Every service with its implementation, as served. */
  readonly services: readonly ServiceRegistration[];
  /** The interceptor chain every call runs through, outermost first. */
  readonly interceptors: readonly Interceptor[];
  /** Stops accepting, drains in-flight calls, then closes the database and blob store. */
  close(): Promise<void>;
}

/**
 * The composition root: builds every dependency once from `config`, wires them, and listens.
 * Nothing here is a module-level singleton, so tests can run several apps in one process.
 */
export async function startApp(config: Config, logger: Logger, overrides: AppOverrides = {}): Promise<App> {
  const database =
    overrides.database ??
    (config.driver === "postgres"
      ? await openDatabase({ driver: "postgres", dsn: config.dsn!, connectTimeoutMs: config.dbConnectTimeoutMs })
      : await openDatabase({ driver: "pglite", dataDir: pgliteDir(config.dataDir) }));
  const closers: Array<() => Promise<void>> = [() => database.close()];
  try {
    const blobs = overrides.blobs ?? (await openBlobStore(config));
    closers.unshift(() => blobs.close());

    const settings = createSystemSettingRepository(database.db);
    await initAccessMode(settings, config.instanceUrl);
    const readAccessMode = createAccessModeReader(settings);
    const accounts = await createAccountServices({ db: database.db, systemSettings: settings, readAccessMode, logger });
    const resolver = overrides.identityResolver ?? createIdentityResolver(accounts.verifiers);
    const memoEvents = createMemoEventBus({ onListenerError: (err, event) => logger.error({ err, event: event.type }, "memo event listener failed") });
    const webApp = createWebAppServices({
      db: database.db,
      users: accounts.instanceSettings.users,
      settings: accounts.instanceSettings.values,
      readAccessMode,
      memoEvents,
      logger,
    });
    closers.unshift(() => webApp.close());
    const liveEvents = await openLiveEventHub({ db: database.db, ...(database.dsn === undefined ? {} : { dsn: database.dsn }), bus: memoEvents, logger });
    closers.unshift(() => liveEvents.close());

    const interceptors: Interceptor[] = [
      createMetadataInterceptor(),
      createLoggingInterceptor(logger),
      createRecoveryInterceptor(logger),
      createAuthInterceptor({ resolver, readAccessMode }),
    ];
    const services: ServiceRegistration[] = [
      registration(AuthService, accounts.authService),
      registration(UserService, { ...webApp.userService, ...accounts.userService }),
      registration(
        InstanceService,
        createInstanceService({
          db: database.db,
          version: VERSION,
          instanceUrl: config.instanceUrl,
          settings: accounts.instanceSettings,
        }),
      ),
      registration(
        MemoService,
        createMemoService({
          db: database.db,
          users: accounts.instanceSettings.users,
          settings: accounts.instanceSettings.values,
          readAccessMode,
          blobs,
          events: memoEvents,
          // Keyed by the instance secret: tokens work on every replica and across restarts.
          pageTokens: createKeysetTokenCodec({
            key: deriveKeysetTokenKey(await loadInstanceSecret(settings)),
            maxAgeSeconds: MEMO_PAGE_TOKEN_MAX_AGE_SECONDS,
          }),
          instanceUrl: config.instanceUrl,
          logger,
        }),
      ),
      registration(
        AttachmentService,
        createAttachmentService({
          db: database.db,
          users: accounts.instanceSettings.users,
          settings: accounts.instanceSettings.values,
          readAccessMode,
          blobs,
          ...(config.instanceUrl === undefined ? {} : { instanceUrl: config.instanceUrl }),
          logger,
        }),
      ),
      registration(IdentityProviderService, webApp.identityProviderService),
      registration(MemoViewService, webApp.memoViewService),
    ];

    const health = createHealthRoute(() => database.ping());
    const cors = createCors(config.instanceUrl);
    const connect = createConnectHandler({
      routes: createRoutes(services),
      interceptors,
      readMaxBytes: config.maxBodyBytes,
      contextValues: (req) => callContextValues(req.socket?.remoteAddress),
      logger,
    });
    const rest = createRestHandler({ services, interceptors, maxBodyBytes: config.maxBodyBytes, openApi: { version: VERSION }, logger });
    const upload = createAttachmentUploadRoute({ services, interceptors, blobs, logger });
    // Bearer first, else the `memos_refresh` cookie checked without spending it (spec §5.2 step 5).
    const fileIdentity = createFileIdentityResolver({
      bearer: resolver,
      refreshCookie: createRefreshTokenChecker({ key: await hmacKey(await loadInstanceSecret(settings)), db: database.db }),
    });
    const files = createFileRoute({
      ...createAttachmentFileAccess({ attachments: createAttachmentRepository(database.db), users: createUserRepository(database.db), readAccessMode }),
      resolveIdentity: fileIdentity,
      blobs,
      thumbnails: createThumbnailer({ blobs, logger }),
      logger,
    });
    const avatars = createAvatarRoute({ users: createUserRepository(database.db), readAccessMode, resolveIdentity: fileIdentity, logger });
    const sse = createSseRoute({
      hub: liveEvents,
      resolver,
      loadUser: async (id) => {
        const row = await accounts.instanceSettings.users.findById(id);
        return row === undefined ? undefined : { role: row.role, rowStatus: row.row_status };
      },
      heartbeatMs: config.sseHeartbeatMs,
      logger,
    });
    const frontend = config.frontendDir === undefined ? undefined : createFrontendRoute({ root: config.frontendDir, logger });
    // Route handlers outside the interceptor chain: a failure (the database gone while a live
    // event stream authenticates, say) is answered, never left as an unhandled rejection.
    const failed = (res: Parameters<NodeHandler>[1]) => (err: unknown) => answerRouteFailure(res, err, logger);
    const handler: NodeHandler = (req, res) => {
      if (cors(req, res)) return;
      if (connect(req, res)) return;
      if (req.url === SSE_PATH || req.url?.startsWith(`${SSE_PATH}?`)) {
        void sse(req, res).then((done) => done || answerNotFound(req, res)).catch(failed(res));
        return;
      }
      if (req.url?.startsWith(ATTACHMENT_FILE_PREFIX)) {
        void files(req, res).then((done) => done || answerNotFound(req, res)).catch(failed(res));
        return;
      }
      if (req.url?.startsWith(AVATAR_FILE_PREFIX)) {
        void avatars(req, res).then((done) => done || answerNotFound(req, res)).catch(failed(res));
        return;
      }
      if (req.url === "/healthz") {
        void health(req, res).then((done) => done || answerNotFound(req, res)).catch(failed(res));
        return;
      }
      if (upload(req, res)) return;
      void rest(req, res)
        .then((done) => done || (frontend !== undefined && frontend(req, res)))
        .then((done) => done || answerNotFound(req, res))
        .catch(failed(res));
    };

    const listener: Listener = await listen(handler, config.port, config.addr);
    closers.unshift(() => listener.close(config.shutdownTimeoutMs));
    if (config.blobJanitorIntervalMs > 0) {
      const janitor = createBlobJanitor({
        attachments: createAttachmentRepository(database.db),
        blobs,
        graceMs: config.blobJanitorGraceMs,
        intervalMs: config.blobJanitorIntervalMs,
        logger,
      });
      janitor.start();
      closers.unshift(() => janitor.close());
    }
    // Live-event streams never finish on their own: end them before the listener drains.
    closers.unshift(() => liveEvents.close());
    logger.info({ port: listener.port, driver: database.driver, blobs: blobs.kind, startupMs: Math.round(process.uptime() * 1000) }, "listening");

    return {
      port: listener.port,
      database,
      blobs,
      memoEvents,
      liveEvents,
      handler,
      services,
      interceptors,
      async close() {
        for (const close of closers) await close();
      },
    };
  } catch (err) {
    for (const close of closers) await close().catch(() => {});
    throw err;
  }
}

/** Opens the blob store the configuration names: S3 when configured, else files under the data dir. */
async function openBlobStore(config: Config): Promise<BlobStore> {
  if (config.storage === "s3" && config.s3 !== undefined) {
    const s3 = config.s3;
    // Loaded on demand: the S3 client is only needed when S3 is configured.
    const { createS3BlobStore } = await import("./blob/s3-blob-store.js");
    return createS3BlobStore({
      endPoint: s3.endpoint,
      ...(s3.port === undefined ? {} : { port: s3.port }),
      useSSL: s3.useSSL,
      accessKey: s3.accessKey,
      secretKey: s3.secretKey,
      region: s3.region,
      bucket: s3.bucket,
      pathStyle: s3.pathStyle,
    });
  }
  // In-flight upload files older than the janitor's grace period are leftovers of a crash.
  return createLocalBlobStore({ root: join(config.dataDir, "blobs"), staleTempMs: config.blobJanitorGraceMs });
}
