// One spelling of every path, set once before routing, rate limits and the engine, so that none
// of them can disagree about which route a request is for: `//token/`, `/token/` and
// `/a/../token` are all `/token`. Case is not folded (route parameters are case-sensitive): the
// router and the engine dispatch match case-sensitively instead (server.ts). Encoded slashes stay
// encoded: no matcher decodes them into separators, so they never name another route.
import type { Context, Next } from 'koa';

const dotSegment = (segment: string) => {
  const lower = segment.toLowerCase();
  return lower === '.' || lower === '%2e'
    ? 'dot'
    : lower.replaceAll('%2e', '.') === '..'
      ? 'dotdot'
      : undefined;
};

// What a path must hold for a segment to be empty or a dot segment: `//`, a trailing `/`, or a
// segment starting with `.` or `%2e`. Without any, the path is already canonical.
const MAYBE_NOT_CANONICAL = /\/\/|\/\.|\/%2e|.\/$/i;

/** Empty segments dropped (no `//`, no trailing `/`), `.` and `..` resolved (RFC 3986 5.2.4). */
export const canonicalPath = (path: string): string => {
  if (path.startsWith('/') && !MAYBE_NOT_CANONICAL.test(path)) return path;
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    const dot = segment === '' ? 'dot' : dotSegment(segment);
    if (dot === 'dotdot') segments.pop();
    else if (!dot) segments.push(segment);
  }
  return `/${segments.join('/')}`;
};

/** Rewrites the request's path (query kept) to its canonical spelling, for everything after it. */
export const canonicalPaths = () => (ctx: Context, next: Next) => {
  const path = canonicalPath(ctx.path);
  if (path !== ctx.path) ctx.path = path;
  return next();
};
