// Server side of `npm run bench:cpu`: when BENCH_SPANS names a file, every request's kind (method
// and route, ids replaced by placeholders) and its start and end on the monotonic clock (µs, the
// clock of `node --cpu-prof`) are kept (a client may name the kind in an x-bench-kind header) and written there as JSON when the process exits, so a
// CPU profile can be cut into the requests that were running.
import { writeFileSync } from 'node:fs';
import { Server, type IncomingMessage, type ServerResponse } from 'node:http';

export type Span = [kind: string, startUs: number, endUs: number];

/** `GET /interaction/Ab3…/passkey/verify` -> `POST /interaction/:uid/passkey/verify`. */
export const requestKind = (method: string, url: string) => {
  const path = url
    .split('?')[0]!
    .replace(/^\/interaction\/[^/]+/, '/interaction/:uid')
    .replace(/^\/auth\/[^/]+$/, '/auth/:uid');
  return `${method} ${path}`;
};

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/** Records spans of every request any http.Server in this process answers (BENCH_SPANS only). */
export const recordRequestSpans = (file = process.env.BENCH_SPANS) => {
  if (!file) return;
  const spans: Span[] = [];
  const emit = Server.prototype.emit as (this: Server, ...args: unknown[]) => boolean;
  Server.prototype.emit = function (this: Server, ...args: unknown[]) {
    if (args[0] === 'request') {
      const [, req, res] = args as [string, IncomingMessage, ServerResponse];
      const start = nowUs();
      const kind =
        String(req.headers['x-bench-kind'] ?? '') ||
        requestKind(req.method ?? 'GET', req.url ?? '/');
      res.once('finish', () => spans.push([kind, start, nowUs()]));
    }
    return emit.apply(this, args);
  } as typeof Server.prototype.emit;
  process.once('exit', () => writeFileSync(file, JSON.stringify(spans)));
};
