// A real Apache httpd with mod_auth_openidc 2.4 registers itself with One-ID (RFC 7591): multi-
// provider mode (OIDCMetadataDir) with One-ID's discovery document as `.provider` and an initial
// access token (`dcr issue-token`) as `.conf` "registration_token", no OIDCClientID. A browser
// (cookie jar) asking for the protected path names One-ID on the module's discovery page, the
// module registers and sends it to One-ID's sign-in page; the citizen signs in with a passkey and
// reaches the protected content. The registration's initiate_login_uri puts Apache in My One-ID's
// directory: its link (?iss=, OIDC Core 4) signs the citizen in at Apache without a new sign-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { startTestApp, freePort, type TestApp } from '../support/app.ts';
import { startApache, metadataFileName } from '../support/apache.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { DEFAULT_ALLOWANCES, enrolCitizen, signInDetailed } from '../support/flows.ts';
import { createLeaf, createRootCa, OIDS } from '../support/pki.ts';

const AGENCY = '행정안전부';

let app: TestApp;
let apache: Awaited<ReturnType<typeof startApache>>;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
/** The citizen's browser: signed in to One-ID by the first test. */
const session = createBrowserSession();

// The browser trusts the test root that signed Apache's certificate (Node's fetch, this file only).
const DISPATCHER = Symbol.for('undici.globalDispatcher.1');
type Dispatcher = { constructor: new (options: object) => unknown };
let previousDispatcher: Dispatcher | undefined;

beforeAll(async () => {
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

  app = await startTestApp({ DCR_ENABLED: 'true' });
  citizen = await enrolCitizen(app, { name: '박서준', email: 'seojun@example.com' });
  await app.services.admin.admins.putAgency(cliPrincipal(), { name: AGENCY });
  // What `npm run cli -- dcr issue-token --agency 행정안전부` runs.
  const { token } = await app.services.admin.dcr.issueInitialToken(cliPrincipal(), {
    agency: AGENCY,
  });
  const discovery = await (await fetch(`${app.issuer}/.well-known/openid-configuration`)).json();
  const port = await freePort();
  const file = metadataFileName(app.issuer);
  apache = await startApache({
    port,
    tls: {
      cert: leaf.pem,
      key: `-----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY-----\n`,
    },
    directives: [
      `OIDCRedirectURI https://localhost:${port}/protected/redirect_uri`,
      'OIDCCryptoPassphrase interop-test-passphrase',
      'OIDCSSLValidateServer Off',
      // Where a sign-in started by One-ID (OIDC Core 4: iss, no target_link_uri) lands.
      `OIDCDefaultURL https://localhost:${port}/protected/`,
      'OIDCScope "openid profile email"',
      'OIDCPKCEMethod S256',
      'OIDCClientName "Apache 민원 시스템"',
      // The module's default request asks for implicit grant types too; One-ID offers code only.
      'OIDCProviderRegistrationEndpointJson {"grant_types":["authorization_code","refresh_token"],"response_types":["code"]}',
    ],
    metadata: {
      [`${file}.provider`]: discovery,
      [`${file}.conf`]: { registration_token: token },
    },
  });
});
afterAll(async () => {
  if (previousDispatcher) (globalThis as Record<symbol, unknown>)[DISPATCHER] = previousDispatcher;
  await apache?.stop();
  await app?.stop();
});

describe('Apache httpd + mod_auth_openidc registering itself', () => {
  it('registers through its discovery page, reaches the sign-in page, and signs the citizen in', async () => {
    // The protected path answers with the module's discovery page (One-ID is its only provider).
    const { res: page, url } = await session.follow(`${apache.origin}/protected/`, apache.origin);
    const html = await page.text();
    expect(page.status, `${url}\n${html.slice(0, 500)}\n${apache.errorLog().slice(-3000)}`).toBe(
      200,
    );
    // Its form (target_link_uri, method, x_csrf, iss): the citizen's browser gives One-ID's issuer.
    const action = /<form method="get" action="([^"]+)">/.exec(html)?.[1];
    expect(action, html.slice(0, 1500)).toBe(`${apache.origin}/protected/redirect_uri`);
    const choice = new URL(action!);
    for (const [, name, value] of html.matchAll(
      /<input type="hidden" name="([^"]+)" value="([^"]*)">/g,
    ))
      choice.searchParams.set(name!, value!);
    choice.searchParams.set('iss', app.issuer);

    // Choosing One-ID: the module registers (POST /reg with the initial access token), then
    // sends the browser to One-ID's authorization endpoint.
    const picked = await session.follow(choice.toString(), apache.origin);
    expect(picked.url.startsWith(`${app.issuer}/auth?`), apache.errorLog().slice(-3000)).toBe(true);
    const clientId = new URL(picked.url).searchParams.get('client_id')!;
    const registered = await app.services.clients.find(clientId);
    expect(registered).toMatchObject({ agency: AGENCY, registeredVia: 'dcr', status: 'active' });
    expect(registered!.metadata).toMatchObject({
      client_name: 'Apache 민원 시스템',
      redirect_uris: [`${apache.origin}/protected/redirect_uri`],
      response_types: ['code'],
      initiate_login_uri: `${apache.origin}/protected/redirect_uri`,
    });
    expect(registered!.metadata).not.toHaveProperty('frontchannel_logout_uri');
    const signInPage = await session.follow(picked.url, app.issuer);
    expect(signInPage.res.status).toBe(200);
    expect(await signInPage.res.text()).toContain('id="passkey-login"');

    // The administrator allows the data items; the citizen signs in and reaches the content.
    await app.services.clients.setAllowances(clientId, DEFAULT_ALLOWANCES, 'test');
    const { callback, signedIn } = await signInDetailed(
      app,
      session,
      citizen.authenticator,
      new URL(picked.url),
    );
    expect(signedIn).toBe(true);
    expect(callback.startsWith(`${apache.origin}/protected/redirect_uri?`)).toBe(true);
    const landed = await session.follow(callback, apache.origin);
    expect(landed.res.status, apache.errorLog().slice(-3000)).toBe(200);
    expect(await landed.res.text()).toBe('protected content\n');
  });

  it("is linked from My One-ID's directory, and the link signs the citizen in at Apache without a new sign-in", async () => {
    // A new visit to Apache (its session cookie gone); the citizen is still signed in to One-ID.
    for (const name of [...session.jar.keys()])
      if (name.startsWith('mod_auth_openidc')) session.jar.delete(name);
    const { res } = await session.follow(`${app.issuer}/account/systems?q=Apache`, app.issuer);
    const link = /<a class="system-link" href="([^"]+)">/
      .exec(await res.text())?.[1]
      ?.replaceAll('&amp;', '&');
    expect(link).toBe(
      `${apache.origin}/protected/redirect_uri?iss=${encodeURIComponent(app.issuer)}`,
    );
    const started = await session.follow(link!, apache.origin);
    expect(started.url.startsWith(`${app.issuer}/auth?`), apache.errorLog().slice(-2000)).toBe(
      true,
    );
    const { callback, signedIn } = await signInDetailed(
      app,
      session,
      citizen.authenticator,
      new URL(started.url),
    );
    expect(signedIn).toBe(false);
    const landed = await session.follow(callback, apache.origin);
    expect(landed.res.status, apache.errorLog().slice(-2000)).toBe(200);
    expect(await landed.res.text()).toBe('protected content\n');
  });
});
