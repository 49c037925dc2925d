// Sign-in through upstream identity providers over real HTTP: two independent oidc-provider
// instances act as upstreams (a `low` one, and a `substantial` one that may match and enrol),
// openid-client plays the agency's system downstream, a software passkey proves accounts. Both
// upstreams require PKCE (S256) of One-ID. Linking at its edges, and by a certificate sign-in:
// linking-rules.test.ts.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { translator } from '../../src/http/render/messages.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';
import {
  browse,
  registerMobileId,
  registerUpstream,
  retireUpstreams,
  startUpstream,
  upstreamButton,
} from './support.ts';

const LOW = 'urn:one-id:loa:low';
const SUBSTANTIAL = 'urn:one-id:loa:substantial';

let app: TestApp;
let social: Awaited<ReturnType<typeof startUpstream>>;
let gov: Awaited<ReturnType<typeof startUpstream>>;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let client: Awaited<ReturnType<typeof registerClient>>;
let config: oidc.Configuration;
let passkeySub: string;

beforeAll(async () => {
  app = await startTestApp();
  const redirectUri = app.services.federation.redirectUri;
  [social, gov, citizen, client] = await Promise.all([
    startUpstream({
      redirectUri,
      users: { alice: { name: 'Alice Kim' }, carol: { name: 'Carol' }, dave: { name: 'Dave' } },
    }),
    startUpstream({
      redirectUri,
      users: {
        'gov-kim': {
          name: '김연동',
          birthdate: '1986-06-16',
          phone_number: '+82 10-5555-0101',
          phone_number_verified: true,
        },
        'gov-new': {
          name: '이신규',
          birthdate: '2000-02-02',
          phone_number: '010-5555-0202',
          phone_number_verified: true,
        },
      },
    }),
    enrolCitizen(app, {
      name: '김연동',
      birthdate: '1986-06-16',
      email: 'kim.fed@example.com',
      phone: '010-5555-0101',
    }),
    registerClient(app),
  ]);
  await registerUpstream(app, {
    id: 'social',
    issuer: social.issuer,
    client_secret: social.clientSecret,
    acr: LOW,
    claims: { name: 'name' },
    display_name: { ko: '소셜 로그인', en: 'Social sign-in' },
  });
  await registerMobileId(app, gov);
  config = await discover(app, client);
  // The citizen's own sign-in (passkey) to this agency first: the sub every later sign-in must keep.
  const request = await authorizationRequest(config, client.redirectUri);
  const callback = await signIn(app, createBrowserSession(), citizen.authenticator, request.url);
  passkeySub = (
    await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    })
  ).claims()!.sub;
});
afterAll(async () => {
  if (app) await retireUpstreams(app, ['social', 'gov']);
  await Promise.all([social?.close(), gov?.close()]);
  await app?.stop();
});

/** From the agency's authorization request to the first page after the upstream (or the agency's callback). */
const viaUpstream = async (
  upstreamId: string,
  params: Record<string, string> = {},
  session: BrowserSession = createBrowserSession(),
) => {
  const request = await authorizationRequest(config, client.redirectUri, params);
  const login = await session.follow(request.url.href, app.issuer);
  const loginHtml = await login.res.text();
  const action = upstreamButton(loginHtml, upstreamId);
  if (!action) throw new Error(`no button for ${upstreamId} on ${login.url}`);
  const page = await browse(session, `${app.issuer}${action}`, client.redirectUri);
  return { request, session, page, loginHtml };
};

const tokensAt = async (
  request: Awaited<ReturnType<typeof authorizationRequest>>,
  callback: string,
) =>
  (
    await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    })
  ).claims()!;

const auditCount = async (action: string, accountId: string) =>
  Number(
    (await app
      .knex('audit_events')
      .where({ action, subject: `account:${accountId}` })
      .count({ n: '*' })
      .first())!.n,
  );

