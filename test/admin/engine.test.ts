// What administration does to the OIDC engine, seen by relying parties (openid-client over real
// HTTP): a disabled client fails at once, refresh tokens included; a rotated secret works next to
// the old one for the grace period; dynamic registration lands in the token's agency, follows
// One-ID's rules, and its client signs a citizen in with private_key_jwt.
import { exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';
import { createAdmin, unique, type Admin } from './support.ts';

const GRACE_SECONDS = 4;
let app: TestApp;
let platform: Admin;
let agencyB: Admin;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
const A = unique('국토교통부');
const B = unique('교육부');

beforeAll(async () => {
  app = await startTestApp({
    CLIENT_SECRET_GRACE_SECONDS: String(GRACE_SECONDS),
    DCR_ENABLED: 'true',
  });
  platform = await createAdmin(app, 'platform');
  agencyB = await createAdmin(app, 'agency', B);
  citizen = await enrolCitizen(app, { name: '이영희', email: `${unique('lee')}@example.com` });
  await platform.api('PUT', `/agencies/${encodeURIComponent(A)}`, {});
});
afterAll(() => app?.stop());

const signInWith = async (
  client: { clientId: string; clientSecret?: string | undefined; redirectUri: string },
  params: Record<string, string> = {},
) => {
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri, params);
  const callback = await signIn(app, createBrowserSession(), citizen.authenticator, request.url);
  return { config, request, callback };
};

