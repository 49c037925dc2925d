// A consent's life, as the citizen and the audit trail see it: granted (required items, optional
// ones declined), extended when the system asks for more, withdrawn on My One-ID, and asked for
// again once CONSENT_MAX_AGE_DAYS have passed (the old record then ends as expired, and its tokens
// stop working without waiting for a sign-in). Each change is one audit event naming who did it,
// which consent, for which system and which items.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signInDetailed,
  type SignInOptions,
} from '../support/flows.ts';

let app: TestApp;
/** The same app where a consent lasts 2 seconds (CONSENT_MAX_AGE_DAYS is at least 1 in the environment). */
let brief: TestApp;
const BRIEF_MS = 2000;

beforeAll(async () => {
  // One after the other: two embedded databases opening at once can starve a loaded machine.
  app = await startTestApp();
  brief = await startTestApp(
    { SESSION_SWEEP_SECONDS: '1' },
    { overrides: { consentMaxAgeDays: BRIEF_MS / 86_400_000 } },
  );
});
afterAll(() => Promise.all([app?.stop(), brief?.stop()]));

const purpose = { ko: '자격 확인', en: 'Eligibility check' };
const allowances = [
  { claim: 'name', purpose, required: true, retention_days: 90 },
  { claim: 'birthdate', purpose, required: false, retention_days: 90 },
  { claim: 'email', purpose, required: false, retention_days: 30 },
];

type Row = {
  id: string;
  occurred_at: Date;
  actor: string;
  subject: string;
  ip: string | null;
  details: Record<string, unknown>;
};
const consentEvents = async (on: TestApp, consentId: string) =>
  (await on
    .knex('audit_events')
    .where({ subject: `consent:${consentId}` })
    .orderBy('id')) as (Row & { action: string })[];
const consentsOf = async (on: TestApp, accountId: string, clientId: string) =>
  on.knex('consents').where({ account_id: accountId, client_id: clientId }).orderBy('granted_at');

const run = async (
  on: TestApp,
  client: Awaited<ReturnType<typeof registerClient>>,
  session: BrowserSession,
  citizen: Awaited<ReturnType<typeof enrolCitizen>>,
  scope: string,
  options: SignInOptions = {},
) => {
  const request = await authorizationRequest(await discover(on, client), client.redirectUri, {
    scope,
  });
  const result = await signInDetailed(on, session, citizen.authenticator, request.url, options);
  expect(new URL(result.callback).searchParams.get('code')).toBeTruthy();
  return result;
};

