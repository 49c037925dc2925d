// Web security of every page One-ID serves: a strict CSP with a fresh nonce and no inline script,
// no framing (frame-ancestors + X-Frame-Options, and Chromium really refuses to frame a page),
// SameSite/HttpOnly cookies, a CSRF token in every POST form and every POST route refusing a
// missing or forged one, post-logout redirects only to registered URIs, and HSTS with Secure
// cookies behind a TLS-terminating trusted proxy.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import { launchChromium } from '../support/chromium.ts';
import { authorizationRequest, discover, enrolCitizen, registerClient } from '../support/flows.ts';
import { cliPrincipal } from '../../src/admin/index.ts';
import {
  certificateEnv,
  challengeSignIn,
  createTestPki,
  linkCertificate,
  type TestPki,
} from '../auth/certificate-login/support.ts';
import { consoleSignIn } from '../admin/support.ts';
import {
  browse,
  registerUpstream,
  retireUpstreams,
  startUpstream,
  upstreamButton,
} from '../federation/support.ts';
import { openAccountPage } from '../sso/support.ts';
import { via } from './support.ts';

type Page = { name: string; status: number; headers: Headers; html: string };

let app: TestApp;
let pki: TestPki;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
const pages: Page[] = [];
const cookies: string[] = [];

/** Fetches a page in `session`, keeping it (and every Set-Cookie) for the checks below. */
const visit = async (
  session: BrowserSession,
  name: string,
  url: string | URL,
  init: Parameters<BrowserSession['request']>[1] = {},
) => {
  const res = await session.request(url, init);
  cookies.push(...res.headers.getSetCookie());
  const html = await res.text();
  if ((res.headers.get('content-type') ?? '').includes('text/html'))
    pages.push({ name, status: res.status, headers: res.headers, html });
  return { res, html };
};

/** Follows redirects inside One-ID, keeping every page on the way. */
const walk = async (
  session: BrowserSession,
  name: string,
  url: string,
  init: Parameters<BrowserSession['request']>[1] = {},
) => {
  let current = url;
  let { res, html } = await visit(session, name, current, init);
  for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops += 1) {
    current = new URL(res.headers.get('location')!, current).toString();
    if (!current.startsWith(app.issuer)) break;
    ({ res, html } = await visit(session, name, current));
  }
  return { res, html, url: current };
};

