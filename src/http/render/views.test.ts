// A page carries the nonce of the CSP header it is sent with, on whichever koa context of the
// request renders it: the engine renders its pages (errors, sign-out) on its own context, which
// shares only the node request and response with ours (server.ts hands them over).
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { securityHeaders } from '../middleware/security.ts';
import { createViews } from './views.ts';

const views = createViews({
  csrfToken: () => 'token',
  site: {
    operator: { ko: '행정안전부', en: 'Ministry of the Interior and Safety' },
    helpdeskPhone: '110',
    helpUrl: undefined,
    privacyUrl: undefined,
    termsUrl: undefined,
    accessibilityUrl: undefined,
  },
});

/** Ours: the security headers, then `handle` gets the node request and response, as the engine does. */
const outer = (handle: (req: Koa.Context['req'], res: Koa.Context['res']) => Promise<void>) =>
  new Koa().use(securityHeaders({ hsts: false })).use((ctx) => {
    ctx.respond = false;
    return handle(ctx.req, ctx.res);
  });

// A page with scripts (the enrolment page), rendered by another koa app on the same request.
const engine = new Koa().use((ctx) => {
  views.render(ctx, 'enrol', { name: '홍길동', optionsUrl: '/o', verifyUrl: '/v' });
});
let server: Server;

beforeAll(async () => {
  server = outer(engine.callback()).listen(0, '127.0.0.1');
  await once(server, 'listening');
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

it("renders with the nonce of the response's CSP on the engine's own koa context", async () => {
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const html = await res.text();
  const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(
    res.headers.get('content-security-policy') ?? '',
  )?.[1];
  expect(nonce).toBeTruthy();
  const scripts = html.match(/<script\b[^>]*>/g) ?? [];
  expect(scripts).toHaveLength(2);
  for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
});
