// Consent for cross-agency data sharing, with openid-client as the relying party: the screen asks
// only for undecided items, declining yields access_denied, unchecked optional items never leave
// One-ID, and withdrawing consent kills the client's tokens at once.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  passkeyVerify,
  registerClient,
  signInDetailed,
} from '../support/flows.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;

const purpose = { ko: '자격 확인', en: 'Eligibility check' };
const allow = (claim: string, required: boolean) => ({
  claim,
  purpose,
  required,
  retention_days: 90,
});

beforeAll(async () => {
  // One test signs the citizen in 34 times in a row.
  app = await startTestApp({
    RATE_LIMIT_SIGNIN_PER_MINUTE: '1000',
    RATE_LIMIT_ACCOUNT_PER_MINUTE: '1000',
  });
  citizen = await enrolCitizen(app, {
    name: '최수아',
    birthdate: '1992-07-15',
    email: 'sua@example.com',
    phone: '01099998888',
  });
});
afterAll(() => app?.stop());

type RunResult = Awaited<ReturnType<typeof signInDetailed>> & {
  error: string | null;
  config: oidc.Configuration;
  tokens?: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  userinfo?: oidc.UserInfoResponse;
};

const run = async (
  client: Awaited<ReturnType<typeof registerClient>>,
  session: BrowserSession,
  params: Record<string, string>,
  options: Parameters<typeof signInDetailed>[4] = {},
): Promise<RunResult> => {
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri, params);
  const result = await signInDetailed(app, session, citizen.authenticator, request.url, options);
  const callback = new URL(result.callback);
  if (callback.searchParams.get('error'))
    return { ...result, error: callback.searchParams.get('error'), config };
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
  return { ...result, error: null, config, tokens, userinfo };
};

