// How long a client may take to send its request: slow senders cannot hold connections open
// (docs/security.md, "Bad input"). Every listener serving browsers or agencies applies these:
// the main one (app.ts) and the mutual-TLS certificate listener (certificate-listener.ts).
import type { Server } from 'node:http';

/** The whole request, headers and body. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** The headers alone. */
export const HEADERS_TIMEOUT_MS = 15_000;

export const limitSlowClients = <S extends Pick<Server, 'requestTimeout' | 'headersTimeout'>>(
  server: S,
): S => {
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  return server;
};
