import { createContextKey } from "@connectrpc/connect";

/** The address of the TCP peer that sent the request (before any proxy headers are considered). */
export const peerAddressKey = createContextKey<string>("", { description: "TCP peer address" });
