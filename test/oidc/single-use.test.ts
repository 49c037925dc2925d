// Authorization codes, refresh tokens and pushed authorization requests are single-use even when
// the same one arrives several times at once (RFC 6749 4.1.2, RFC 9700 4.14.2, RFC 9126 4): the
// engine checks "already used" and then marks it used, so without an atomic mark two concurrent
// requests could both pass. Exactly one wins; for a code or refresh token any other is refused
// with invalid_grant and, as reuse, revokes the grant (the winner's tokens included); a pushed
// request's other uses are refused with invalid_request_uri.
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

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let client: Awaited<ReturnType<typeof registerClient>>;
let config: oidc.Configuration;

beforeAll(async () => {
  app = await startTestApp({ RATE_LIMIT_TOKEN_PER_MINUTE: '10000' });
  citizen = await enrolCitizen(app);
  client = await registerClient(app);
  config = await discover(app, client);
});
afterAll(() => app?.stop());

const code = async () => {
  const request = await authorizationRequest(config, client.redirectUri);
  const callback = new URL(
    await signIn(app, createBrowserSession(), citizen.authenticator, request.url),
  );
  return { request, callback };
};

const outcomes = (results: PromiseSettledResult<unknown>[]) => ({
  won: results.filter((r) => r.status === 'fulfilled'),
  refused: results
    .filter((r) => r.status === 'rejected')
    .map((r) => ((r as PromiseRejectedResult).reason as { error?: string }).error),
});

describe('single use under concurrency', () => {
  it('redeems an authorization code sent five times at once exactly once', async () => {
    const { request, callback } = await code();
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        oidc.authorizationCodeGrant(config, callback, {
          pkceCodeVerifier: request.verifier,
          expectedState: request.state,
          expectedNonce: request.nonce,
        }),
      ),
    );
    const { won, refused } = outcomes(results);
    expect(won).toHaveLength(1);
    expect(refused).toEqual(Array(4).fill('invalid_grant'));
    const winner = (
      won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>>
    ).value;
    await expect(oidc.refreshTokenGrant(config, winner.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('rotates a refresh token sent five times at once exactly once, and revokes the grant', async () => {
    const { request, callback } = await code();
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => oidc.refreshTokenGrant(config, tokens.refresh_token!)),
    );
    const { won, refused } = outcomes(results);
    expect(won).toHaveLength(1);
    expect(refused).toEqual(Array(4).fill('invalid_grant'));
    const winner = (
      won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof oidc.refreshTokenGrant>>>
    ).value;
    await expect(oidc.refreshTokenGrant(config, winner.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect((await oidc.tokenIntrospection(config, winner.access_token)).active).toBe(false);
  });

  it('still rotates a refresh token used once, one use after another', async () => {
    const { request, callback } = await code();
    const first = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    let tokens: { refresh_token?: string | undefined; access_token: string } = first;
    for (let i = 0; i < 3; i += 1)
      tokens = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
  });

  it('answers a pushed request_uri used five times at once with one code', async () => {
    // A signed-in citizen who has consented: each use of the request_uri would go straight to a code.
    const browser = createBrowserSession();
    await signIn(
      app,
      browser,
      citizen.authenticator,
      (await authorizationRequest(config, client.redirectUri)).url,
    );
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const pushed = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: client.redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    expect(pushed.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const answers = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const res = await browser.request(pushed);
        expect(res.status).toBe(303);
        const location = new URL(res.headers.get('location')!);
        expect(location.origin + location.pathname).toBe(client.redirectUri);
        return location;
      }),
    );
    const codes = answers.filter((a) => a.searchParams.has('code'));
    expect(codes).toHaveLength(1);
    expect(
      answers.filter((a) => a.searchParams.get('error') === 'invalid_request_uri'),
    ).toHaveLength(4);
    const tokens = await oidc.authorizationCodeGrant(config, codes[0]!, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    // Afterwards it is refused before its redirect_uri is even read: an error page, no redirect.
    const again = await browser.request(pushed);
    expect(again.status).toBe(400);
    expect(again.headers.get('location')).toBeNull();
    expect(await again.text()).toMatch(/invalid_request_uri|request_uri/);
  });
});