describe('a disabled client', () => {
  it('fails its authorization, code and refresh requests at once with invalid_client', async () => {
    const client = await registerClient(app, { agency: A });
    const first = await signInWith(client);
    const tokens = await oidc.authorizationCodeGrant(first.config, new URL(first.callback), {
      pkceCodeVerifier: first.request.verifier,
      expectedState: first.request.state,
      expectedNonce: first.request.nonce,
    });
    expect(tokens.refresh_token).toBeTruthy();
    const pending = await signInWith(client); // a code issued before the client is disabled

    const disabled = await platform.api('POST', `/clients/${client.clientId}/disable`);
    expect(disabled.status).toBe(200);
    expect(disabled.body.status).toBe('disabled');

    await expect(oidc.refreshTokenGrant(first.config, tokens.refresh_token!)).rejects.toMatchObject(
      { error: 'invalid_client' },
    );
    await expect(
      oidc.authorizationCodeGrant(pending.config, new URL(pending.callback), {
        pkceCodeVerifier: pending.request.verifier,
        expectedState: pending.request.state,
        expectedNonce: pending.request.nonce,
      }),
    ).rejects.toMatchObject({ error: 'invalid_client' });
    const authorize = await fetch(pending.request.url, { redirect: 'manual' });
    expect(authorize.status).toBe(400);
    expect(await authorize.text()).toContain('invalid_client');
    const userinfo = await fetch(`${app.issuer}/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(userinfo.status).toBe(401);
    // Citizens' sessions were told (back-channel logout queue), and it is all in the audit.
    const audit = await platform.api(
      'GET',
      `/audit?subject=${encodeURIComponent(`client:${client.clientId}`)}`,
    );
    expect(audit.body.items.map((r: { action: string }) => r.action)).toEqual(
      expect.arrayContaining(['clients.disabled', 'sessions.client.signed-out']),
    );

    // Enabled again (after a platform review), the system signs citizens in again.
    expect((await platform.api('POST', `/clients/${client.clientId}/enable`)).body.status).toBe(
      'active',
    );
    const again = await signInWith(client);
    await expect(
      oidc.authorizationCodeGrant(again.config, new URL(again.callback), {
        pkceCodeVerifier: again.request.verifier,
        expectedState: again.request.state,
        expectedNonce: again.request.nonce,
      }),
    ).resolves.toBeTruthy();
  });

  it('enabled again, does not get back the offline refresh tokens or the access tokens it held', async () => {
    const client = await registerClient(app, { agency: A });
    // offline_access: a refresh token that outlives the session, so signing sessions out does not end it.
    const first = await signInWith(client, {
      scope: 'openid profile offline_access',
      prompt: 'consent',
    });
    const tokens = await oidc.authorizationCodeGrant(first.config, new URL(first.callback), {
      pkceCodeVerifier: first.request.verifier,
      expectedState: first.request.state,
      expectedNonce: first.request.nonce,
    });
    expect(tokens.scope?.split(' ')).toContain('offline_access');
    // The citizen ends that session (My One-ID): the offline refresh token lives on.
    for (const session of await app.services.sessions.listActive(citizen.account.id))
      await app.services.sessions.end(citizen.account.id, session.uid, { actor: 'test' });
    const rotated = await oidc.refreshTokenGrant(first.config, tokens.refresh_token!);

    expect((await platform.api('POST', `/clients/${client.clientId}/disable`)).status).toBe(200);
    expect((await platform.api('POST', `/clients/${client.clientId}/enable`)).body.status).toBe(
      'active',
    );

    await expect(
      oidc.refreshTokenGrant(first.config, rotated.refresh_token!),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    // Nor its access tokens (they would otherwise live out their 10 minutes).
    const userinfo = await fetch(`${app.issuer}/me`, {
      headers: { authorization: `Bearer ${rotated.access_token}` },
    });
    expect(userinfo.status).toBe(401);
    expect((await oidc.tokenIntrospection(first.config, rotated.access_token)).active).toBe(false);
    // New sign-ins get refresh tokens that work.
    const again = await signInWith(client, {
      scope: 'openid profile offline_access',
      prompt: 'consent',
    });
    const fresh = await oidc.authorizationCodeGrant(again.config, new URL(again.callback), {
      pkceCodeVerifier: again.request.verifier,
      expectedState: again.request.state,
      expectedNonce: again.request.nonce,
    });
    const renewed = await oidc.refreshTokenGrant(again.config, fresh.refresh_token!);
    expect(
      (
        await fetch(`${app.issuer}/me`, {
          headers: { authorization: `Bearer ${renewed.access_token}` },
        })
      ).status,
    ).toBe(200);
    expect((await oidc.tokenIntrospection(again.config, renewed.access_token)).active).toBe(true);
  });
});

describe('secret rotation', () => {
  it('keeps the old secret working for the grace period, then refuses it', async () => {
    const client = await registerClient(app, { agency: A, grant_types: ['client_credentials'] });
    const rotated = await platform.api('POST', `/clients/${client.clientId}/secret`);
    expect(rotated.status).toBe(200);
    const graceEnds = new Date(rotated.body.previous_secret_valid_until).getTime();
    const old = await discover(app, client);
    const current = await discover(app, {
      clientId: client.clientId,
      clientSecret: rotated.body.client_secret,
    });
    await expect(oidc.clientCredentialsGrant(current)).resolves.toMatchObject({
      access_token: expect.any(String),
    });
    await expect(oidc.clientCredentialsGrant(old)).resolves.toMatchObject({
      access_token: expect.any(String),
    });
    expect(Date.now()).toBeLessThan(graceEnds); // the old secret was tried inside the grace period
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, graceEnds - Date.now()) + 300));
    await expect(oidc.clientCredentialsGrant(old)).rejects.toMatchObject({
      error: 'invalid_client',
    });
    await expect(oidc.clientCredentialsGrant(current)).resolves.toMatchObject({
      access_token: expect.any(String),
    });
    await expect(
      oidc.clientCredentialsGrant(
        await discover(app, { clientId: client.clientId, clientSecret: 'x'.repeat(43) }),
      ),
    ).rejects.toMatchObject({ error: 'invalid_client' });
  });
});

describe('dynamic client registration (RFC 7591/7592)', () => {
  const register = (token: string | undefined, body: Record<string, unknown>) =>
    fetch(`${app.issuer}/reg`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token && { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
    });

  it("registers an active client in the token's agency that signs in with private_key_jwt", async () => {
    const issued = await platform.api('POST', '/dcr/tokens', { agency: A });
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'dcr-1', use: 'sig', alg: 'ES256' };
    const redirectUri = 'http://localhost:4777/cb';
    const res = await register(issued.body.initial_access_token, {
      client_name: '자동 등록 시스템',
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [jwk] },
      grant_types: ['authorization_code'],
    });
    expect(res.status).toBe(201);
    const registered = await res.json();
    expect(registered).toMatchObject({
      client_name: '자동 등록 시스템',
      token_endpoint_auth_method: 'private_key_jwt',
      registration_access_token: expect.any(String),
      registration_client_uri: `${app.issuer}/reg/${registered.client_id}`,
    });
    expect(registered.client_secret).toBeUndefined();
    expect(await app.services.clients.find(registered.client_id)).toMatchObject({
      agency: A,
      status: 'active',
      registeredVia: 'dcr',
    });

    const config = await oidc.discovery(
      new URL(app.issuer),
      registered.client_id,
      {},
      oidc.PrivateKeyJwt(privateKey),
      { execute: [oidc.allowInsecureRequests] },
    );
    const request = await authorizationRequest(config, redirectUri, { scope: 'openid' });
    const callback = await signIn(app, createBrowserSession(), citizen.authenticator, request.url);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    expect(tokens.claims()).toMatchObject({ aud: registered.client_id, iss: app.issuer });

    // RFC 7592: read and update with the registration access token, through One-ID's rules.
    const rat = { authorization: `Bearer ${registered.registration_access_token}` };
    const read = await fetch(registered.registration_client_uri, { headers: rat });
    expect(read.status).toBe(200);
    const update = {
      client_id: registered.client_id,
      client_name: '자동 등록 시스템 v2',
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [jwk] },
      grant_types: ['authorization_code'],
    };
    const badUpdate = await fetch(registered.registration_client_uri, {
      method: 'PUT',
      headers: { ...rat, 'content-type': 'application/json' },
      body: JSON.stringify({ ...update, redirect_uris: ['http://agency.example/cb'] }),
    });
    expect(badUpdate.status).toBe(400);
    // RFC 7591 3.2.2: redirect URI problems are invalid_redirect_uri.
    expect(await badUpdate.json()).toMatchObject({
      error: 'invalid_redirect_uri',
      error_description: expect.stringMatching(/^redirect_uris\.0: must use https/),
    });
    const updated = await fetch(registered.registration_client_uri, {
      method: 'PUT',
      headers: { ...rat, 'content-type': 'application/json' },
      body: JSON.stringify(update),
    });
    expect(updated.status).toBe(200);
    const updatedBody = await updated.json();
    expect((await app.services.clients.find(registered.client_id))?.metadata.client_name).toBe(
      '자동 등록 시스템 v2',
    );

    // Another agency's administrator cannot see it; the audit says who registered and changed it.
    expect((await agencyB.api('GET', `/clients/${registered.client_id}`)).status).toBe(404);
    const audit = (
      await platform.api('GET', `/audit?subject=client:${registered.client_id}`)
    ).body.items.map((r: { action: string; actor: string; details: { via?: string } }) => [
      r.action,
      r.actor.split(':')[0],
      r.details.via,
    ]);
    expect(audit).toEqual(
      expect.arrayContaining([
        ['clients.created', 'dcr-token', 'dcr'],
        ['clients.updated', 'client', 'dcr'],
      ]),
    );

    // A registration access token manages its own client only (the engine destroys one used on another).
    const other = await register(issued.body.initial_access_token, {
      client_name: 'other',
      redirect_uris: ['http://localhost:4778/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
    });
    const otherBody = await other.json();
    const cross = await fetch(registered.registration_client_uri, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${otherBody.registration_access_token}` },
    });
    expect(cross.status).toBe(401);
    expect(await app.services.clients.find(registered.client_id)).toBeDefined();
    expect(
      (
        await fetch(otherBody.registration_client_uri, {
          headers: { authorization: `Bearer ${otherBody.registration_access_token}` },
        })
      ).status,
    ).toBe(401);

    // RFC 7592 delete: soft and audited, like an administrator's.
    const deleted = await fetch(registered.registration_client_uri, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${updatedBody.registration_access_token}` },
    });
    expect(deleted.status).toBe(204);
    expect(await app.services.clients.engineMetadata(registered.client_id)).toBeUndefined();
    expect(
      (
        await platform.api(
          'GET',
          `/audit?action=clients.deleted&subject=client:${registered.client_id}`,
        )
      ).body.items[0],
    ).toMatchObject({
      actor: `client:${registered.client_id}`,
      details: { agency: A, via: 'dcr' },
    });
  });

  it("keeps registrations in the token's agency and under One-ID's rules", async () => {
    const token = (await platform.api('POST', '/dcr/tokens', { agency: A })).body
      .initial_access_token as string;
    const base = {
      client_name: 'x',
      redirect_uris: ['https://x.example.go.kr/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, agency: B }, 'agency'],
      [
        {
          ...base,
          allowed_claims: [
            { claim: 'name', purpose: { ko: 'a', en: 'a' }, required: true, retention_days: 1 },
          ],
        },
        'allowed_claims',
      ],
      [{ ...base, redirect_uris: ['https://*.example.go.kr/cb'] }, 'redirect_uris.0'],
      [
        {
          ...base,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['client_credentials'],
        },
        'grant_types',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await register(token, body);
      expect(res.status, field).toBe(400);
      const error = await res.json();
      expect(error.error).toBe(
        field.startsWith('redirect_uris') ? 'invalid_redirect_uri' : 'invalid_client_metadata',
      );
      expect(error.error_description).toMatch(new RegExp(`^${field.replace('.', '\\.')}: `));
    }
    expect((await register(undefined, base)).status).toBe(401);
    expect((await register('not-issued', base)).status).toBe(401);
    // A revoked token stops at once.
    const issued = await platform.api('POST', '/dcr/tokens', { agency: A });
    expect((await platform.api('DELETE', `/dcr/tokens/${issued.body.id}`)).status).toBe(204);
    expect((await register(issued.body.initial_access_token, base)).status).toBe(401);
  });
});
