// My One-ID's directory of agency systems (/account/systems): every enabled agency system and
// none of One-ID's own, searched with ?q= in Korean and English; a system that registered an
// initiate_login_uri is linked with ?iss= (OIDC Core 4), and following that link reaches a real
// relying party that checks `iss` and runs a code flow which ends without a new sign-in (SSO).
// The page passes axe (WCAG 2.1 A/AA) on a phone-size screen in both languages.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, type BrowserSession } from '../support/browser-session.ts';
import {
  accessibilityProblems,
  citizenContext,
  launchChromium,
  pageProblems,
} from '../support/chromium.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
  signInDetailed,
  type AuthRequest,
} from '../support/flows.ts';
import { createLeaf, createRootCa, OIDS } from '../support/pki.ts';

let app: TestApp;
let browser: Browser;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let session: BrowserSession;
let welfare: Awaited<ReturnType<typeof registerClient>>;
let tax: Awaited<ReturnType<typeof registerClient>>;
let closed: Awaited<ReturnType<typeof registerClient>>;

/**
 * The welfare agency's system: its login initiation endpoint checks `iss` and starts a code flow
 * with openid-client; its callback redeems the code and keeps the ID token's claims.
 */
let rp: Server;
let rpOrigin: string;
let rpConfig: oidc.Configuration;
const initiations: (string | null)[] = [];
const pending = new Map<string, AuthRequest>();
const signedIn: oidc.IDToken[] = [];

// Registration wants https for initiate_login_uri (OIDC Registration 2), so the RP serves https
// with a test root that Node's fetch is made to trust for this file (as pairwise-sector.test.ts).
const DISPATCHER = Symbol.for('undici.globalDispatcher.1');
type Dispatcher = { constructor: new (options: object) => unknown };
let previousDispatcher: Dispatcher | undefined;

