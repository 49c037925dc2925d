// Whole journeys over real HTTP: register a client, enrol a citizen with a software passkey,
// sign in through the interaction pages, and hand the RP's callback URL to openid-client.
import * as oidc from 'openid-client';
import { randomBytes } from 'node:crypto';
import type { TestApp } from './app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from './browser-session.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from './soft-authenticator.ts';

const purpose = { ko: '민원 처리', en: 'Handling your application' };
/** What test clients may ask for by default: the common identity items, all required. */
export const DEFAULT_ALLOWANCES = ['name', 'birthdate', 'email', 'phone_number'].map((claim) => ({
  claim,
  purpose,
  required: true,
  retention_days: 30,
}));

export const registerClient = async (app: TestApp, overrides: Record<string, unknown> = {}) => {
  const redirectUri =
    (overrides.redirect_uris as string[] | undefined)?.[0] ??
    `http://localhost:4${String(randomBytes(2).readUInt16BE() % 1000).padStart(3, '0')}/cb`;
  const result = await app.services.clients.addClient(
    {
      client_id: `rp-${randomBytes(6).toString('hex')}`,
      client_name: 'Test RP',
      agency: 'Test Agency',
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [new URL('/', redirectUri).toString()],
      allowed_claims: DEFAULT_ALLOWANCES,
      ...overrides,
    },
    'test',
  );
  return { clientId: result.clientId, clientSecret: result.clientSecret, redirectUri };
};

export const discover = (
  app: TestApp,
  client: { clientId: string; clientSecret?: string | undefined },
) =>
  oidc.discovery(new URL(app.issuer), client.clientId, client.clientSecret, undefined, {
    execute: [oidc.allowInsecureRequests],
  });

export const enrolCitizen = async (
  app: TestApp,
  citizen: Partial<{ name: string; birthdate: string; email: string; phone: string }> = {},
  authenticator?: SoftAuthenticator,
) => {
  const { account, url } = await app.services.accounts.enrolCitizen(
    {
      name: '홍길동',
      birthdate: '1990-01-01',
      email: `c${randomBytes(4).toString('hex')}@example.com`,
      ...citizen,
    },
    'test',
  );
  const key = authenticator ?? createSoftAuthenticator({ origin: app.issuer });
  const session = createBrowserSession();
  const page = await session.request(url);
  if (page.status !== 200) throw new Error(`enrolment page: ${page.status}`);
  const csrf = csrfFrom(await page.text());
  const base = new URL(url).pathname;
  const options = await (
    await session.request(`${app.issuer}${base}/options`, {
      method: 'POST',
      json: {},
      headers: { 'x-csrf-token': csrf },
    })
  ).json();
  const verify = await session.request(`${app.issuer}${base}/verify`, {
    method: 'POST',
    json: key.register(options),
    headers: { 'x-csrf-token': csrf },
  });
  if (verify.status !== 200)
    throw new Error(`enrolment verify: ${verify.status} ${await verify.text()}`);
  return { account, authenticator: key, enrolmentUrl: url };
};

export type AuthRequest = { url: URL; verifier: string; state: string; nonce: string };

export const authorizationRequest = async (
  config: oidc.Configuration,
  redirectUri: string,
  params: Record<string, string> = {},
): Promise<AuthRequest> => {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
};

/**
 * Drives the interaction pages from the authorization URL to the RP's callback: passkey
 * sign-in when asked, then the consent decision when asked. Returns the callback URL.
 */
export type ConsentPage = { required: string[]; optional: string[] };
export type SignInOptions = {
  consent?: 'approve' | 'decline';
  identifier?: string;
  optional?: string[];
};

/** The data items a consent page asks for: required ones (no checkbox) and optional ones. */
export const consentPageItems = (html: string): ConsentPage => ({
  required: [...html.matchAll(/<span class="item-label" id="item-([a-z0-9_]+)">/g)].map(
    (m) => m[1]!,
  ),
  optional: [...html.matchAll(/<input type="checkbox" name="claims" value="([a-z0-9_]+)"/g)].map(
    (m) => m[1]!,
  ),
});