beforeAll(async () => {
  pki = await createTestPki();
  app = await startTestApp({
    ...certificateEnv(pki),
    TRUSTED_PROXIES: '127.0.0.1',
    RATE_LIMIT_ENROLMENT_PER_MINUTE: '4',
  });
  // An upstream identity provider: the login page gets its federation section.
  upstream = await startUpstream({
    redirectUri: app.services.federation.redirectUri,
    users: { 'websec-user': { name: 'Web Security' } },
  });
  await registerUpstream(app, {
    id: 'websec',
    issuer: upstream.issuer,
    client_secret: upstream.clientSecret,
    acr: 'urn:one-id:loa:low',
    claims: { name: 'name' },
  });

  // Enrolment: the link's page, then done.
  const { url: enrolUrl } = await app.services.accounts.enrolCitizen(
    { name: '한보안', birthdate: '1970-01-01', email: 'han.security@example.com' },
    'test',
  );
  await visit(createBrowserSession(), 'enrolment', enrolUrl);
  citizen = await enrolCitizen(app);
  await visit(createBrowserSession(), 'enrolment done', `${app.issuer}/enrol/done`);

  // Sign-in and consent pages, then logout confirmation and the signed-out page.
  const client = await registerClient(app);
  const config = await discover(app, client);
  const session = createBrowserSession();
  const login = await walk(
    session,
    'login',
    (await authorizationRequest(config, client.redirectUri)).url.toString(),
  );
  expect(login.html).toContain('id="federation-login"');
  const path = new URL(login.url).pathname;
  const options = await (
    await session.request(`${app.issuer}${path}/passkey/options`, {
      method: 'POST',
      json: {},
      headers: { 'x-csrf-token': csrfFrom(login.html) },
    })
  ).json();
  const verify = await session.request(`${app.issuer}${path}/passkey/verify`, {
    method: 'POST',
    json: citizen.authenticator.authenticate(options),
    headers: { 'x-csrf-token': csrfFrom(login.html) },
  });
  const consent = await walk(
    session,
    'consent',
    new URL((await verify.json()).location, app.issuer).toString(),
  );
  expect(consent.html).toContain('/consent"');
  await walk(session, 'consent', `${app.issuer}${new URL(consent.url).pathname}/consent`, {
    method: 'POST',
    form: { _csrf: csrfFrom(consent.html), decision: 'approve' },
  });
  const logout = await visit(session, 'logout', `${app.issuer}/session/end`);
  const action = /id="op\.logoutForm" method="post" action="([^"]+)"/.exec(logout.html)![1]!;
  await walk(session, 'signed out', new URL(action, app.issuer).toString(), {
    method: 'POST',
    form: { xsrf: /name="xsrf" value="([^"]+)"/.exec(logout.html)![1]!, logout: 'yes' },
  });

  // Error pages: ours, and the engine's.
  const stranger = createBrowserSession();
  await visit(stranger, 'unknown interaction', `${app.issuer}/interaction/nope`);
  await visit(stranger, 'unknown enrolment link', `${app.issuer}/enrol/${'z'.repeat(43)}`);
  await visit(stranger, 'not found', `${app.issuer}/no/such/page`);
  await visit(
    stranger,
    'engine error',
    `${app.issuer}/auth?client_id=nope&response_type=code&scope=openid`,
  );
  for (let i = 0; i < 5; i += 1)
    await visit(stranger, 'rate limited', `${app.issuer}/enrol/${'r'.repeat(43)}`, {
      headers: via('203.0.113.99'),
    });

  // Sign-in through the upstream: an unknown upstream's refusal page, then the upstream's
  // account, not linked yet, on the linking page (One-ID's pages only are kept).
  const federated = createBrowserSession();
  const fedLogin = await walk(
    federated,
    'login (federation)',
    (await authorizationRequest(config, client.redirectUri)).url.toString(),
  );
  const fedPath = new URL(fedLogin.url).pathname;
  await visit(federated, 'federation error', `${app.issuer}${fedPath}/upstream/no-such-upstream`);
  const callback = await browse(
    federated,
    `${app.issuer}${upstreamButton(fedLogin.html, 'websec')}`,
    `${app.issuer}/federation/callback`,
  );
  const linking = await walk(federated, 'federation link', callback.url);
  expect(
    new URL(linking.url).pathname,
    linking.html
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .slice(0, 600),
  ).toBe(`${fedPath}/federation/link`);

  // My One-ID, and its sign-in methods page (a recent sign-in).
  const mine = createBrowserSession();
  await openAccountPage(app, mine, citizen.authenticator);
  await visit(mine, 'my one-id', `${app.issuer}/account`);
  await visit(mine, 'security', `${app.issuer}/account/security`);

  // Recovery: it asks for a certificate sign-in (high), then shows the passkeys.
  const leaf = await pki.citizen();
  await linkCertificate(app, citizen.account.id, leaf, [pki.intermediate]);
  const recovering = createBrowserSession();
  const recoverLogin = await walk(recovering, 'login (recovery)', `${app.issuer}/account/recover`);
  const recovered = await challengeSignIn(
    app,
    recovering,
    {
      path: new URL(recoverLogin.url).pathname,
      url: recoverLogin.url,
      csrf: csrfFrom(recoverLogin.html),
      html: recoverLogin.html,
    },
    leaf,
    [pki.intermediate],
  );
  const recoveryPage = await walk(
    recovering,
    'recovery',
    new URL(recovered.body.location!, app.issuer).toString(),
  );
  expect(new URL(recoveryPage.url).pathname).toBe('/account/recover');

  // Certificate sign-in: the refusal page (plain form) and self-enrolment.
  const certSession = createBrowserSession();
  const certLogin = await walk(
    certSession,
    'login (certificate)',
    (await authorizationRequest(config, client.redirectUri)).url.toString(),
  );
  const certPath = new URL(certLogin.url).pathname;
  await visit(certSession, 'certificate refused', `${app.issuer}${certPath}/certificate/verify`, {
    method: 'POST',
    form: { _csrf: csrfFrom(certLogin.html), jws: 'not.a.jws' },
  });
  const { body } = await challengeSignIn(
    app,
    certSession,
    { path: certPath, url: certLogin.url, csrf: csrfFrom(certLogin.html), html: certLogin.html },
    await pki.citizen(),
    [pki.intermediate],
  );
  await walk(certSession, 'certificate enrolment', new URL(body.location!, app.issuer).toString());

  // The admin console: its entry (sign-in) for a stranger, then every page for an administrator.
  await walk(createBrowserSession(), 'admin console', `${app.issuer}/admin`);
  // The citizen becomes an administrator (another enrolment would meet this file's enrolment limit).
  await app.services.admin.admins.grant(cliPrincipal(), {
    accountId: citizen.account.id,
    role: 'platform',
  });
  const adminSession = await consoleSignIn(app, citizen);
  const clientPath = `/admin/clients/${encodeURIComponent(client.clientId)}`;
  for (const page of [
    '/admin',
    '/admin/clients',
    '/admin/clients/new',
    clientPath,
    `${clientPath}/edit`,
    '/admin/audit',
    '/admin/agencies',
    '/admin/admins',
    '/admin/dcr',
    '/admin/upstreams',
    '/admin/upstreams/new',
    '/admin/upstreams/websec/edit',
  ]) {
    const { res } = await visit(
      adminSession,
      `admin ${page.replace(clientPath, '/admin/clients/:id')}`,
      `${app.issuer}${page}`,
    );
    expect(res.status, page).toBe(200);
  }
  const home = await adminSession.request(`${app.issuer}/admin`);
  await visit(adminSession, 'admin signed out', `${app.issuer}/admin/logout`, {
    method: 'POST',
    form: { _csrf: csrfFrom(await home.text()) },
  });
});
afterAll(async () => {
  if (app) await retireUpstreams(app, ['websec']);
  await upstream?.close();
  await app?.stop();
  await pki?.close();
});