describe('consent', () => {
  it('prompts the first time, not the second, and only for new items when asked for more', async () => {
    const client = await registerClient(app, {
      allowed_claims: [
        allow('name', true),
        allow('birthdate', false),
        allow('email', true),
        allow('phone_number', false),
      ],
    });
    const session = createBrowserSession();
    const first = await run(
      client,
      session,
      { scope: 'openid profile' },
      { optional: ['birthdate'] },
    );
    expect(first.consentPages).toEqual([{ required: ['name'], optional: ['birthdate'] }]);
    expect(first.userinfo).toMatchObject({ name: '최수아', birthdate: '1992-07-15' });
    const second = await run(client, session, { scope: 'openid profile' });
    expect(second.signedIn).toBe(false);
    expect(second.consentPages).toEqual([]);
    const more = await run(client, session, { scope: 'openid profile email phone' });
    expect(more.consentPages).toEqual([{ required: ['email'], optional: ['phone_number'] }]);
    expect(more.userinfo).toMatchObject({ name: '최수아', email: 'sua@example.com' });
    expect(more.userinfo).not.toHaveProperty('phone_number');
  });

  it('returns access_denied when the citizen declines', async () => {
    const client = await registerClient(app);
    const result = await run(
      client,
      createBrowserSession(),
      { scope: 'openid profile' },
      { consent: 'decline' },
    );
    expect(result.error).toBe('access_denied');
  });

  it('never releases unchecked optional items, in the ID token or userinfo, even when asked with the claims parameter', async () => {
    const client = await registerClient(app, {
      allowed_claims: [allow('name', true), allow('email', false)],
    });
    const claims = JSON.stringify({
      id_token: { email: { essential: true }, name: null },
      userinfo: { email: null },
    });
    const result = await run(client, createBrowserSession(), {
      scope: 'openid profile email',
      claims,
    });
    expect(result.consentPages).toEqual([{ required: ['name'], optional: ['email'] }]);
    expect(result.tokens!.claims()).toMatchObject({ name: '최수아' });
    expect(result.tokens!.claims()).not.toHaveProperty('email');
    expect(result.userinfo).not.toHaveProperty('email');
    expect(result.userinfo).not.toHaveProperty('email_verified');
  });

  it('honours the claims parameter without scopes, and drops what the client is not allowed', async () => {
    const client = await registerClient(app, { allowed_claims: [allow('email', true)] });
    const claims = JSON.stringify({
      userinfo: { email: null, phone_number: null },
      id_token: { birthdate: null },
    });
    const result = await run(client, createBrowserSession(), { scope: 'openid', claims });
    expect(result.consentPages).toEqual([{ required: ['email'], optional: [] }]);
    expect(result.userinfo).toMatchObject({ email: 'sua@example.com' });
    expect(result.userinfo).not.toHaveProperty('phone_number');
    expect(result.userinfo).not.toHaveProperty('name');
    expect(result.tokens!.claims()).not.toHaveProperty('birthdate');
  });

  it('asks again when the client is allowed more', async () => {
    const client = await registerClient(app, { allowed_claims: [allow('name', true)] });
    const session = createBrowserSession();
    const before = await run(client, session, { scope: 'openid profile' });
    expect(before.consentPages).toEqual([{ required: ['name'], optional: [] }]);
    expect(before.userinfo).not.toHaveProperty('birthdate');
    await app.services.clients.setAllowances(
      client.clientId,
      [allow('name', true), allow('birthdate', true)],
      'test',
    );
    const after = await run(client, session, { scope: 'openid profile' });
    expect(after.consentPages).toEqual([{ required: ['birthdate'], optional: [] }]);
    expect(after.userinfo).toMatchObject({ name: '최수아', birthdate: '1992-07-15' });
  });

  it('records each decision in the database and the audit trail', async () => {
    const client = await registerClient(app, {
      allowed_claims: [allow('name', true), allow('birthdate', false)],
    });
    await run(client, createBrowserSession(), { scope: 'openid profile' });
    const row = await app
      .knex('consents')
      .where({ client_id: client.clientId, account_id: citizen.account.id })
      .first();
    expect(row.granted_claims).toEqual(['name']);
    expect(row.declined_claims).toEqual(['birthdate']);
    expect(row.purposes.name).toMatchObject({ ko: '자격 확인', required: true, retentionDays: 90 });
    expect(new Date(row.expires_at).getTime()).toBeGreaterThan(Date.now() + 300 * 86400_000);
    const audit = await app
      .knex('audit_events')
      .where({ subject: `consent:${row.id}`, action: 'consent.granted' });
    expect(audit).toHaveLength(1);
  });

  it("withdrawing consent on My One-ID makes the client's tokens fail at once", async () => {
    const client = await registerClient(app, { allowed_claims: [allow('name', true)] });
    const session = createBrowserSession();
    const result = await run(client, session, { scope: 'openid profile' });
    const { tokens, config } = result;
    expect((await oidc.tokenIntrospection(config, tokens!.access_token)).active).toBe(true);
    // The same browser is signed in to One-ID: open My One-ID and withdraw.
    const page = await session.follow(`${app.issuer}/account`, app.issuer);
    const html = await page.res.text();
    expect(html).toContain('Test RP');
    const { id: consentId } = await app
      .knex('consents')
      .where({ client_id: client.clientId, account_id: citizen.account.id })
      .whereNull('withdrawn_at')
      .first();
    expect(html).toContain(`/account/consents/${consentId}/withdraw`);
    const withdraw = await session.request(`${app.issuer}/account/consents/${consentId}/withdraw`, {
      method: 'POST',
      form: { _csrf: csrfFrom(html) },
    });
    expect(withdraw.status).toBe(302);
    expect((await oidc.tokenIntrospection(config, tokens!.access_token)).active).toBe(false);
    expect((await oidc.tokenIntrospection(config, tokens!.refresh_token!)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(config, tokens!.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    const row = await app.knex('consents').where({ id: consentId }).first();
    expect(row.withdrawn_at).not.toBeNull();
    // Signing in again asks for consent again.
    const again = await run(client, session, { scope: 'openid profile' });
    expect(again.consentPages).toEqual([{ required: ['name'], optional: [] }]);
  });

  it(
    "keeps a consent's grant list to the grants that can still act, offline ones included",
    { timeout: 60_000 },
    async () => {
      const client = await registerClient(app, {
        allowed_claims: [allow('name', true)],
        grant_types: ['authorization_code', 'refresh_token'],
      });
      const grantIds = async () =>
        (
          await app
            .knex('consents')
            .where({ client_id: client.clientId, account_id: citizen.account.id })
            .whereNull('withdrawn_at')
            .first()
        ).grant_ids as string[];
      // An offline grant (outlives its session), then 32 sign-ins in other browsers.
      const offline = await run(client, createBrowserSession(), {
        scope: 'openid profile offline_access',
        prompt: 'consent',
      });
      const [offlineGrant] = await grantIds();
      for (let i = 0; i < 32; i += 1)
        await run(client, createBrowserSession(), { scope: 'openid profile' });
      expect(await grantIds()).toHaveLength(33);
      // The citizen ends every session (My One-ID): their grants end, the offline one lives on.
      for (const s of await app.services.sessions.listActive(citizen.account.id))
        await app.services.sessions.end(citizen.account.id, s.uid, { actor: 'test' });
      await run(client, createBrowserSession(), { scope: 'openid profile' });
      const kept = await grantIds();
      expect(kept).toHaveLength(2);
      expect(kept[0]).toBe(offlineGrant);
      // Withdrawal still reaches the offline grant.
      const { id: consentId } = await app
        .knex('consents')
        .where({ client_id: client.clientId, account_id: citizen.account.id })
        .whereNull('withdrawn_at')
        .first();
      const record = await app.services.consent.withdraw(citizen.account.id, consentId, 'test');
      expect(record?.grantIds).toContain(offlineGrant);
      expect(offline.tokens?.refresh_token).toBeTruthy();
    },
  );

  it('a consent withdrawn between the passkey and the return to the client gives the client a code that does not work', async () => {
    // The passkey's verification reads the consent with the credential, and the authorization
    // that follows decides from that read (issue 16): the grant made from it must not survive
    // a withdrawal in between.
    const client = await registerClient(app, { allowed_claims: [allow('name', true)] });
    await run(client, createBrowserSession(), { scope: 'openid profile' });
    const consentRow = () =>
      app
        .knex('consents')
        .where({ client_id: client.clientId, account_id: citizen.account.id })
        .orderBy('granted_at', 'desc')
        .first();
    const { id: consentId } = await consentRow();
    const config = await discover(app, client);
    const request = await authorizationRequest(config, client.redirectUri, {
      scope: 'openid profile',
    });
    const session = createBrowserSession();
    const login = await session.follow(request.url.toString(), app.issuer);
    const verify = await passkeyVerify(
      session,
      login.url,
      csrfFrom(await login.res.text()),
      citizen.authenticator,
    );
    expect(verify.status).toBe(200);
    const { location } = (await verify.json()) as { location: string };
    expect(await app.services.consent.withdraw(citizen.account.id, consentId, 'test')).toBeTruthy();
    const { url: callback } = await session.follow(
      new URL(location, app.issuer).toString(),
      app.issuer,
    );
    const code = new URL(callback).searchParams.get('code');
    if (code) {
      await expect(
        oidc.authorizationCodeGrant(config, new URL(callback), {
          pkceCodeVerifier: request.verifier,
          expectedState: request.state,
          expectedNonce: request.nonce,
        }),
      ).rejects.toMatchObject({ error: 'invalid_grant' });
    } else expect(new URL(callback).searchParams.get('error')).toBeTruthy();
    // The withdrawn consent's list did not gain the grant (it was revoked instead).
    expect((await consentRow()).grant_ids).toHaveLength(1);
  });

  it('a grant recorded while a withdrawal waits for the consent is among the grants it revokes', async () => {
    const client = await registerClient(app, { allowed_claims: [allow('name', true)] });
    await run(client, createBrowserSession(), { scope: 'openid profile' });
    const { id: consentId } = await app
      .knex('consents')
      .where({ client_id: client.clientId, account_id: citizen.account.id })
      .whereNull('withdrawn_at')
      .first();
    // A sign-in's session save holds the consent's row while it records its grant there.
    const trx = await app.knex.transaction();
    await trx.raw('SELECT id FROM consents WHERE id = ? FOR UPDATE', [consentId]);
    const withdrawal = app.services.consent.withdraw(citizen.account.id, consentId, 'test');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await trx.raw(`UPDATE consents SET grant_ids = grant_ids || '"grant-in-flight"' WHERE id = ?`, [
      consentId,
    ]);
    await trx.commit();
    expect((await withdrawal)?.grantIds).toContain('grant-in-flight');
  });

  it("says 'not found' for another citizen's consent, and changes nothing (issue 13)", async () => {
    const client = await registerClient(app, { allowed_claims: [allow('name', true)] });
    await run(client, createBrowserSession(), { scope: 'openid profile' });
    const { id: theirs } = await app
      .knex('consents')
      .where({ client_id: client.clientId, account_id: citizen.account.id })
      .whereNull('withdrawn_at')
      .first();
    // Another citizen, signed in to My One-ID in their own browser.
    const other = await enrolCitizen(app, { name: '한지민', birthdate: '1990-01-01' });
    const session = createBrowserSession();
    const config = await discover(app, client);
    const request = await authorizationRequest(config, client.redirectUri, {
      scope: 'openid profile',
    });
    await signInDetailed(app, session, other.authenticator, request.url);
    const page = await session.follow(`${app.issuer}/account?lang=en`, app.issuer);
    const csrf = csrfFrom(await page.res.text());
    const withdraw = await session.request(`${app.issuer}/account/consents/${theirs}/withdraw`, {
      method: 'POST',
      form: { _csrf: csrf },
    });
    expect(withdraw.status).toBe(302);
    expect(withdraw.headers.get('location')).toBe('/account?done=not-found');
    const shown = await (
      await session.follow(`${app.issuer}/account?done=not-found`, app.issuer)
    ).res.text();
    expect(shown).toContain('That consent was not found');
    expect((await app.knex('consents').where({ id: theirs }).first()).withdrawn_at).toBeNull();
  });

  it('refuses a withdrawal without the CSRF token', async () => {
    const res = await fetch(
      `${app.issuer}/account/consents/00000000-0000-0000-0000-000000000000/withdraw`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      },
    );
    expect(res.status).toBe(403);
  });
});