describe('sign-in through an upstream identity provider', () => {
  it("links on first use after passkey proof, then signs in straight through with the upstream's level", async () => {
    social.next.accountId = 'alice';
    const first = await viaUpstream('social');
    expect(first.loginHtml).toContain('id="federation-login"');
    expect(first.page.url).toMatch(/\/interaction\/[\w-]+\/federation\/link$/);
    expect(first.page.res.status).toBe(200);
    // A `low` upstream is never trusted to find or create an account: proof only.
    expect(first.page.html).not.toContain('id="federation-match"');
    expect(first.page.html).not.toContain('id="federation-enrol"');
    const callback = await signIn(
      app,
      first.session,
      citizen.authenticator,
      new URL(first.page.url),
    );
    const linked = await tokensAt(first.request, callback);
    expect(linked.sub).toBe(passkeySub);
    // Two sign-ins happened: the passkey's level, and the methods of both (upstream's RFC 8176 values + fed).
    expect(linked.acr).toBe(SUBSTANTIAL);
    expect(linked.amr).toEqual(['fed', 'pwd', 'otp', 'mfa', 'hwk', 'user']);
    expect(
      await app
        .knex('federated_identities')
        .where({ account_id: citizen.account.id, subject: 'alice' })
        .first(),
    ).toMatchObject({ upstream_id: 'social', linked_by: 'passkey', issuer: social.issuer });

    // PKCE (S256) at the upstream, which requires it: without code_challenge it refuses the
    // request, and it checks the code_verifier at its token endpoint.
    expect(social.authorizations.at(-1)).toEqual({
      codeChallengeMethod: 'S256',
      codeChallenge: expect.stringMatching(/^[\w-]{43}$/),
    });

    const second = await viaUpstream('social');
    expect(second.page.url.startsWith(client.redirectUri)).toBe(true);
    // A fresh challenge for every sign-in.
    expect(social.authorizations.at(-1)!.codeChallenge).not.toBe(
      social.authorizations.at(-2)!.codeChallenge,
    );
    const claims = await tokensAt(second.request, second.page.url);
    expect(claims.sub).toBe(passkeySub);
    // Never more than the upstream is registered for; its vendor-specific amr value is dropped.
    expect(claims.acr).toBe(LOW);
    expect(claims.amr).toEqual(['fed', 'pwd', 'otp', 'mfa']);
  });

  it('offers only upstreams that meet the requested acr_values, and refuses the others', async () => {
    const session = createBrowserSession();
    const request = await authorizationRequest(config, client.redirectUri, {
      acr_values: SUBSTANTIAL,
      ui_locales: 'en',
    });
    const login = await session.follow(request.url.href, app.issuer);
    const html = await login.res.text();
    expect(upstreamButton(html, 'gov')).toBeTruthy();
    expect(upstreamButton(html, 'social')).toBeUndefined();
    const uid = /\/interaction\/([\w-]+)/.exec(login.url)![1]!;
    const page = await browse(
      session,
      `${app.issuer}/interaction/${uid}/upstream/social`,
      client.redirectUri,
    );
    expect(page.res.status).toBe(400);
    expect(page.html).toContain('ERR_UPSTREAM_ACR');
    // In the language the client asked for (ui_locales), as the sign-in page was.
    expect(page.html).toContain('needs a stronger proof of identity');
    // The way back to the sign-in, still open.
    expect(page.html).toContain(`href="/interaction/${uid}"`);
    expect((await session.request(`${app.issuer}/interaction/${uid}`)).status).toBe(200);
  });

  it("links to the one account the upstream's verified attributes match, on confirmation", async () => {
    gov.next.accountId = 'gov-kim';
    const { page, session, request } = await viaUpstream('gov');
    expect(page.html).toContain('id="federation-match"');
    const uid = /\/interaction\/([\w-]+)\//.exec(page.url)![1]!;
    const done = await browse(
      session,
      `${app.issuer}/interaction/${uid}/federation/link/confirm`,
      client.redirectUri,
      { method: 'POST', form: { _csrf: csrfFrom(page.html) } },
    );
    expect(done.url.startsWith(client.redirectUri)).toBe(true);
    const claims = await tokensAt(request, done.url);
    expect(claims).toMatchObject({
      sub: passkeySub,
      acr: SUBSTANTIAL,
      amr: ['fed', 'pwd', 'otp', 'mfa'],
    });
    expect(
      await app
        .knex('federated_identities')
        .where({ account_id: citizen.account.id, subject: 'gov-kim' })
        .first(),
    ).toMatchObject({ linked_by: 'match' });
  });

  it('creates an account where the upstream may enrol, and never where it may not', async () => {
    gov.next.accountId = 'gov-new';
    const { page, session, request } = await viaUpstream('gov');
    expect(page.html).not.toContain('id="federation-match"');
    expect(page.html).toContain('id="federation-enrol"');
    expect(page.html).toContain('이신규');
    const uid = /\/interaction\/([\w-]+)\//.exec(page.url)![1]!;
    const consent = await browse(
      session,
      `${app.issuer}/interaction/${uid}/federation/link/enrol`,
      client.redirectUri,
      { method: 'POST', form: { _csrf: csrfFrom(page.html) } },
    );
    // A new account: the agency's consent screen comes next.
    const callback = await signIn(app, session, citizen.authenticator, new URL(consent.url));
    const claims = await tokensAt(request, callback);
    expect(claims.sub).not.toBe(passkeySub);
    expect(claims.acr).toBe(SUBSTANTIAL);
    const created = await app
      .knex('federated_identities')
      .where({ subject: 'gov-new', issuer: gov.issuer })
      .first();
    expect(created).toMatchObject({ linked_by: 'enrolment' });
    expect(await app.knex('accounts').where({ id: created.account_id }).first()).toMatchObject({
      name: '이신규',
      phone_number: '01055550202',
    });
    expect(await auditCount('accounts.created.federation', created.account_id)).toBe(1);

    social.next.accountId = 'dave';
    const low = await viaUpstream('social');
    expect(low.page.html).toContain('id="passkey-login"');
    expect(low.page.html).not.toContain('id="federation-enrol"');
    const lowUid = /\/interaction\/([\w-]+)\//.exec(low.page.url)![1]!;
    const forced = await browse(
      low.session,
      `${app.issuer}/interaction/${lowUid}/federation/link/enrol`,
      client.redirectUri,
      { method: 'POST', form: { _csrf: csrfFrom(low.page.html) } },
    );
    expect(forced.res.status).toBe(403);
    expect(forced.html).toContain('ERR_FEDERATION_NO_ENROLMENT');
  });

  // The route certificate login takes ("sign in another way"), proven here with the passkey on the
  // sign-in page; with a real certificate in linking-rules.test.ts.
  it('links after another One-ID sign-in in the same interaction (a passkey on the sign-in page)', async () => {
    social.next.accountId = 'carol';
    const { page, session, request } = await viaUpstream('social');
    const uid = /\/interaction\/([\w-]+)\//.exec(page.url)![1]!;
    const login = await browse(
      session,
      `${app.issuer}/interaction/${uid}/federation/link/sign-in`,
      client.redirectUri,
      { method: 'POST', form: { _csrf: csrfFrom(page.html) } },
    );
    expect(login.url).toBe(`${app.issuer}/interaction/${uid}`);
    expect(login.html).toContain(
      translator('ko')('login.federation.linking', { upstream: '소셜 로그인' }),
    );
    const callback = await signIn(app, session, citizen.authenticator, new URL(login.url));
    expect((await tokensAt(request, callback)).sub).toBe(passkeySub);
    // Linked when the engine ended the interaction (asynchronously, right after).
    let row;
    for (let i = 0; i < 50 && !row; i += 1) {
      row = await app.knex('federated_identities').where({ subject: 'carol' }).first();
      if (!row) await new Promise((r) => setTimeout(r, 50));
    }
    expect(row).toMatchObject({ account_id: citizen.account.id, linked_by: 'sign-in' });
    const again = await viaUpstream('social');
    expect(again.page.url.startsWith(client.redirectUri)).toBe(true);
  });

  it('lists linked services on My One-ID and unlinks them, keeping one way to sign in', async () => {
    // The citizen, signed in with the passkey: every linked service, each removable.
    const session = createBrowserSession();
    await signIn(
      app,
      session,
      citizen.authenticator,
      (await authorizationRequest(config, client.redirectUri)).url,
    );
    const page = await session.request(`${app.issuer}/account`);
    const html = await page.text();
    expect(html).toContain('id="federation-list"');
    expect(html).toContain('소셜 로그인');
    expect(html).toContain('모바일 신분증');
    const carol = await app.knex('federated_identities').where({ subject: 'carol' }).first();
    const removed = await session.request(`${app.issuer}/account/federation/${carol.id}/remove`, {
      method: 'POST',
      form: { _csrf: csrfFrom(html) },
    });
    expect(removed.headers.get('location')).toBe('/account?done=unlinked');
    expect(await app.knex('federated_identities').where({ id: carol.id }).first()).toBeUndefined();
    expect(await auditCount('auth.federation.unlinked', citizen.account.id)).toBe(1);

    // The self-enrolled account has one way to sign in: shown, not removable, refused if forced.
    gov.next.accountId = 'gov-new';
    const { page: signedIn, session: newcomer } = await viaUpstream('gov');
    expect(signedIn.url.startsWith(client.redirectUri)).toBe(true);
    const own = await (await newcomer.request(`${app.issuer}/account`)).text();
    expect(own).toContain('모바일 신분증');
    expect(own).not.toContain('/remove"');
    const only = await app.knex('federated_identities').where({ subject: 'gov-new' }).first();
    const forced = await newcomer.request(`${app.issuer}/account/federation/${only.id}/remove`, {
      method: 'POST',
      form: { _csrf: csrfFrom(own) },
    });
    expect(forced.status).toBe(409);
    expect(await app.knex('federated_identities').where({ id: only.id }).first()).toBeTruthy();

    // A `low` session must step up before unlinking anything.
    social.next.accountId = 'alice';
    const { session: lowSession } = await viaUpstream('social');
    const lowPage = await (await lowSession.request(`${app.issuer}/account`)).text();
    const alice = await app.knex('federated_identities').where({ subject: 'alice' }).first();
    const stepUp = await lowSession.request(`${app.issuer}/account/federation/${alice.id}/remove`, {
      method: 'POST',
      form: { _csrf: csrfFrom(lowPage) },
    });
    expect(stepUp.status).toBe(302);
    expect(new URL(stepUp.headers.get('location')!).searchParams.get('acr_values')).toBe(
      SUBSTANTIAL,
    );
    expect(await app.knex('federated_identities').where({ id: alice.id }).first()).toBeTruthy();
  });
});
