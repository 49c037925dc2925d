// @koa/router tries every route's pattern on each request: about 80 of ours, for each page
// request and for each engine path one of our routes might answer (server.ts). A case-sensitive
// route whose first path segment is literal text can only match a path with that first segment,
// so each request tries only those routes and the ones whose first segment is a pattern, in the
// router's order and with the router's own match: the answer is the same.
import type Router from '@koa/router';

/** A route's first segment when it is plain text (no parameter, group, modifier or wildcard). */
const LITERAL_FIRST_SEGMENT = /^\/([\w-]+)(?:\/|$)/;
/** A request path's first segment (patterns also end a segment at `#` and `?`). */
const FIRST_SEGMENT = /^\/([^/#?]*)/;

const literalFirstSegment = (layer: Router.Layer): string | undefined =>
  typeof layer.path === 'string' && (layer.opts as { sensitive?: boolean }).sensitive === true
    ? LITERAL_FIRST_SEGMENT.exec(layer.path)?.[1]
    : undefined;

/**
 * Narrows `router.match` to the routes a path's first segment allows. Routes registered later
 * are indexed on the next match; patterns changed in place (`router.prefix`) are not seen:
 * call this once every route is registered.
 */
export const matchByFirstSegment = (router: Router): void => {
  const match = router.match;
  let indexed: { stack: Router.Layer[]; length: number } | undefined;
  let bySegment = new Map<string, Router>();
  let others = router;
  // A stand-in for the router whose stack holds only the given routes (all else is the router's).
  const narrowed = (stack: Router.Layer[]) =>
    Object.create(router, { stack: { value: stack } }) as Router;
  const index = () => {
    const segments = router.stack.map(literalFirstSegment);
    bySegment = new Map(
      [...new Set(segments)]
        .filter((segment) => segment !== undefined)
        .map((segment) => [
          segment,
          narrowed(
            router.stack.filter((_, i) => segments[i] === undefined || segments[i] === segment),
          ),
        ]),
    );
    others = narrowed(router.stack.filter((_, i) => segments[i] === undefined));
    indexed = { stack: router.stack, length: router.stack.length };
  };
  router.match = function (path, method) {
    if (indexed?.stack !== router.stack || indexed.length !== router.stack.length) index();
    const segment = FIRST_SEGMENT.exec(path)?.[1];
    const candidates = (segment !== undefined && bySegment.get(segment)) || others;
    return match.call(candidates, path, method);
  };
};
