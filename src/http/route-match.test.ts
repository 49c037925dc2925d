// Narrowed by first segment, the router's match gives the router's own answer, for routes
// registered before and after, patterns and middleware included.
import Router from '@koa/router';
import { describe, expect, it } from 'vitest';
import { matchByFirstSegment } from './route-match.ts';

const noop = () => undefined;

const routes = (router: Router) => {
  router.use(noop);
  router.get('/interaction/:uid', noop);
  router.post('/interaction/:uid/passkey/options', noop);
  router.get('/auth/:uid/extra', noop);
  router.get('/healthz', noop);
  router.use('/admin', noop);
  router.get('/admin/clients/:id', noop);
  router.get('/:anything/page', noop);
  router.get('/static/(.*)', noop);
  router.get(/^\/re(gex)?\/\d+$/, noop);
  router.all('/account', noop);
  const nested = new Router({ sensitive: true });
  nested.get('/things/:id', noop);
  router.use('/api', nested.routes());
  return router;
};

const PATHS = [
  '/',
  '',
  '/interaction/abc',
  '/interaction/abc/',
  '/interaction/abc/passkey/options',
  '/Interaction/abc',
  '/interactionx/abc',
  '/auth/abc/extra',
  '/auth/abc',
  '/healthz',
  '/healthz/',
  '/admin',
  '/admin/',
  '/admin/clients/7',
  '/adminx',
  '/x/page',
  '/interaction/page',
  '/static/app.css',
  '/regex/12',
  '/re/1',
  '/account',
  '/api/things/3',
  '/api/things',
  '/nothing',
  '/a%2Fb/page',
];

const summary = (m: ReturnType<Router['match']>) => ({
  path: m.path.map((l) => String(l.path)),
  pathAndMethod: m.pathAndMethod.map((l) => String(l.path)),
  route: m.route,
});

describe('matchByFirstSegment', () => {
  const plain = routes(new Router({ sensitive: true }));
  const fast = routes(new Router({ sensitive: true }));
  matchByFirstSegment(fast);

  it.each(['GET', 'POST', 'HEAD', 'DELETE'])('matches %s as the router does', (method) => {
    for (const path of PATHS)
      expect({ at: path, ...summary(fast.match(path, method)) }).toEqual({
        at: path,
        ...summary(plain.match(path, method)),
      });
  });

  it('sees routes registered after it was first used', () => {
    expect(fast.match('/late/x', 'GET').route).toBe(false);
    fast.get('/late/:id', noop);
    plain.get('/late/:id', noop);
    expect(fast.match('/late/x', 'GET').route).toBe(true);
    for (const path of [...PATHS, '/late/x'])
      expect(summary(fast.match(path, 'GET'))).toEqual(summary(plain.match(path, 'GET')));
  });

  it('leaves case-insensitive routes to be tried on every path', () => {
    const folded = new Router();
    folded.get('/Healthz', noop);
    matchByFirstSegment(folded);
    expect(folded.match('/healthz', 'GET').route).toBe(true);
  });
});