const nonceOf = (page: Page) =>
  /script-src[^;]*'nonce-([A-Za-z0-9+/=]+)'/.exec(
    page.headers.get('content-security-policy') ?? '',
  )?.[1];

describe('pages', () => {
  it('were all visited', () => {
    const names = new Set(pages.map((p) => p.name));
    for (const name of [
      'enrolment',
      'enrolment done',
      'login',
      'consent',
      'logout',
      'signed out',
      'unknown interaction',
      'unknown enrolment link',
      'engine error',
      'rate limited',
      'my one-id',
      'certificate refused',
      'certificate enrolment',
      'federation error',
      'federation link',
      'security',
      'login (recovery)',
      'recovery',
      'admin console',
      'admin /admin',
      'admin /admin/clients',
      'admin /admin/clients/new',
      'admin /admin/clients/:id',
      'admin /admin/clients/:id/edit',
      'admin /admin/audit',
      'admin /admin/agencies',
      'admin /admin/admins',
      'admin /admin/dcr',
      'admin /admin/upstreams',
      'admin /admin/upstreams/new',
      'admin /admin/upstreams/websec/edit',
      'admin signed out',
    ])
      expect(names, name).toContain(name);
    expect(pages.find((p) => p.name === 'rate limited' && p.status === 429)).toBeDefined();
  });

  it('each carry a strict CSP with a nonce, and no script runs without it', () => {
    for (const page of pages) {
      const csp = page.headers.get('content-security-policy') ?? '';
      const nonce = nonceOf(page);
      expect(nonce, `${page.name}: CSP nonce`).toBeTruthy();
      expect(csp, page.name).not.toMatch(/unsafe-inline|unsafe-eval|unsafe-hashes|\*(?![.\w])/);
      expect(csp, page.name).toMatch(/default-src 'none'/);
      expect(csp, page.name).toMatch(/object-src 'none'/);
      expect(csp, page.name).toMatch(/base-uri 'none'/);
      for (const tag of page.html.match(/<script\b[^>]*>/gi) ?? [])
        expect(tag, `${page.name}: ${tag}`).toContain(`nonce="${nonce}"`);
      // No inline handlers, javascript: URLs or inline styles (style-src 'self' would block them anyway).
      expect(page.html, page.name).not.toMatch(/\son[a-z]+\s*=|javascript:|<style\b|\sstyle\s*=/i);
    }
    // A fresh nonce per response.
    const nonces = pages.map(nonceOf);
    expect(new Set(nonces).size).toBe(nonces.length);
  });

  it('each refuse to be framed', () => {
    for (const page of pages) {
      expect(page.headers.get('content-security-policy'), page.name).toMatch(
        /frame-ancestors 'none'/,
      );
      expect(page.headers.get('x-frame-options'), page.name).toBe('DENY');
      expect(page.headers.get('x-content-type-options'), page.name).toBe('nosniff');
    }
  });

  it('have a CSRF token in every form that posts', () => {
    let forms = 0;
    for (const page of pages) {
      for (const [form] of page.html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)) {
        if (!/method\s*=\s*"?post/i.test(form)) continue;
        forms += 1;
        // The engine's own logout form carries its own token (xsrf), checked by the engine.
        const field = /id="op\.logoutForm"/.test(form) ? 'xsrf' : '_csrf';
        expect(form, `${page.name}: a form without ${field}`).toMatch(
          new RegExp(`<input[^>]+name="${field}"[^>]+value="[^"]{20,}"`),
        );
      }
    }
    expect(forms).toBeGreaterThan(5);
  });

  it('set only HttpOnly, SameSite cookies', () => {
    expect(cookies.length).toBeGreaterThan(3);
    for (const cookie of cookies) {
      expect(cookie, cookie.split('=')[0]).toMatch(/;\s*httponly/i);
      expect(cookie, cookie.split('=')[0]).toMatch(/;\s*samesite=(lax|strict)/i);
    }
  });
});

