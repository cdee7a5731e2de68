import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";

/** The client connection preface every HTTP/2 connection starts with (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** One TCP port for HTTP/1.1 and HTTP/2 cleartext (h2c with prior knowledge). */
export interface Listener {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (up to `timeoutMs`), then closes everything. */
  close(timeoutMs: number): Promise<void>;
  /** Requests being served right now. */
  inFlight(): number;
}

/**
 * Listens on one port and sends each connection to an HTTP/1.1 or an h2c server by its first
 * bytes: connections that open with the HTTP/2 preface go to HTTP/2, all others to HTTP/1.1.
 */
export async function listen(handler: Handler, port: number, host?: string): Promise<Listener> {
  let active = 0;
  let draining = false;
  let drained: (() => void) | undefined;
  const tracked: Handler = (req, res) => {
    active++;
    res.once("close", () => {
      active--;
      if (draining && active === 0) drained?.();
    });
    // While draining, HTTP/1.1 clients are told to reconnect elsewhere after this response.
    if (draining && res instanceof http.ServerResponse) res.setHeader("Connection", "close");
    handler(req, res);
  };

  const h1 = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, tracked);
  const h2 = http2.createServer({}, tracked);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });

  const tcp = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let head = Buffer.alloc(0);
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const isH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && head.length < H2_PREFACE.length) return; // wait for the rest of the preface
      socket.off("readable", onReadable);
      socket.unshift(head);
      (isH2 ? h2 : h1).emit("connection", socket as Duplex);
    };
    socket.on("readable", onReadable);
  });

  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, host, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const address = tcp.address();
  const boundPort = typeof address === "object" && address !== null ? address.port : port;

  return {
    port: boundPort,
    inFlight: () => active,
    async close(timeoutMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const s of sessions) s.close(); // GOAWAY: finish open streams, accept no new ones
      h1.closeIdleConnections();
      if (active > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, timeoutMs).unref();
        });
      }
      h1.closeAllConnections();
      for (const s of sessions) s.destroy();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
