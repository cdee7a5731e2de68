import type { Interceptor } from "@connectrpc/connect";

/**
 * Outermost interceptor (spec §1.5): after a successful call, marks the response as never to be
 * cached, since API answers depend on who asks. Request headers are already visible to services
 * through the handler context, so nothing needs copying.
 */
export function createMetadataInterceptor(): Interceptor {
  return (next) => async (req) => {
    const res = await next(req);
    res.header.set("Cache-Control", "no-cache, no-store, must-revalidate");
    res.header.set("Pragma", "no-cache");
    res.header.set("Expires", "0");
    return res;
  };
}
