// Agency account links over real HTTP: an agency system, with a client_credentials token,
// records its own member id for the citizen it knows by its pairwise sub, reads it back in
// userinfo and the ID token (`agency_member_id`), and no other agency can read, write or
// receive it.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import {
  authorizationRequest,
  DEFAULT_ALLOWANCES,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let other: Awaited<ReturnType<typeof enrolCitizen>>;

const memberAllowance = {
  claim: 'agency_member_id',
  purpose: { ko: '기존 회원 정보 연결', en: 'Linking your existing membership' },
  required: true,
  retention_days: 365,
};
const agency = async (
  redirectUri: string,
  allowances = [...DEFAULT_ALLOWANCES, memberAllowance],
) => {
  const client = await registerClient(app, {
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    allowed_claims: allowances,
  });
  const config = await discover(app, client);
  return {
    client,
    config,
    token: async () => (await oidc.clientCredentialsGrant(config)).access_token,
  };
};

const signInTo = async (
  a: Awaited<ReturnType<typeof agency>>,
  who: Awaited<ReturnType<typeof enrolCitizen>>,
  params: Record<string, string> = {},
) => {
  const request = await authorizationRequest(a.config, a.client.redirectUri, {
    scope: 'openid profile',
    ...params,
  });
  const callback = await signIn(app, createBrowserSession(), who.authenticator, request.url);
  const tokens = await oidc.authorizationCodeGrant(a.config, new URL(callback), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
  return {
    tokens,
    claims: tokens.claims()!,
    userinfo: await oidc.fetchUserInfo(a.config, tokens.access_token, tokens.claims()!.sub),
  };
};

const api = (
  path: string,
  token: string | undefined,
  init: { method?: string; json?: unknown } = {},
) =>
  fetch(`${app.issuer}/api/agency-links${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(init.json !== undefined && { 'content-type': 'application/json' }),
    },
    ...(init.json !== undefined && { body: JSON.stringify(init.json) }),
  });

beforeAll(async () => {
  app = await startTestApp();
  [citizen, other] = await Promise.all([
    enrolCitizen(app, { name: '박연계', birthdate: '1970-05-05' }),
    enrolCitizen(app, { name: '최다른', birthdate: '1980-08-08' }),
  ]);
});
afterAll(() => app?.stop());

describe('agency account links', () => {
  it('lets an agency link its member id to its own sub and get it back, and no other agency', async () => {
    // Two agencies in different sectors (redirect hosts), both allowed the claim; a third without it.
    const [pension, tax, library] = await Promise.all([
      agency('http://localhost:4611/cb'),
      agency('http://127.0.0.1:4612/cb'),
      agency('http://localhost:4613/cb', DEFAULT_ALLOWANCES),
    ]);
    const atPension = await signInTo(pension, citizen);
    const atTax = await signInTo(tax, citizen);
    const sub = atPension.claims.sub;
    expect(atTax.claims.sub).not.toBe(sub);
    const pensionToken = await pension.token();

    const created = await api('', pensionToken, {
      method: 'POST',
      json: { sub, local_id: 'PENSION-0042' },
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ sub, local_id: 'PENSION-0042' });
    expect(
      (await api('', pensionToken, { method: 'POST', json: { sub, local_id: 'PENSION-0042' } }))
        .status,
    ).toBe(200);
    expect(await (await api(`/${sub}`, pensionToken)).json()).toMatchObject({
      sub,
      local_id: 'PENSION-0042',
    });

    // Released to that agency when it asks (scope, or the claims parameter for the ID token).
    const asked = await signInTo(pension, citizen, {
      scope: 'openid agency_member_id',
      claims: JSON.stringify({ id_token: { agency_member_id: null } }),
    });
    expect(asked.claims.sub).toBe(sub);
    expect(asked.claims.agency_member_id).toBe('PENSION-0042');
    expect(asked.userinfo.agency_member_id).toBe('PENSION-0042');

    // Another agency: the sub means nothing in its sector, its own link does not exist, its tokens carry nothing.
    const taxToken = await tax.token();
    for (const res of [
      await api(`/${sub}`, taxToken),
      await api('', taxToken, { method: 'POST', json: { sub, local_id: 'TAX-1' } }),
      await api(`/${sub}`, taxToken, { method: 'DELETE' }),
    ]) {
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect((await res.json()).code).toBe('ERR_AGENCY_SUBJECT_UNKNOWN');
    }
    expect((await (await api(`/${atTax.claims.sub}`, taxToken)).json()).code).toBe(
      'ERR_AGENCY_LINK_NOT_FOUND',
    );
    const taxAsked = await signInTo(tax, citizen, {
      scope: 'openid agency_member_id',
      claims: JSON.stringify({ id_token: { agency_member_id: null } }),
    });
    expect(taxAsked.claims.agency_member_id).toBeUndefined();
    expect(taxAsked.userinfo.agency_member_id).toBeUndefined();
    expect(JSON.stringify([taxAsked.claims, taxAsked.userinfo])).not.toContain('PENSION-0042');
    expect((await api(`/${sub}`, pensionToken)).status).toBe(200);

    // An agency not allowed the claim keeps no links at all.
    const refused = await api(`/${sub}`, await library.token());
    expect(refused.status).toBe(403);
    expect((await refused.json()).code).toBe('ERR_AGENCY_LINK_NOT_ALLOWED');

    // The citizen sees it on My One-ID.
    const session = createBrowserSession();
    await signIn(
      app,
      session,
      citizen.authenticator,
      (await authorizationRequest(pension.config, pension.client.redirectUri, { scope: 'openid' }))
        .url,
    );
    const page = await (await session.request(`${app.issuer}/account`)).text();
    expect(page).toContain('id="agency-link-list"');
    expect(page).toContain('PENSION-0042');
    expect(page).toContain('Test Agency');
    expect(csrfFrom(page)).toBeTruthy();

    // One member id, one citizen; removal stops the claim at once.
    const otherSub = (await signInTo(pension, other)).claims.sub;
    const conflict = await api('', pensionToken, {
      method: 'POST',
      json: { sub: otherSub, local_id: 'PENSION-0042' },
    });
    expect(conflict.status).toBe(409);
    expect((await api(`/${sub}`, pensionToken, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/${sub}`, pensionToken)).status).toBe(404);
    const after = await signInTo(pension, citizen, { scope: 'openid agency_member_id' });
    expect(after.userinfo.agency_member_id).toBeUndefined();
    expect(
      await app
        .knex('audit_events')
        .where({ subject: `account:${citizen.account.id}` })
        .whereIn('action', ['agency.link.recorded', 'agency.link.removed'])
        .orderBy('id')
        .select('action', 'actor'),
    ).toEqual([
      { action: 'agency.link.recorded', actor: `client:${pension.client.clientId}` },
      { action: 'agency.link.removed', actor: `client:${pension.client.clientId}` },
    ]);
  });

  it('accepts only client_credentials bearer tokens', async () => {
    const pension = await agency('http://localhost:4614/cb');
    const { claims, tokens } = await signInTo(pension, citizen);
    for (const token of [undefined, 'not-a-token-at-all-but-long-enough', tokens.access_token]) {
      const res = await api(`/${claims.sub}`, token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(
        /^Bearer realm="One-ID", error="invalid_token"/,
      );
    }
    const bad = await api('', await pension.token(), {
      method: 'POST',
      json: { sub: claims.sub, local_id: ' spaced ' },
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).code).toBe('ERR_INVALID_AGENCY_LINK');
  });
});
