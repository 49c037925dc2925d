// Graceful stop for an HTTP listener, in two steps. drain(): keep serving, but close idle
// keep-alive connections and end every later response with `Connection: close`, so a proxy's
// pool of connections to this instance empties while nothing is refused. stop(): refuse new
// connections (a proxy retries a refused connection on another instance, whatever the method,
// since nothing was sent), let every request already received finish, close what is left.
import type { Server, ServerResponse } from 'node:http';

export const trackRequests = (server: Server) => {
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  server.on('request', (_req, res: ServerResponse) => {
    // A request arriving on an open keep-alive connection during the stop is served, then the
    // connection closes (`Connection: close`) so the client opens its next one elsewhere.
    if (closing) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  /** Every connection closes after its current response; idle ones close now. */
  const closeConnections = () => {
    closing = true;
    for (const res of inFlight) {
      if (!res.headersSent) res.shouldKeepAlive = false;
      // A response already being written keeps its connection: close it once it is idle.
      else res.once('finish', () => setImmediate(() => server.closeIdleConnections()));
    }
    server.closeIdleConnections();
  };

  return {
    inFlight: () => inFlight.size,
    /** Whether drain() or stop() was called (/readyz then answers 503). */
    draining: () => closing,
    /** Keeps accepting and serving, with no connection kept alive past its current response. */
    drain: closeConnections,
    /**
     * Resolves once every in-flight request has finished and every connection is closed, or
     * after `graceMs`, when the connections of requests still running are cut.
     */
    stop: (graceMs: number) =>
      new Promise<void>((resolve) => {
        const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
        deadline.unref();
        server.once('close', () => clearTimeout(deadline));
        server.close(() => resolve());
        closeConnections();
      }),
  };
};
