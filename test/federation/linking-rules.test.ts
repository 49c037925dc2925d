// Linking an upstream identity seen for the first time, at its edges, over real HTTP: a real
// oidc-provider upstream that may match and enrol, certificate login on (the test PKI).
//   - the match rule finds two accounts, a disabled one, or one linked at that issuer already:
//     no confirmation offered, no account created (it would be a duplicate), proof still works;
//   - "sign in another way" proven by a certificate sign-in, linked when the interaction ends;
//   - that link failing (the identity was linked elsewhere meanwhile): the citizen is signed in,
//     and the failure is audited and on their activity list.
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
import type { Issued } from '../support/pki.ts';
import {
  certificateEnv,
  challengeSignIn,
  continueToClient,
  createTestPki,
  linkCertificate,
  type TestPki,
} from '../auth/certificate-login/support.ts';
import {
  browse,
  registerMobileId,
  retireUpstreams,
  startUpstream,
  upstreamButton,
} from './support.ts';

const SUBSTANTIAL = 'urn:one-id:loa:substantial';
const verifiedPhone = (phone_number: string) => ({ phone_number, phone_number_verified: true });

let pki: TestPki;
let app: TestApp;
let gov: Awaited<ReturnType<typeof startUpstream>>;
let client: Awaited<ReturnType<typeof registerClient>>;
let config: oidc.Configuration;
type Citizen = Awaited<ReturnType<typeof enrolCitizen>>;
let twins: Citizen[];
let retired: Citizen;
let relinked: Citizen;
let holder: Citizen;
let holderLeaf: Issued;
let other: Citizen;

beforeAll(async () => {
  pki = await createTestPki();
  app = await startTestApp(certificateEnv(pki));
  gov = await startUpstream({
    redirectUri: app.services.federation.redirectUri,
    users: {
      'gov-twin': { name: '박쌍둥', birthdate: '1990-03-03', ...verifiedPhone('010-5555-0303') },
      'gov-retired': { name: '최중지', birthdate: '1970-04-04', ...verifiedPhone('010-5555-0404') },
      'gov-first': { name: '정재발급', birthdate: '1980-05-05', ...verifiedPhone('010-5555-0505') },
      'gov-second': {
        name: '정재발급',
        birthdate: '1980-05-05',
        ...verifiedPhone('010-5555-0505'),
      },
      'gov-cert': { name: '한인증', birthdate: '1975-06-06', ...verifiedPhone('010-5555-0606') },
      'gov-race': { name: '한경합', birthdate: '1975-07-07', ...verifiedPhone('010-5555-0707') },
    },
  });
  const twin = { name: '박쌍둥', birthdate: '1990-03-03', phone: '010-5555-0303' };
  [client, twins, retired, relinked, holder, other, holderLeaf] = await Promise.all([
    registerClient(app),
    Promise.all([enrolCitizen(app, twin), enrolCitizen(app, twin)]),
    enrolCitizen(app, { name: '최중지', birthdate: '1970-04-04', phone: '010-5555-0404' }),
    enrolCitizen(app, { name: '정재발급', birthdate: '1980-05-05', phone: '010-5555-0505' }),
    enrolCitizen(app, { name: '한인증', birthdate: '1960-01-01' }),
    enrolCitizen(app, { name: '다른사람', birthdate: '1961-01-01' }),
    pki.citizen(),
  ]);
  await linkCertificate(app, holder.account.id, holderLeaf, [pki.intermediate]);
  // An account the service counter disabled.
  await app.knex('accounts').where({ id: retired.account.id }).update({ status: 'disabled' });
  await registerMobileId(app, gov);
  config = await discover(app, client);
});
afterAll(async () => {
  if (app) await retireUpstreams(app, ['gov']);
  await gov?.close();
  await app?.stop();
  await pki?.close();
});

/** Signs `user` in at the upstream from a fresh agency request; returns the page One-ID shows next. */
const viaGov = async (user: string, session: BrowserSession = createBrowserSession()) => {
  gov.next.accountId = user;
  const request = await authorizationRequest(config, client.redirectUri);
  const login = await session.follow(request.url.href, app.issuer);
  const action = upstreamButton(await login.res.text(), 'gov');
  if (!action) throw new Error(`no button for gov on ${login.url}`);
  const page = await browse(session, `${app.issuer}${action}`, client.redirectUri);
  const uid = /\/interaction\/([\w-]+)/.exec(page.url)?.[1];
  return { request, session, page, uid: uid! };
};