describe('consent lifecycle', () => {
  it('audits the grant, the extension and the withdrawal with the citizen as actor and the consent as subject', async () => {
    const citizen = await enrolCitizen(app);
    const client = await registerClient(app, { allowed_claims: allowances });
    const session = createBrowserSession();
    const actor = `account:${citizen.account.id}`;

    // Granted: the required name; the optional birthdate left unchecked.
    const first = await run(app, client, session, citizen, 'openid profile');
    expect(first.consentPages).toEqual([{ required: ['name'], optional: ['birthdate'] }]);
    const [consent] = await consentsOf(app, citizen.account.id, client.clientId);
    const granted = (await consentEvents(app, consent.id)).filter(
      (e) => e.action === 'consent.granted',
    );
    expect(granted).toHaveLength(1);
    expect(granted[0]).toMatchObject({
      actor,
      ip: expect.stringMatching(/127\.0\.0\.1/),
      details: {
        clientId: client.clientId,
        granted: ['name'],
        declined: ['birthdate'],
        expiresAt: new Date(consent.expires_at).toISOString(),
      },
    });
    expect(new Date(consent.expires_at).getTime() - new Date(consent.granted_at).getTime()).toBe(
      365 * 86_400_000,
    );

    // Extended: the system now also asks for email, which the citizen ticks.
    const more = await run(app, client, session, citizen, 'openid profile email', {
      optional: ['email'],
    });
    expect(more.consentPages).toEqual([{ required: [], optional: ['email'] }]);
    const [extendedRecord] = await consentsOf(app, citizen.account.id, client.clientId);
    expect(extendedRecord.id).toBe(consent.id);
    expect(extendedRecord.granted_claims).toEqual(['name', 'email']);
    const extended = (await consentEvents(app, consent.id)).filter(
      (e) => e.action === 'consent.extended',
    );
    expect(extended).toHaveLength(1);
    expect(extended[0]).toMatchObject({
      actor,
      ip: expect.stringMatching(/127\.0\.0\.1/),
      details: {
        clientId: client.clientId,
        granted: ['email'],
        declined: [],
        expiresAt: new Date(extendedRecord.expires_at).toISOString(),
      },
    });

    // Withdrawn on My One-ID (the same browser is signed in to One-ID).
    const account = await session.follow(`${app.issuer}/account`, app.issuer);
    const withdraw = await session.request(
      `${app.issuer}/account/consents/${consent.id}/withdraw`,
      { method: 'POST', form: { _csrf: csrfFrom(await account.res.text()) } },
    );
    expect(withdraw.status).toBe(302);
    const withdrawn = (await consentEvents(app, consent.id)).filter(
      (e) => e.action === 'consent.withdrawn',
    );
    expect(withdrawn).toHaveLength(1);
    expect(withdrawn[0]).toMatchObject({
      actor,
      ip: expect.stringMatching(/127\.0\.0\.1/),
      details: {
        clientId: client.clientId,
        claims: ['name', 'email'],
        grantIds: extendedRecord.grant_ids,
      },
    });
    expect((extendedRecord.grant_ids as string[]).length).toBeGreaterThan(0);
    expect((await consentEvents(app, consent.id)).map((e) => e.action)).toEqual([
      'consent.granted',
      'consent.extended',
      'consent.withdrawn',
    ]);
  });

  it('asks again once the consent is older than CONSENT_MAX_AGE_DAYS, and records the old one as expired', async () => {
    const citizen = await enrolCitizen(brief);
    const client = await registerClient(brief, { allowed_claims: allowances });
    const session = createBrowserSession();

    const first = await run(brief, client, session, citizen, 'openid profile', {
      optional: ['birthdate'],
    });
    expect(first.consentPages).toEqual([{ required: ['name'], optional: ['birthdate'] }]);
    const [old] = await consentsOf(brief, citizen.account.id, client.clientId);
    const expiresAt = new Date(old.expires_at).getTime();
    expect(expiresAt - new Date(old.granted_at).getTime()).toBe(BRIEF_MS);

    // Past its expiry (the One-ID session itself is still valid: no new sign-in).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 300));
    const again = await run(brief, client, session, citizen, 'openid profile', {
      optional: ['birthdate'],
    });
    expect(again.signedIn).toBe(false);
    expect(again.consentPages).toEqual([{ required: ['name'], optional: ['birthdate'] }]);

    const rows = await consentsOf(brief, citizen.account.id, client.clientId);
    expect(rows).toHaveLength(2);
    expect(rows[0].id).toBe(old.id);
    expect(rows[0].withdrawn_at).not.toBeNull();
    expect(rows[1]).toMatchObject({ withdrawn_at: null, granted_claims: ['name', 'birthdate'] });
    const expired = await consentEvents(brief, old.id);
    expect(expired.map((e) => e.action)).toEqual(['consent.granted', 'consent.expired']);
    expect(expired[1]).toMatchObject({ actor: 'system', details: { clientId: client.clientId } });
    expect(await consentEvents(brief, rows[1].id)).toEqual([
      expect.objectContaining({
        action: 'consent.granted',
        actor: `account:${citizen.account.id}`,
        details: expect.objectContaining({ granted: ['name', 'birthdate'], declined: [] }),
      }),
    ]);
  });

  it('stops the data when a consent expires: its refresh and access tokens are revoked before any new sign-in', async () => {
    const citizen = await enrolCitizen(brief);
    const client = await registerClient(brief, { allowed_claims: allowances });
    const config = await discover(brief, client);
    const request = await authorizationRequest(config, client.redirectUri, {
      scope: 'openid profile',
    });
    const browser = createBrowserSession();
    const { callback } = await signInDetailed(brief, browser, citizen.authenticator, request.url);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    const [consent] = await consentsOf(brief, citizen.account.id, client.clientId);

    // The sweep (every second here) closes it once expired, as a withdrawal would.
    const deadline = Date.now() + 15_000;
    while (!(await consentEvents(brief, consent.id)).some((e) => e.action === 'consent.expired')) {
      expect(Date.now(), 'the expired consent was closed by the sweep').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const expired = (await consentEvents(brief, consent.id)).find(
      (e) => e.action === 'consent.expired',
    )!;
    expect(expired).toMatchObject({
      actor: 'system',
      details: { clientId: client.clientId, grantIds: consent.grant_ids },
    });
    // Its grants are revoked right after it is closed (introspection has no side effect to poll with).
    while ((await oidc.tokenIntrospection(config, tokens.access_token)).active) {
      expect(Date.now(), 'the access token was revoked').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    const signedOut = await brief
      .knex('audit_events')
      .where({ action: 'sessions.client.signed-out', subject: `account:${citizen.account.id}` });
    expect(signedOut.map((e) => e.details)).toEqual([
      expect.objectContaining({ clientId: client.clientId, reason: 'consent_expired' }),
    ]);
    // My One-ID no longer lists it as active, and its activity says it expired.
    expect(await brief.services.consent.listForAccount(citizen.account.id)).toEqual([]);
    const page = await (
      await browser.follow(`${brief.issuer}/account?lang=en`, brief.issuer)
    ).res.text();
    expect(page).toContain('Consent expired');
  });
});
