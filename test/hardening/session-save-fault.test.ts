// A failed session save at the return from the passkey (GET /auth/:uid). By then the engine has
// made the grant (from the citizen's consent) and the authorization code under it; the save
// that follows records the session, "connected systems" and the grant's id on the consent in
// one statement (src/sessions/session-repo.ts). When the database refuses that statement, the
// engine does not save the session again after its error answer (that second save once stored
// the session and recorded the grant, or failed into a bare 500), and the grant, still pending,
// is revoked as the request ends (src/oidc/storage/session-mirror.ts): the citizen gets the
// engine's error (a page, or the client's redirect), never a code that works, and nothing of the
// save remains.
// The fault is real: a trigger on the run's own database (PGlite, or PostgreSQL) refusing this
// citizen's writes to one table, dropped afterwards.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  passkeyVerify,
  registerClient,
  signIn,
  silentAuthError,
} from '../support/flows.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;

beforeAll(async () => {
  app = await startTestApp();
  citizen = await enrolCitizen(app, { name: '강민준', birthdate: '1987-03-21' });
});
afterAll(() => app?.stop());

const allowName = {
  claim: 'name',
  purpose: { ko: '자격 확인', en: 'Eligibility check' },
  required: true,
  retention_days: 90,
};

/** Makes the database refuse this citizen's inserts and updates of `table`; returns the undo. */
const refuseWrites = async (table: string, accountId: string, sqlstate: string) => {
  expect(accountId).toMatch(/^[0-9a-f-]{36}$/);
  const name = `refuse_${randomBytes(4).toString('hex')}`;
  await app.knex.raw(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $body$
    BEGIN
      IF NEW.account_id::text = '${accountId}' THEN
        RAISE EXCEPTION 'injected fault' USING ERRCODE = '${sqlstate}';
      END IF;
      RETURN NEW;
    END $body$`);
  await app.knex.raw(
    `CREATE TRIGGER ${name} BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`,
  );
  return async () => {
    await app.knex.raw(`DROP TRIGGER ${name} ON ${table}`);
    await app.knex.raw(`DROP FUNCTION ${name}()`);
  };
};

/** What the engine saved while `run` ran: the grants' ids and the authorization codes. */
const watchEngine = async <T>(run: () => Promise<T>) => {
  const provider = app.provider();
  const grants: string[] = [];
  const codes: string[] = [];
  const onGrant = (grant: { jti: string }) => grants.push(grant.jti);
  const onCode = (code: { jti: string }) => codes.push(code.jti);
  provider.on('grant.saved', onGrant);
  provider.on('authorization_code.saved', onCode);
  try {
    return { result: await run(), grants, codes };
  } finally {
    provider.off('grant.saved', onGrant);
    provider.off('authorization_code.saved', onCode);
  }
};

/** Verifies the passkey on the sign-in page `login` and returns where the browser resumes. */
const passkeyThenResume = async (
  browser: ReturnType<typeof createBrowserSession>,
  login: { url: string; res: Response },
) => {
  const verify = await passkeyVerify(
    browser,
    login.url,
    csrfFrom(await login.res.text()),
    citizen.authenticator,
  );
  expect(verify.status).toBe(200);
  return new URL(((await verify.json()) as { location: string }).location, app.issuer);
};

/** Resumes at `resume` while the database refuses `table` for the citizen; what the engine saved. */
const resumeUnderFault = async (
  browser: ReturnType<typeof createBrowserSession>,
  resume: URL,
  table: string,
  sqlstate: string,
) => {
  const undo = await refuseWrites(table, citizen.account.id, sqlstate);
  return watchEngine(async () => {
    try {
      const res = await browser.request(resume);
      return { res, body: await res.text() };
    } finally {
      await undo();
    }
  });
};

describe('a session save the database refuses at the return from the passkey', () => {
  it.each([
    {
      fault: 'the session record refused (a statement error)',
      table: 'citizen_sessions',
      sqlstate: 'P0001',
      answer: 'page' as const,
    },
    {
      fault: '"connected systems" refused as a dependency outage (57P03)',
      table: 'client_sign_ins',
      sqlstate: '57P03',
      answer: 'redirect' as const,
    },
  ])(
    '$fault: no working code, a readable answer, nothing half-recorded',
    async ({ table, sqlstate, answer }) => {
      const accountId = citizen.account.id;
      const client = await registerClient(app, { allowed_claims: [allowName] });
      const config = await discover(app, client);
      // A consent given before: the sign-in below makes its grant from it without asking.
      await signIn(
        app,
        createBrowserSession(),
        citizen.authenticator,
        (await authorizationRequest(config, client.redirectUri, { scope: 'openid profile' })).url,
      );
      const consentRow = async () =>
        (await app
          .knex('consents')
          .where({ client_id: client.clientId, account_id: accountId })
          .whereNull('withdrawn_at')
          .first()) as { id: string; grant_ids: string[] };
      const sessionRows = async () =>
        (await app.knex('citizen_sessions').where({ account_id: accountId }).orderBy('uid')).map(
          (r: { uid: string; last_seen_at: Date }) => [r.uid, r.last_seen_at.toISOString()],
        );
      const signIns = () =>
        app.knex('client_sign_ins').where({ account_id: accountId, client_id: client.clientId });
      const grantsBefore = (await consentRow()).grant_ids;
      const sessionsBefore = await sessionRows();
      const signInsBefore = await signIns();
      expect(grantsBefore).toHaveLength(1);

      // A new browser: the passkey verifies, and the return to the engine is where the save fails.
      const request = await authorizationRequest(config, client.redirectUri, {
        scope: 'openid profile',
      });
      const browser = createBrowserSession();
      const login = await browser.follow(request.url.toString(), app.issuer);
      const resume = await passkeyThenResume(browser, login);
      expect(resume.pathname).toMatch(/^\/auth\/[^/]+$/);
      const { id: auditBefore } = (await app.knex('audit_events').max('id as id').first()) as {
        id: string | number;
      };

      const watched = await resumeUnderFault(browser, resume, table, sqlstate);
      const { res, body } = watched.result;

      // The engine did make the grant and a code under it before the save failed.
      expect(watched.grants).toHaveLength(1);
      expect(watched.codes).toHaveLength(1);
      const [grantId] = watched.grants as [string];
      const [code] = watched.codes as [string];

      // The answer: never a code, never a stack trace or the database's words.
      const location = res.headers.get('location');
      if (answer === 'page') {
        expect(res.status).toBe(500);
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        expect(body).toContain('server_error');
        expect(location).toBeNull();
      } else {
        expect(res.status).toBeGreaterThanOrEqual(300);
        expect(res.status).toBeLessThan(400);
        const callback = new URL(location!);
        expect(`${callback.origin}${callback.pathname}`).toBe(client.redirectUri);
        expect(callback.searchParams.get('error')).toBe('temporarily_unavailable');
        expect(callback.searchParams.get('state')).toBe(request.state);
        expect(callback.searchParams.has('code')).toBe(false);
      }
      expect(body).not.toMatch(/injected fault|P0001|57P03|\n\s+at |node_modules|\.ts:\d+/);

      // The grant and its code were revoked before the answer left: the code does not work.
      expect(await app.provider().Grant.find(grantId)).toBeUndefined();
      expect(await app.provider().AuthorizationCode.find(code)).toBeUndefined();
      const stolen = new URL(client.redirectUri);
      stolen.search = new URLSearchParams({
        code,
        state: request.state,
        iss: app.issuer,
      }).toString();
      await expect(
        oidc.authorizationCodeGrant(config, stolen, {
          pkceCodeVerifier: request.verifier,
          expectedState: request.state,
          expectedNonce: request.nonce,
        }),
      ).rejects.toMatchObject({ error: 'invalid_grant' });

      // Nothing half-recorded: the statement failed whole (no grant id on the consent, no
      // session record, no "connected systems" use), the engine kept no session for the
      // browser, and no audit record was written.
      const grantsAfter = (await consentRow()).grant_ids;
      expect(grantsAfter).toEqual(grantsBefore);
      expect(grantsAfter).not.toContain(grantId);
      expect(await sessionRows()).toEqual(sessionsBefore);
      expect(await signIns()).toEqual(signInsBefore);
      expect(await silentAuthError(app, browser, client)).toBe('login_required');
      expect(await app.knex('audit_events').where('id', '>', auditBefore).pluck('action')).toEqual(
        [],
      );

      // With the fault gone the same browser signs in again, and that code works.
      const again = await authorizationRequest(config, client.redirectUri, {
        scope: 'openid profile',
      });
      const callback = await signIn(app, browser, citizen.authenticator, again.url);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: again.verifier,
        expectedState: again.state,
        expectedNonce: again.nonce,
      });
      expect(tokens.access_token).toBeTruthy();
      expect((await consentRow()).grant_ids).toHaveLength(2);
    },
  );

  // No consent, so no pending grant to revoke: the code is still unusable, because it expires
  // with a session that was never saved (the engine and the store refuse it without one).
  it("My One-ID's own sign-in (no grant to revoke): its code never leaves and never works", async () => {
    const browser = createBrowserSession();
    const login = await browser.follow(`${app.issuer}/account/login`, app.issuer);
    expect(new URL(login.url).pathname).toMatch(/^\/interaction\//);
    const resume = await passkeyThenResume(browser, login);
    const watched = await resumeUnderFault(browser, resume, 'citizen_sessions', 'P0001');
    const { res, body } = watched.result;
    expect(watched.codes).toHaveLength(1);
    expect(res.status).toBe(500);
    expect(res.headers.get('location')).toBeNull();
    expect(body).not.toMatch(/injected fault|P0001|\n\s+at |node_modules|\.ts:\d+/);
    // The code never left, and it does not resolve.
    expect(await app.provider().AuthorizationCode.find(watched.codes[0]!)).toBeUndefined();
  });
});