/**
 * The login page's passkey button at `interaction` (its absolute URL): asks for options (with
 * `start` as the request body), answers them with `authenticator`, and returns the verify
 * response, whose JSON carries the `location` to follow.
 */
export const passkeyVerify = async (
  session: BrowserSession,
  interaction: string,
  csrf: string,
  authenticator: SoftAuthenticator,
  start: Record<string, string> = {},
) => {
  const options = await (
    await session.request(`${interaction}/passkey/options`, {
      method: 'POST',
      json: start,
      headers: { 'x-csrf-token': csrf },
    })
  ).json();
  return session.request(`${interaction}/passkey/verify`, {
    method: 'POST',
    json: authenticator.authenticate(options),
    headers: { 'x-csrf-token': csrf },
  });
};

export const signIn = async (
  app: TestApp,
  session: BrowserSession,
  authenticator: SoftAuthenticator,
  authUrl: URL,
  options: SignInOptions = {},
): Promise<string> =>
  (await signInDetailed(app, session, authenticator, authUrl, options)).callback;

/** Like signIn, and also reports whether a sign-in and which consent pages were shown. */
export const signInDetailed = async (
  app: TestApp,
  session: BrowserSession,
  authenticator: SoftAuthenticator,
  authUrl: URL,
  options: SignInOptions = {},
): Promise<{ callback: string; signedIn: boolean; consentPages: ConsentPage[] }> => {
  let signedIn = false;
  const consentPages: ConsentPage[] = [];
  let { res, url } = await session.follow(authUrl.toString(), app.issuer);
  for (let step = 0; step < 4 && url.startsWith(app.issuer); step += 1) {
    const html = await res.text();
    if (res.status !== 200)
      throw new Error(`unexpected ${res.status} at ${url}: ${html.slice(0, 300)}`);
    const csrf = csrfFrom(html);
    const path = new URL(url).pathname;
    if (html.includes('id="passkey-login"')) {
      signedIn = true;
      const verify = await passkeyVerify(
        session,
        `${app.issuer}${path}`,
        csrf,
        authenticator,
        options.identifier ? { identifier: options.identifier } : {},
      );
      const body = await verify.json();
      if (verify.status !== 200)
        throw new Error(`passkey verify ${verify.status}: ${JSON.stringify(body)}`);
      ({ res, url } = await session.follow(
        new URL(body.location, app.issuer).toString(),
        app.issuer,
      ));
    } else if (html.includes(`action="${path}/consent"`)) {
      consentPages.push(consentPageItems(html));
      const form = new URLSearchParams({ _csrf: csrf, decision: options.consent ?? 'approve' });
      for (const claim of options.optional ?? []) form.append('claims', claim);
      ({ res, url } = await session.follow(`${app.issuer}${path}/consent`, app.issuer, {
        method: 'POST',
        body: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }));
    } else {
      throw new Error(`unexpected page at ${url}: ${html.slice(0, 300)}`);
    }
  }
  if (url.startsWith(app.issuer)) throw new Error(`did not reach the client: ${url}`);
  return { callback: url, signedIn, consentPages };
};

/**
 * A prompt=none authorization request in `session`: its error tells whether One-ID still has a
 * session (null when One-ID answered with a code).
 */
export const silentAuthError = async (
  app: TestApp,
  session: BrowserSession,
  client: { clientId: string; redirectUri: string },
): Promise<string | null> => {
  const url = new URL('/auth', app.issuer);
  url.search = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    response_type: 'code',
    scope: 'openid',
    prompt: 'none',
    state: 'silent',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCGaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  }).toString();
  const { url: landed } = await session.follow(url.toString(), app.issuer);
  return new URL(landed).searchParams.get('error');
};