const post = (session: BrowserSession, path: string, html: string) =>
  browse(session, `${app.issuer}${path}`, client.redirectUri, {
    method: 'POST',
    form: { _csrf: csrfFrom(html) },
  });

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

const identity = (subject: string) =>
  app.knex('federated_identities').where({ issuer: gov.issuer, subject }).first();
const accountsNamed = async (name: string) =>
  Number((await app.knex('accounts').where({ name }).count({ n: '*' }).first())!.n);

/** Polls until `read` gives something (linking after a sign-in happens as the interaction ends). */
const eventually = async <T>(read: () => Promise<T | undefined>): Promise<T | undefined> => {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (value || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** The linking page offers neither the match nor a new account, and says why. */
const expectNoOffer = (html: string) => {
  expect(html).toContain('id="passkey-login"');
  expect(html).not.toContain('id="federation-match"');
  expect(html).not.toContain('id="federation-enrol"');
  expect(html).toContain('id="federation-exists"');
  expect(html).toContain(translator('ko')('federation.link.exists', { upstream: '모바일 신분증' }));
};

describe('the match rule at its edges', () => {
  it('offers nothing to confirm or create when two accounts match; a passkey still links one', async () => {
    const { page, session, uid } = await viaGov('gov-twin');
    expect(page.url).toBe(`${app.issuer}/interaction/${uid}/federation/link`);
    expectNoOffer(page.html);
    // Forced: no account is created (it would be a third with these details).
    const forced = await post(session, `/interaction/${uid}/federation/link/enrol`, page.html);
    expect(forced.res.status).toBe(403);
    expect(forced.html).toContain('ERR_FEDERATION_NO_ENROLMENT');
    expect(await accountsNamed('박쌍둥')).toBe(2);

    // Proof decides: the second twin's passkey, in a new linking (the forced POST used it up).
    const again = await viaGov('gov-twin');
    expectNoOffer(again.page.html);
    const callback = await signIn(
      app,
      again.session,
      twins[1]!.authenticator,
      new URL(again.page.url),
    );
    expect((await tokensAt(again.request, callback)).acr).toBe(SUBSTANTIAL);
    expect(await identity('gov-twin')).toMatchObject({
      account_id: twins[1]!.account.id,
      linked_by: 'passkey',
    });
  });

  it('offers nothing to confirm or create when the one matching account is disabled', async () => {
    const { page, session, uid } = await viaGov('gov-retired');
    expectNoOffer(page.html);
    // Forced confirmation finds no candidate; forced enrolment would get round the disabling.
    const confirm = await post(session, `/interaction/${uid}/federation/link/confirm`, page.html);
    expect(confirm.res.status).toBe(400);
    expect(confirm.html).toContain('ERR_FEDERATION_EXPIRED');
    const { page: page2, session: session2, uid: uid2 } = await viaGov('gov-retired');
    const enrol = await post(session2, `/interaction/${uid2}/federation/link/enrol`, page2.html);
    expect(enrol.res.status).toBe(403);
    expect(await accountsNamed('최중지')).toBe(1);
    expect(await identity('gov-retired')).toBeUndefined();
    // The disabled account's own passkey cannot link it either.
    const { page: page3, session: session3 } = await viaGov('gov-retired');
    await expect(signIn(app, session3, retired.authenticator, new URL(page3.url))).rejects.toThrow(
      /ERR_ACCOUNT_DISABLED|403/,
    );
    expect(await identity('gov-retired')).toBeUndefined();
  });

  it('asks for proof when the matching account has an identity at that issuer already', async () => {
    // First identity: the one match, confirmed.
    const first = await viaGov('gov-first');
    expect(first.page.html).toContain('id="federation-match"');
    const done = await post(
      first.session,
      `/interaction/${first.uid}/federation/link/confirm`,
      first.page.html,
    );
    // The agency's consent screen (this citizen's first visit there), then the agency.
    expect(
      (await tokensAt(first.request, await continueToClient(app, first.session, done.url))).acr,
    ).toBe(SUBSTANTIAL);
    expect(await identity('gov-first')).toMatchObject({
      account_id: relinked.account.id,
      linked_by: 'match',
    });

    // Another subject there with the same details: not the same person as far as One-ID knows.
    const second = await viaGov('gov-second');
    expectNoOffer(second.page.html);
    const callback = await signIn(
      app,
      second.session,
      relinked.authenticator,
      new URL(second.page.url),
    );
    expect((await tokensAt(second.request, callback)).acr).toBe(SUBSTANTIAL);
    expect(await identity('gov-second')).toMatchObject({
      account_id: relinked.account.id,
      linked_by: 'passkey',
    });
    expect(await accountsNamed('정재발급')).toBe(1);
  });
});

describe('linking by a certificate sign-in', () => {
  /** From the linking page to the sign-in page, with the certificate section and the linking notice. */
  const deferToSignIn = async (user: string) => {
    const start = await viaGov(user);
    expect(start.page.html).toContain('id="federation-sign-in"');
    const login = await post(
      start.session,
      `/interaction/${start.uid}/federation/link/sign-in`,
      start.page.html,
    );
    expect(login.url).toBe(`${app.issuer}/interaction/${start.uid}`);
    expect(login.html).toContain('id="certificate-login"');
    expect(login.html).toContain(
      translator('ko')('login.federation.linking', { upstream: '모바일 신분증' }),
    );
    return {
      ...start,
      login: {
        path: `/interaction/${start.uid}`,
        url: login.url,
        csrf: csrfFrom(login.html),
        html: login.html,
      },
    };
  };

  /** The signed challenge with the holder's certificate, then on to the agency. */
  const certificateSignIn = async (flow: Awaited<ReturnType<typeof deferToSignIn>>) => {
    const { res, body } = await challengeSignIn(app, flow.session, flow.login, holderLeaf, [
      pki.intermediate,
    ]);
    expect(res.status, JSON.stringify(body)).toBe(200);
    return tokensAt(flow.request, await continueToClient(app, flow.session, body.location!));
  };

  it('links the upstream identity to the account the certificate signed in', async () => {
    const flow = await deferToSignIn('gov-cert');
    const claims = await certificateSignIn(flow);
    expect(claims.amr).toContain('x509');
    expect(claims.amr).not.toContain('fed');
    const row = await eventually(() => identity('gov-cert'));
    expect(row).toMatchObject({ account_id: holder.account.id, linked_by: 'sign-in' });
    expect(
      await app
        .knex('audit_events')
        .where({ action: 'auth.federation.linked', subject: `account:${holder.account.id}` })
        .whereRaw("details->>'method' = 'sign-in'"),
    ).toHaveLength(1);

    // From now on the upstream alone signs the same citizen in.
    const again = await viaGov('gov-cert');
    expect(again.page.url.startsWith(client.redirectUri)).toBe(true);
    expect((await tokensAt(again.request, again.page.url)).sub).toBe(claims.sub);
  });

  it("audits a link that fails after the sign-in (linked elsewhere meanwhile), on the citizen's activity too", async () => {
    const flow = await deferToSignIn('gov-race');
    // Meanwhile, in another browser, the same upstream identity is linked to another account.
    const elsewhere = await viaGov('gov-race');
    await signIn(app, elsewhere.session, other.authenticator, new URL(elsewhere.page.url));
    expect(await identity('gov-race')).toMatchObject({ account_id: other.account.id });

    // The certificate sign-in still signs the citizen in; the link cannot be made.
    const claims = await certificateSignIn(flow);
    expect(claims.acr).toBe('urn:one-id:loa:high');
    const failure = await eventually(async () =>
      app
        .knex('audit_events')
        .where({ action: 'auth.federation.link_failed', subject: `account:${holder.account.id}` })
        .first(),
    );
    expect(failure).toMatchObject({
      actor: `account:${holder.account.id}`,
      details: { upstream: 'gov', method: 'sign-in', reason: 'ERR_FEDERATION_ALREADY_LINKED' },
    });
    expect(await identity('gov-race')).toMatchObject({ account_id: other.account.id });
    const account = await (await flow.session.request(`${app.issuer}/account`)).text();
    expect(account).toContain(translator('ko')('activity.auth.federation.link_failed'));
  });
});