describe('CSRF', () => {
  it('every POST route refuses a missing or forged token', async () => {
    type Layer = { path: string; methods: string[] };
    const router = (app.http.middleware as unknown as { router?: { stack: Layer[] } }[]).find(
      (m) => m.router,
    )!.router!;
    // APIs (/api/*, /admin/api/*) authenticate with an Authorization header, never a cookie a
    // browser would send by itself: CSRF does not apply to them. Every other route is a browser's.
    const routes = router.stack.filter(
      (l) =>
        l.methods.some((m) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(m)) &&
        !/^\/(admin\/)?api\//.test(l.path),
    );
    expect(routes.length).toBeGreaterThan(10);
    // A browser with a CSRF cookie of its own, and a token that belongs to another browser.
    const victim = createBrowserSession();
    await victim.request(`${app.issuer}/enrol/done`);
    const attacker = createBrowserSession();
    const forged = csrfFrom(await (await attacker.request(`${app.issuer}/enrol/done`)).text());
    for (const [i, layer] of routes.entries()) {
      const path = layer.path.replace(/:(\w+)/g, 'x');
      const method = layer.methods.find((m) => m !== 'HEAD')!;
      for (const token of [undefined, forged]) {
        // Each route on behalf of its own address, so rate limits do not answer first.
        const res = await victim.request(`${app.issuer}${path}`, {
          method,
          form: token ? { _csrf: token } : {},
          headers: via(`198.51.100.${i}`, { accept: 'application/json' }),
        });
        expect(
          res.status,
          `${method} ${layer.path} ${token ? 'with a forged token' : 'without a token'}`,
        ).toBe(403);
        expect((await res.json()).code).toBe('ERR_CSRF');
      }
    }
  });

  it('the engine’s logout confirmation refuses a forged xsrf', async () => {
    const res = await fetch(`${app.issuer}/session/end/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'xsrf=forged&logout=yes',
      redirect: 'manual',
    });
    expect(res.status).toBe(400);
  });
});

describe('post-logout redirects', () => {
  it('go only to a URI the client registered', async () => {
    const client = await registerClient(app);
    const registered = new URL('/', client.redirectUri).toString();
    for (const target of [
      'https://evil.example/',
      `${registered}evil`,
      registered.replace('localhost', '127.0.0.1'),
      '//evil.example/',
    ]) {
      const res = await fetch(
        `${app.issuer}/session/end?${new URLSearchParams({ client_id: client.clientId, post_logout_redirect_uri: target })}`,
        { redirect: 'manual' },
      );
      expect(res.status, target).toBe(400);
      expect(res.headers.get('location'), target).toBeNull();
    }
    // The registered one is accepted (the confirmation page is shown).
    const ok = await fetch(
      `${app.issuer}/session/end?${new URLSearchParams({ client_id: client.clientId, post_logout_redirect_uri: registered })}`,
      { redirect: 'manual' },
    );
    expect(ok.status).toBe(200);
  });
});

describe('behind a TLS-terminating trusted proxy', () => {
  let secure: TestApp;
  beforeAll(async () => {
    const port = await freePort();
    secure = await startTestApp(
      { ISSUER: `https://localhost:${port}`, TRUSTED_PROXIES: '127.0.0.1' },
      { port },
    );
  });
  afterAll(() => secure?.stop());

  it('sends HSTS and marks every cookie Secure', async () => {
    const client = await registerClient(secure, { redirect_uris: ['https://agency.example/cb'] });
    const tls = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.5' };
    const session = createBrowserSession();
    const auth = new URL(`${secure.issuer}/auth`);
    auth.search = new URLSearchParams({
      client_id: client.clientId,
      redirect_uri: 'https://agency.example/cb',
      response_type: 'code',
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const local = (url: string) => url.replace(secure.issuer, `http://localhost:${secure.port}`);
    const seen: string[] = [];
    let res = await session.request(local(auth.toString()), { headers: tls });
    for (let hops = 0; hops < 5 && res.headers.get('location'); hops += 1) {
      seen.push(...res.headers.getSetCookie());
      expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d{7,}/);
      res = await session.request(
        local(new URL(res.headers.get('location')!, secure.issuer).toString() + '?lang=en'),
        { headers: tls },
      );
    }
    seen.push(...res.headers.getSetCookie());
    expect(res.status).toBe(200);
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d{7,}/);
    expect(
      (
        await fetch(`http://localhost:${secure.port}/.well-known/openid-configuration`, {
          headers: tls,
        })
      ).headers.get('strict-transport-security'),
    ).toMatch(/max-age/);
    const names = seen.map((c) => c.split('=')[0]);
    for (const name of ['oneid_interaction', '__Host-oneid_csrf', 'oneid_lang'])
      expect(names).toContain(name);
    for (const cookie of seen) expect(cookie, cookie.split('=')[0]).toMatch(/;\s*secure/i);
  });
});