const startRp = async () => {
  const root = await createRootCa();
  const leaf = await createLeaf(root, { commonName: 'localhost', eku: [OIDS.serverAuth] });
  const key = Buffer.from(await crypto.subtle.exportKey('pkcs8', leaf.keys.privateKey)).toString(
    'base64',
  );
  void Response; // loads Node's fetch, which installs its global dispatcher
  previousDispatcher = (globalThis as Record<symbol, Dispatcher>)[DISPATCHER];
  (globalThis as Record<symbol, unknown>)[DISPATCHER] = new previousDispatcher!.constructor({
    connect: { ca: [root.pem] },
  });
  const tls = {
    cert: leaf.pem,
    key: `-----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY-----\n`,
  };
  rp = createServer(tls, (req, res) => {
    const url = new URL(req.url!, rpOrigin);
    const answer = async () => {
      if (url.pathname === '/initiate') {
        const iss = url.searchParams.get('iss');
        initiations.push(iss);
        // OIDC Core 4: the RP MUST verify that iss names an OP it relies on.
        if (iss !== app.issuer) return res.writeHead(400).end('unknown issuer');
        const request = await authorizationRequest(rpConfig, `${rpOrigin}/cb`, {
          scope: 'openid profile',
        });
        pending.set(request.state, request);
        return res.writeHead(302, { location: request.url.toString() }).end();
      }
      if (url.pathname === '/cb') {
        const request = pending.get(url.searchParams.get('state') ?? '');
        if (!request) return res.writeHead(400).end('unknown state');
        const tokens = await oidc.authorizationCodeGrant(rpConfig, url, {
          pkceCodeVerifier: request.verifier,
          expectedState: request.state,
          expectedNonce: request.nonce,
        });
        signedIn.push(tokens.claims()!);
        return res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in');
      }
      return res.writeHead(404).end();
    };
    answer().catch((error: Error) => res.writeHead(500).end(error.message));
  });
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  rpOrigin = `https://localhost:${(rp.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchChromium(), startRp()]);
  welfare = await registerClient(app, {
    client_name: '복지로',
    'client_name#en': 'Bokjiro',
    agency: '보건복지부',
    description: '복지 서비스 신청과 수급 자격 확인',
    'description#en': 'Apply for welfare benefits and check your eligibility',
    redirect_uris: [`${rpOrigin}/cb`],
    initiate_login_uri: `${rpOrigin}/initiate`,
  });
  rpConfig = await discover(app, welfare);
  tax = await registerClient(app, {
    client_name: '홈택스',
    agency: '국세청',
    description: '세금 신고와 납부',
  });
  closed = await registerClient(app, { client_name: '폐지된 민원 서비스', agency: '국세청' });
  await app.services.clients.setStatus(closed.clientId, 'disabled', 'test');
  await app
    .knex('agencies')
    .where({ name: '보건복지부' })
    .update({ name_en: 'Ministry of Health' });
  citizen = await enrolCitizen(app, { name: '김하나', birthdate: '1985-05-05' });
  session = createBrowserSession();
  // The citizen signs in once, at the tax service: One-ID's session is what the rest reuses.
  const request = await authorizationRequest(await discover(app, tax), tax.redirectUri);
  expect(await signIn(app, session, citizen.authenticator, request.url)).toContain('code=');
});
afterAll(async () => {
  if (previousDispatcher) (globalThis as Record<symbol, unknown>)[DISPATCHER] = previousDispatcher;
  await browser?.close();
  await app?.stop();
  rp?.close();
});

/** The directory in the signed-in session (through My One-ID's own sign-in, silently). */
const directory = async (query: Record<string, string>) => {
  const { res, url } = await session.follow(
    `${app.issuer}/account/systems?${new URLSearchParams(query)}`,
    app.issuer,
  );
  expect(new URL(url).pathname).toBe('/account/systems');
  expect(res.status).toBe(200);
  return res.text();
};

/** Each listed system's HTML, by client id. */
const items = (html: string) =>
  new Map(
    [...html.matchAll(/<li class="consent-item" data-client="([^"]+)">([\s\S]*?)<\/li>/g)].map(
      (m) => [m[1]!, m[2]!],
    ),
  );

const linkOf = (item: string) =>
  /<a class="system-link" href="([^"]+)">/.exec(item)?.[1]?.replaceAll('&amp;', '&');

describe("My One-ID's directory of agency systems", () => {
  it('is linked from My One-ID', async () => {
    const { res } = await session.follow(`${app.issuer}/account?lang=ko`, app.issuer);
    expect(await res.text()).toContain('<a href="/account/systems">모든 기관 서비스 찾기</a>');
  });

  it('lists every enabled agency system, Korean first, and links those with initiate_login_uri', async () => {
    const html = await directory({ lang: 'ko' });
    const listed = items(html);
    expect([...listed.keys()].sort()).toEqual([tax.clientId, welfare.clientId].sort());
    // One-ID's own clients and a disabled system are not agency systems a citizen can use.
    expect(html).not.toContain('My One-ID</h2>');
    expect(html).not.toContain('관리 콘솔');
    expect(html).not.toContain('폐지된 민원 서비스');
    expect(html).not.toContain(closed.clientId);

    const w = listed.get(welfare.clientId)!;
    expect(w).toContain('>복지로</h2>');
    expect(w).toContain('운영 기관: <span>보건복지부</span>');
    expect(w).toContain('복지 서비스 신청과 수급 자격 확인');
    const link = new URL(linkOf(w)!);
    expect(`${link.origin}${link.pathname}`).toBe(`${rpOrigin}/initiate`);
    expect([...link.searchParams]).toEqual([['iss', app.issuer]]);
    expect(w).toContain('복지로 바로가기');

    const t = listed.get(tax.clientId)!;
    expect(t).toContain('>홈택스</h2>');
    expect(linkOf(t)).toBeUndefined();
    expect(t).toContain('이 서비스의 누리집에서 직접 로그인하세요.');
    expect(html).toContain('서비스 2개');
  });

  it('searches names, agencies and descriptions in either language, with a plain GET form', async () => {
    const form = await directory({ lang: 'ko' });
    expect(form).toMatch(/<form method="get" action="\/account\/systems" role="search">/);
    expect(form).toMatch(/<input type="text" id="directory-q" name="q" value=""/);

    expect([...items(await directory({ q: '세금' })).keys()]).toEqual([tax.clientId]);
    expect([...items(await directory({ q: '국세청' })).keys()]).toEqual([tax.clientId]);
    // English words find the Korean-first system too, whatever the page language.
    expect([...items(await directory({ q: 'ELIGIBILITY' })).keys()]).toEqual([welfare.clientId]);
    const results = await directory({ q: '복지' });
    expect([...items(results).keys()]).toEqual([welfare.clientId]);
    expect(results).toContain('“복지” 검색 결과: 1개');
    expect(results).toContain('value="복지"');

    const none = await directory({ q: '<script>alert(1)</script>' });
    expect(items(none).size).toBe(0);
    expect(none).toContain('찾는 서비스가 없습니다.');
    expect(none).not.toContain('<script>alert(1)</script>');
    expect(none).toContain('&lt;script&gt;');
  });

  it('shows English names where registered, and marks Korean-only text as Korean', async () => {
    const html = await directory({ lang: 'en', q: 'ministry' });
    const listed = items(html);
    expect([...listed.keys()]).toEqual([welfare.clientId]);
    const w = listed.get(welfare.clientId)!;
    expect(w).toContain('>Bokjiro</h2>');
    expect(w).toContain('Agency: <span>Ministry of Health</span>');
    expect(w).toContain('Go to Bokjiro');

    const t = items(await directory({ lang: 'en', q: '홈택스' })).get(tax.clientId)!;
    expect(t).toMatch(/<h2 id="system-[^"]+" lang="ko">홈택스<\/h2>/);
    expect(t).toContain('<span lang="ko">국세청</span>');
    expect(t).toContain('Sign in on the service’s own website.');
  });

  it("following a system's link reaches it with iss and signs the citizen in there without a new sign-in", async () => {
    const html = await directory({ lang: 'ko', q: '복지로' });
    const link = linkOf(items(html).get(welfare.clientId)!)!;
    const before = Math.floor(Date.now() / 1000);
    // The RP's login initiation endpoint sends the browser on to One-ID's authorization endpoint.
    const { res, url } = await session.follow(link, rpOrigin);
    expect(res.status).toBe(302);
    expect(initiations).toEqual([app.issuer]);
    expect(url.startsWith(`${app.issuer}/auth?`)).toBe(true);
    const { callback, signedIn: askedToSignIn } = await signInDetailed(
      app,
      session,
      citizen.authenticator,
      new URL(url),
    );
    expect(askedToSignIn).toBe(false);
    expect(callback.startsWith(`${rpOrigin}/cb?`)).toBe(true);
    const landed = await session.request(callback);
    expect(await landed.text()).toBe('signed in');
    expect(signedIn).toHaveLength(1);
    const [claims] = signedIn;
    expect(claims!.iss).toBe(app.issuer);
    expect(claims!.aud).toBe(welfare.clientId);
    // The sign-in it carries is the earlier one, at the tax service.
    expect(claims!.auth_time).toBeLessThanOrEqual(before);
  });

  it('an initiation with a foreign iss is refused by the RP (the test RP can fail)', async () => {
    const res = await fetch(
      `${rpOrigin}/initiate?iss=${encodeURIComponent('https://evil.example')}`,
      {
        redirect: 'manual',
      },
    );
    expect(res.status).toBe(400);
  });
});

describe.each(['ko', 'en'] as const)('the directory in Chromium (%s)', (lang) => {
  it('passes the accessibility check on a phone, and searches with the keyboard', async () => {
    const context = await citizenContext(browser, {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      locale: lang === 'ko' ? 'ko-KR' : 'en-US',
    });
    try {
      // The signed-in citizen's One-ID cookies, from the HTTP session above.
      await context.addCookies(
        [...session.jar].map(([name, value]) => ({ name, value, url: app.issuer })),
      );
      const page = await context.newPage();
      const problems = pageProblems(page);
      await page.goto(`${app.issuer}/account/systems?lang=${lang}`);
      await page.waitForSelector('#directory-list');
      expect(await page.locator('html').getAttribute('lang')).toBe(lang);
      expect(await page.locator('#directory-list > li').count()).toBe(2);
      expect(await accessibilityProblems(page)).toEqual([]);
      await page.fill('#directory-q', lang === 'ko' ? '세금' : 'tax');
      await page.press('#directory-q', 'Enter');
      await page.waitForURL(/[?&]q=/);
      expect(await page.locator('#directory-list > li').count()).toBe(lang === 'ko' ? 1 : 0);
      expect(await accessibilityProblems(page)).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
