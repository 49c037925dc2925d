// Bearer credentials at rest: after a sign-in, a code exchange, a refresh and a client
// credentials grant, no issued code, access token, refresh token or session id appears in any
// key or value of the store (a private Redis scanned whole, or the in-process store), yet each
// still works. Two deployments (different issuers) on one Redis never see each other's keys.
import * as oidc from 'openid-client';
import { Redis } from 'ioredis';
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
import { hasRedisServer, startPrivateRedis } from '../hardening/support.ts';

/** Every credential a sign-in and its token requests hand out, and checks that they still work. */
const issueCredentials = async (app: TestApp) => {
  const citizen = await enrolCitizen(app);
  const client = await registerClient(app);
  const config = await discover(app, client);
  const browser = createBrowserSession();
  const request = await authorizationRequest(config, client.redirectUri);
  const callback = new URL(await signIn(app, browser, citizen.authenticator, request.url));
  const code = callback.searchParams.get('code')!;
  const first = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
  const rotated = await oidc.refreshTokenGrant(config, first.refresh_token!);
  const machine = await registerClient(app, { grant_types: ['client_credentials'] });
  const machineToken = await oidc.clientCredentialsGrant(await discover(app, machine));
  const session = browser.jar.get('oneid_session')!;
  expect(session).toMatch(/^[\w-]{20,}$/);
  const values = {
    code,
    session,
    accessToken: first.access_token,
    refreshToken: first.refresh_token!,
    rotatedAccessToken: rotated.access_token,
    rotatedRefreshToken: rotated.refresh_token!,
    clientCredentials: machineToken.access_token,
  };
  // Stored under hashes, they are still found: userinfo, another refresh, the session's SSO.
  await oidc.fetchUserInfo(config, rotated.access_token, oidc.skipSubjectCheck);
  await oidc.refreshTokenGrant(config, rotated.refresh_token!);
  const again = await authorizationRequest(config, client.redirectUri);
  const sso = await browser.follow(again.url.toString(), app.issuer);
  expect(sso.url).toMatch(new RegExp(`^${client.redirectUri}\\?code=`));
  // Left waiting on its consent page: an interaction that holds the session (and its cookie value).
  const second = await registerClient(app);
  const secondConfig = await discover(app, second);
  const pending = await authorizationRequest(secondConfig, second.redirectUri);
  const consent = await browser.follow(pending.url.toString(), app.issuer);
  expect(await consent.res.text()).toMatch(/action="\/interaction\/[\w-]+\/consent"/);
  expect(browser.jar.get('oneid_session')).toBe(session);
  return values;
};

const expectNoneIn = (text: string, values: Record<string, string>) => {
  for (const [name, value] of Object.entries(values))
    expect(text.includes(value), `${name} found in the store`).toBe(false);
};

describe('credentials at rest in the in-process store', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ REDIS_URL: '' });
  });
  afterAll(() => app?.stop());

  it('holds no issued code, token or session id', async () => {
    const values = await issueCredentials(app);
    const dump = app.oidcStore.dump!();
    expect(dump).toContain('"AccessToken:');
    expectNoneIn(dump, values);
  });
});

describe.skipIf(!hasRedisServer)('credentials at rest in Redis', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let client: Redis;
  let one: TestApp;
  let other: TestApp;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    client = new Redis(redis.url);
    // Each test app has an issuer of its own (its port), so each is a deployment of its own.
    one = await startTestApp({ REDIS_URL: redis.url });
    other = await startTestApp({ REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await one?.stop();
    await other?.stop();
    client?.disconnect();
    await redis?.close();
  });

  /** Every key in the server with its value as text (SCAN: this Redis is the test's own). */
  const everything = async () => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    const values = await Promise.all(
      keys.map(async (key) => {
        const type = await client.type(key);
        if (type === 'string') return client.get(key);
        if (type === 'hash') return client.hgetall(key);
        if (type === 'zset') return client.zrange(key, 0, -1);
        if (type === 'set') return client.smembers(key);
        if (type === 'list') return client.lrange(key, 0, -1);
        return type;
      }),
    );
    return { keys, text: JSON.stringify([keys, values]) };
  };

  it('holds no issued code, token or session id in any key or value', async () => {
    const values = await issueCredentials(one);
    const { keys, text } = await everything();
    expectNoneIn(text, values);
    expect(keys.some((k) => k.startsWith(`${one.config.redisKeyPrefix}oidc:AccessToken:`))).toBe(
      true,
    );
  });

  it('keeps two deployments on one Redis apart: every key under its own prefix', async () => {
    expect(one.config.redisKeyPrefix).not.toBe(other.config.redisKeyPrefix);
    const values = await issueCredentials(other);
    expect(await one.provider().AccessToken.find(values.accessToken)).toBeUndefined();
    expect(await other.provider().AccessToken.find(values.accessToken)).toBeDefined();
    await one.kv.set('shared-name', 'one', 60);
    expect(await other.kv.get('shared-name')).toBeNull();
    expect(await one.kv.get('shared-name')).toBe('one');
    const { keys } = await everything();
    const outside = keys.filter(
      (k) => !k.startsWith(one.config.redisKeyPrefix) && !k.startsWith(other.config.redisKeyPrefix),
    );
    expect(outside).toEqual([]);
  });
});
