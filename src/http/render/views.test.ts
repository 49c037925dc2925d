// Page rendering. A page carries the nonce of the CSP header it is sent with, on whichever koa context of the
// request renders it: the engine renders its pages (errors, sign-out) on its own context, which
// shares only the node request and response with ours (server.ts hands them over). Per-language
// values and resolved template paths are kept between renders: a render must still see its own
// language, and each layout must resolve from its own folder.
import { once } from 'node:events';
import { IncomingMessage, ServerResponse, type Server } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityHeaders } from '../middleware/security.ts';
import { createViews } from './views.ts';

const site = {
  operator: { ko: '행정안전부', en: 'Ministry of the Interior and Safety' },
  helpdeskPhone: '110',
  helpUrl: undefined,
  privacyUrl: undefined,
  termsUrl: undefined,
  accessibilityUrl: undefined,
};
const views = createViews({ csrfToken: () => 'token', site });

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

const app = new Koa();
const contextFor = (url: string) => {
  const req = new IncomingMessage(new Socket());
  req.url = url;
  req.method = 'GET';
  req.headers = { host: 'localhost' };
  const ctx = app.createContext(req, new ServerResponse(req));
  return ctx;
};

describe('views kept between renders', () => {
  const views = createViews({ csrfToken: () => 'csrf-token', site });
  const render = (url: string, view: string) => {
    const ctx = contextFor(url);
    views.render(ctx, view, { heading: 'Heading', message: 'Message' });
    return String(ctx.body);
  };

  it('renders each page in its own language, in any order', () => {
    for (let i = 0; i < 2; i++) {
      const en = render('/x?lang=en', 'message');
      const ko = render('/x?lang=ko', 'message');
      expect(en).toContain('<html lang="en">');
      expect(en).toContain(site.operator.en);
      expect(en).not.toContain(site.operator.ko);
      expect(ko).toContain('<html lang="ko">');
      expect(ko).toContain(site.operator.ko);
      expect(ko).not.toContain(site.operator.en);
    }
  });

  it('resolves the same layout name from each template folder, every time', () => {
    for (let i = 0; i < 2; i++) {
      const citizen = render('/x', 'message');
      const admin = render('/admin/x', 'admin/signed-out');
      expect(citizen).not.toContain('/admin/admin.css');
      expect(admin).toContain('/admin/admin.css');
    }
  });

  it('refuses a template outside the views folder, every time', () => {
    for (let i = 0; i < 2; i++) expect(() => render('/x', '../package.json')).toThrow();
  });
});