describe('clickjacking', () => {
  let browser: Browser;
  let attacker: Server;
  let attackerUrl: string;
  beforeAll(async () => {
    browser = await launchChromium();
    // Another origin that frames One-ID's pages, and (as a control) a page of its own.
    attacker = createServer((req, res) => {
      res.setHeader('content-type', 'text/html');
      if (req.url === '/inner') return res.end('<!doctype html><p>inner-ok</p>');
      res.end(
        `<!doctype html><iframe id="own" src="/inner"></iframe>${['/enrol/done', '/interaction/x', `/enrol/${'z'.repeat(43)}`].map((p) => `<iframe src="${app.issuer}${p}"></iframe>`).join('')}`,
      );
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await browser?.close();
    attacker?.close();
  });

  it('Chromium refuses to show a One-ID page inside another site’s frame', async () => {
    const page = await browser.newPage();
    try {
      const blocked: string[] = [];
      page.on('console', (m) => {
        if (/frame-ancestors|X-Frame-Options|Refused to display/i.test(m.text()))
          blocked.push(m.text());
      });
      await page.goto(attackerUrl, { waitUntil: 'load', timeout: 15_000 });
      const frames = page.frames().filter((f) => f !== page.mainFrame());
      expect(frames).toHaveLength(4);
      // The control frame (same origin as its parent, no framing protection) renders.
      expect(await page.frameLocator('#own').locator('p').textContent({ timeout: 5000 })).toBe(
        'inner-ok',
      );
      for (const frame of frames.filter((f) => !f.url().endsWith('/inner'))) {
        const shown = await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
        expect(shown, frame.url()).not.toMatch(/One-ID|통합/);
      }
      // And Chromium says why: the framing was refused by One-ID's policy.
      expect(blocked.length, 'a console report of the refused framing').toBeGreaterThan(0);
    } finally {
      await page.close();
    }
  });
});
