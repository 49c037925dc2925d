// Graceful stop for an HTTP listener: refuse new connections, let every request already
// received finish, and close keep-alive connections as soon as they fall idle. Without the
// last part, server.close() waits for clients' idle keep-alive sockets to time out (seconds).
import type { Server, ServerResponse } from 'node:http';

export const trackRequests = (server: Server) => {
  const inFlight = new Set<ServerResponse>();
  let stopping = false;
  server.on('request', (_req, res: ServerResponse) => {
    // A request arriving on an open keep-alive connection during the stop is served, then the
    // connection closes (`Connection: close`) so the client opens its next one elsewhere.
    if (stopping) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });

  return {
    inFlight: () => inFlight.size,
    /**
     * Resolves once every in-flight request has finished and every connection is closed, or
     * after `graceMs`, when the connections of requests still running are cut.
     */
    stop: (graceMs: number) =>
      new Promise<void>((resolve) => {
        stopping = true;
        const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
        deadline.unref();
        server.once('close', () => clearTimeout(deadline));
        for (const res of inFlight) {
          if (!res.headersSent) res.shouldKeepAlive = false;
          // A response already being written keeps its connection: close it once it is idle.
          else res.once('finish', () => setImmediate(() => server.closeIdleConnections()));
        }
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
};
