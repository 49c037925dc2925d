// The log of a whole sign-in, captured: JSON lines, one per request with its request id, the
// engine's refusals correlated to their request, and nothing a citizen or a client must not
// find in a log (secrets, tokens, codes, cookies, personal data, enrolment links).
import { Writable } from 'node:stream';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({}, { app: { logger: createLogger('info', sink) } });
});
afterAll(() => app?.stop());

type Line = Record<string, unknown> & { msg: string; level: number };
const parsed = () => lines.map((line) => JSON.parse(line) as Line);

describe('request logs', () => {
  it('log a whole sign-in as JSON lines with request ids and no secrets or personal data', async () => {
    const citizen = {
      name: '박영희',
      birthdate: '1977-07-17',
      email: 'park.younghee@example.com',
      phone: '010-9876-5432',
    };
    const { authenticator, enrolmentUrl, account } = await enrolCitizen(app, citizen);
    const client = await registerClient(app, {
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const config = await discover(app, client);
    const request = await authorizationRequest(config, client.redirectUri, {
      scope: 'openid profile email phone',
      login_hint: citizen.email,
    });
    const session = createBrowserSession();
    const started = await session.request(request.url);
    const interaction = new URL(started.headers.get('location')!, app.issuer);
    const callback = await signIn(app, session, authenticator, interaction);
    const code = new URL(callback).searchParams.get('code')!;
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const sub = tokens.claims()!.sub;
    await oidc.fetchUserInfo(config, tokens.access_token, sub);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    // Refusals the engine answers itself: a replayed code, a wrong client secret.
    await expect(
      oidc.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    const wrongSecret = 'not-the-secret-' + 'x'.repeat(30);
    const badClient = new oidc.Configuration(config.serverMetadata(), client.clientId, wrongSecret);
    oidc.allowInsecureRequests(badClient);
    await expect(oidc.refreshTokenGrant(badClient, refreshed.refresh_token!)).rejects.toMatchObject(
      { error: 'invalid_client' },
    );
    // A caller's request id is kept; a malformed one is replaced.
    const traced = await fetch(`${app.issuer}/.well-known/openid-configuration`, {
      headers: { 'x-request-id': 'edge-7f3a.42' },
    });
    expect(traced.headers.get('x-request-id')).toBe('edge-7f3a.42');
    const forged = await fetch(`${app.issuer}/healthz`, {
      headers: { 'x-request-id': 'bad id {"level":60}' },
    });
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    await new Promise((resolve) => setImmediate(resolve));
    const log = lines.join('\n');
    const forbidden: Record<string, string> = {
      'client secret': client.clientSecret!,
      'wrong client secret': wrongSecret,
      'access token': tokens.access_token,
      'refresh token': tokens.refresh_token!,
      'rotated refresh token': refreshed.refresh_token!,
      'ID token': tokens.id_token!,
      'ID token signature': tokens.id_token!.split('.')[2]!,
      'authorization code': code,
      'PKCE verifier': request.verifier,
      state: request.state,
      nonce: request.nonce,
      'enrolment token': new URL(enrolmentUrl).pathname.split('/').pop()!,
      'interaction id': interaction.pathname.split('/').pop()!,
      'citizen name': citizen.name,
      'citizen email': citizen.email,
      'email local part': 'park.younghee',
      'citizen birthdate': citizen.birthdate,
      'citizen phone': citizen.phone,
      'citizen phone digits': '01098765432',
      'account id': account.id,
      'pairwise sub': sub,
    };
    for (const [name, value] of [...session.jar].map(([k, v]) => [`cookie ${k}`, v] as const))
      forbidden[name] = value;
    for (const [name, value] of Object.entries(forbidden)) {
      if (value) expect(log.includes(value), `the log contains the ${name}`).toBe(false);
    }
    expect(log).not.toMatch(/Bearer |Basic |cookie|login_hint|code_verifier|client_secret/i);

    const entries = parsed();
    expect(entries.length).toBeGreaterThan(10);
    const requestLines = entries.filter((e) => e.msg === 'request');
    for (const entry of requestLines) {
      expect(entry).toMatchObject({
        level: 30,
        reqId: expect.any(String),
        method: expect.any(String),
        route: expect.any(String),
        status: expect.any(Number),
        ms: expect.any(Number),
      });
      expect(entry).not.toHaveProperty('path');
      // A route is a pattern or an engine route name, never a raw path with an id in it.
      expect(entry.route).toMatch(/^([a-z_]+|(\/(:?[\w.-]{1,24}))+)$/);
    }
    // Once per request: every request id appears on exactly one request line.
    const ids = requestLines.map((e) => e.reqId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(requestLines.filter((e) => e.reqId === 'edge-7f3a.42')).toHaveLength(1);
    const routes = new Set(requestLines.map((e) => e.route));
    for (const route of [
      'authorization',
      'resume',
      'token',
      'userinfo',
      'discovery',
      '/interaction/:uid',
      '/interaction/:uid/passkey/verify',
      '/enrol/:token',
    ])
      expect(routes).toContain(route);
    expect(requestLines.find((e) => e.route === 'token' && e.status === 200)).toMatchObject({
      client: client.clientId,
    });

    // The engine's refusals are logged with the request id of the request that caused them.
    const replay = entries.find(
      (e) => e.msg === 'oidc request refused' && e.error === 'invalid_grant',
    )!;
    expect(replay).toMatchObject({
      level: 30,
      event: 'grant.error',
      route: 'token',
      client: client.clientId,
    });
    expect(requestLines.find((e) => e.reqId === replay.reqId)).toMatchObject({
      route: 'token',
      status: 400,
    });
    expect(
      entries.find((e) => e.msg === 'oidc request refused' && e.error === 'invalid_client'),
    ).toMatchObject({ level: 40, event: 'grant.error' });
  });
});
