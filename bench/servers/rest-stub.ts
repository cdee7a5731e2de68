// The app's transport stack over a constant GetInstanceProfile (no database): the same Connect
// handler, REST handler and interceptor chain as the app, so what bench/rest.ts measures against
// it is the transport and transcoding overhead alone.
import { create } from "@bufbuild/protobuf";
import * as pb from "../../gen/memos/api/v1/instance_service_pb.js";
import { createIdentityResolver } from "../../src/auth/identity.js";
import { createLogger } from "../../src/logger.js";
import { createConnectHandler } from "../../src/server/connect-adapter.js";
import { createRoutes, registration } from "../../src/server/connect-routes.js";
import { createCors } from "../../src/server/cors.js";
import { answerNotFound } from "../../src/server/http-handler.js";
import { createAuthInterceptor } from "../../src/server/interceptors/auth.js";
import { createLoggingInterceptor } from "../../src/server/interceptors/logging.js";
import { createMetadataInterceptor } from "../../src/server/interceptors/metadata.js";
import { createRecoveryInterceptor } from "../../src/server/interceptors/recovery.js";
import { listen } from "../../src/server/listener.js";
import { callContextValues } from "../../src/server/request-context.js";
import { createRestHandler } from "../../src/server/rest/rest-handler.js";

const logger = createLogger("warn");
const interceptors = [
  createMetadataInterceptor(),
  createLoggingInterceptor(logger),
  createRecoveryInterceptor(logger),
  createAuthInterceptor({ resolver: createIdentityResolver({}), readAccessMode: async () => "PRIVATE" as const }),
];
const profile = create(pb.InstanceProfileSchema, { version: "0.1.0", needsSetup: true, accessMode: pb.InstanceAccessMode.PRIVATE });
const services = [registration(pb.InstanceService, { getInstanceProfile: async () => profile })];
const maxBodyBytes = 256 << 20;
const cors = createCors(undefined);
const connect = createConnectHandler({
  routes: createRoutes(services),
  interceptors,
  readMaxBytes: maxBodyBytes,
  contextValues: (req) => callContextValues(req.socket?.remoteAddress),
  logger,
});
const rest = createRestHandler({ services, interceptors, maxBodyBytes, logger });
await listen(
  (req, res) => {
    if (cors(req, res)) return;
    if (connect(req, res)) return;
    if (req.url === "/healthz") return void res.end("ok");
    void rest(req, res).then((done) => done || answerNotFound(req, res));
  },
  Number(process.env.MEMOS_PORT),
  "127.0.0.1",
);
process.on("SIGTERM", () => process.exit(0));
