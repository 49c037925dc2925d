// Discovery and the JWKS may be cached by relying parties and proxies (src/oidc/metadata-caching.ts):
// discovery an hour, the JWKS for less than a rotated key waits before it signs, on the engine's
// answer and on the kept one (src/http/middleware/engine-cache.ts), both revalidated with an ETag.
// Every other answer of the engine stays no-store.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { authorizationRequest, enrolCitizen, registerClient, signIn } from '../support/flows.ts';

const DISCOVERY = '/.well-known/openid-configuration';
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.stop());

const get = (target: TestApp, path: string, headers: Record<string, string> = {}) =>
  fetch(`${target.issuer}${path}`, { headers });

/**
 * A new engine with the same keys and catalogue (what every instance builds on a catalogue
 * change): its next answers to discovery and the JWKS are the engine's own, not the kept ones.
 */
const rebuildEngine = async (target: TestApp) => {
  const [item] = await target.services.catalogue.list();
  await target.services.catalogue.put(item!, 'test');
  expect(await target.reloadKeys()).toBe(true);
};

const maxAge = (response: Response) =>
  Number(/max-age=(\d+)/.exec(response.headers.get('cache-control') ?? '')?.[1]);

describe.each([
  [DISCOVERY, 'public, max-age=3600'],
  // The defaults: KEY_ACTIVATION_DELAY_SECONDS 900, a reload every 30 s: (900 - 30) / 2.
  ['/jwks', 'public, max-age=435'],
])('%s', (path, cacheControl) => {
  it('says how long it may be kept, with the same ETag, on the engine’s answer and the kept one', async () => {
    await rebuildEngine(app);
    const first = await get(app, path);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe(cacheControl);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const kept = await get(app, path);
    expect(kept.headers.get('cache-control')).toBe(cacheControl);
    expect(kept.headers.get('etag')).toBe(etag);
    expect(await kept.text()).toBe(await first.text());
    // Different per Origin (CORS), so a shared cache keeps one per Origin.
    expect(kept.headers.get('vary')).toMatch(/origin/i);
  });

  it('answers a revalidation with 304, Cache-Control and the ETag, from the engine and from the kept answer', async () => {
    const etag = (await get(app, path)).headers.get('etag')!;
    for (const ifNoneMatch of [etag, `"other", W/${etag}`, '*']) {
      await rebuildEngine(app);
      for (const answer of ['engine', 'kept']) {
        const response = await get(app, path, { 'if-none-match': ifNoneMatch });
        expect(response.status, `${answer}: ${ifNoneMatch}`).toBe(304);
        expect(response.headers.get('cache-control')).toBe(cacheControl);
        expect(response.headers.get('etag')).toBe(etag);
        expect(await response.text()).toBe('');
      }
    }
    const changed = await get(app, path, { 'if-none-match': '"other"' });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).toBe(etag);
  });
});

describe('the JWKS max-age follows the key activation delay', () => {
  it.each([
    // (300 - 10) / 2: a set fetched just before the last instance reloads, kept by a proxy and
    // then by a client that ignores Age, expires before the new key signs.
    [{ KEY_ACTIVATION_DELAY_SECONDS: '300' }, 10, 'public, max-age=145'],
    // No room to cache: every use revalidates (a 304 when unchanged).
    [{ KEY_ACTIVATION_DELAY_SECONDS: '0' }, 30, 'public, no-cache'],
  ])('%o, reload every %i s: %s', async (env, keyReloadSeconds, cacheControl) => {
    const other = await startTestApp(env, { app: { keyReloadSeconds } });
    try {
      for (let i = 0; i < 2; i += 1) {
        const jwks = await get(other, '/jwks');
        expect(jwks.headers.get('cache-control')).toBe(cacheControl);
        const age = maxAge(jwks);
        if (age)
          expect(keyReloadSeconds + 2 * age).toBeLessThanOrEqual(
            other.config.keyActivationDelaySeconds,
          );
      }
      expect((await get(other, DISCOVERY)).headers.get('cache-control')).toBe(
        'public, max-age=3600',
      );
    } finally {
      await other.stop();
    }
  });

  it('has every cache hold the rotated key before it signs', async () => {
    const age = maxAge(await get(app, '/jwks'));
    // The worst case: an instance still serving the old set until its reload (30 s), kept by a
    // proxy for max-age, then by a client ignoring Age for max-age again.
    const keptUntil = Date.now() + (30 + 2 * age) * 1000;
    const kids = await app.services.signingKeys.rotate('test');
    await app.reloadKeys();
    const rows = await app.knex('signing_keys').whereIn('kid', kids).select('activate_at');
    for (const row of rows)
      expect(new Date(row.activate_at).getTime()).toBeGreaterThanOrEqual(keptUntil);
    const after = await (await get(app, '/jwks')).json();
    expect(after.keys.map((k: { kid: string }) => k.kid)).toEqual(expect.arrayContaining(kids));
  });
});

describe('with openid-client', () => {
  it('discovers, signs in and reads userinfo; the token and userinfo answers stay no-store', async () => {
    const seen = new Map<string, Response>();
    const recordingFetch: oidc.CustomFetch = async (url, options) => {
      const response = await fetch(url, options as RequestInit);
      seen.set(new URL(url).pathname, response.clone());
      return response;
    };
    const client = await registerClient(app);
    const citizen = await enrolCitizen(app);
    const config = await oidc.discovery(
      new URL(app.issuer),
      client.clientId,
      client.clientSecret,
      undefined,
      { execute: [oidc.allowInsecureRequests], [oidc.customFetch]: recordingFetch },
    );
    expect(config.serverMetadata().jwks_uri).toBe(`${app.issuer}/jwks`);
    expect(seen.get(DISCOVERY)?.headers.get('cache-control')).toBe('public, max-age=3600');

    const request = await authorizationRequest(config, client.redirectUri);
    const callback = await signIn(app, createBrowserSession(), citizen.authenticator, request.url);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const claims = tokens.claims()!;
    await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(seen.get('/token')?.status).toBe(200);
    expect(seen.get('/token')?.headers.get('cache-control')).toBe('no-store');
    expect(seen.get('/me')?.status).toBe(200);
    expect(seen.get('/me')?.headers.get('cache-control')).toBe('no-store');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(seen.get('/token')?.headers.get('cache-control')).toBe('no-store');
  });
});
