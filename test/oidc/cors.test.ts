// CORS for single-page apps (public clients calling the token and userinfo endpoints from the
// browser). One-ID sets the engine's `clientBasedCORS` (src/oidc/provider.ts) to this policy: the
// engine answers an actual cross-origin request only when its Origin is the origin of one of
// the client's registered redirect_uris, and, apart from userinfo, only for public clients
// (token_endpoint_auth_method none). It never sends Access-Control-Allow-Credentials.
// A preflight carries no client, so the engine answers every preflight; the browser then sends
// the actual request, which is refused (400 invalid_request, no Access-Control-Allow-Origin)
// before it does anything: the code or token is still good afterwards.
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
import type { SoftAuthenticator } from '../support/soft-authenticator.ts';

const SPA = 'http://localhost:4710';
const OTHER = 'http://localhost:4711';

let app: TestApp;
let authenticator: SoftAuthenticator;
let endpoints: { token_endpoint: string; userinfo_endpoint: string };

beforeAll(async () => {
  app = await startTestApp();
  ({ authenticator } = await enrolCitizen(app, {
    name: '한지수',
    birthdate: '1991-09-09',
    email: 'cors@example.com',
  }));
  endpoints = (await (
    await fetch(`${app.issuer}/.well-known/openid-configuration`)
  ).json()) as typeof endpoints;
});
afterAll(() => app?.stop());

/** A signed-in citizen's authorization code for the client, with its PKCE verifier. */
const codeFor = async (client: Awaited<ReturnType<typeof registerClient>>) => {
  const request = await authorizationRequest(await discover(app, client), client.redirectUri);
  const callback = new URL(await signIn(app, createBrowserSession(), authenticator, request.url));
  return { code: callback.searchParams.get('code')!, verifier: request.verifier };
};

const preflight = (url: string, origin: string, method: string, headers: string) =>
  fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': headers,
    },
  });

const redeem = (
  origin: string,
  client: { clientId: string; redirectUri: string },
  { code, verifier }: { code: string; verifier: string },
  headers: Record<string, string> = {},
) =>
  fetch(endpoints.token_endpoint, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: client.redirectUri,
      client_id: client.clientId,
    }),
  });

const userinfo = (origin: string, accessToken: string) =>
  fetch(endpoints.userinfo_endpoint, {
    headers: { origin, authorization: `Bearer ${accessToken}` },
  });

describe('CORS for single-page apps (public clients)', () => {
  it('answers the token endpoint for the origin of a registered redirect_uri, and refuses another origin without using the code', async () => {
    const spa = await registerClient(app, {
      redirect_uris: [`${SPA}/callback`],
      post_logout_redirect_uris: [`${SPA}/`],
      token_endpoint_auth_method: 'none',
    });
    const allowedPreflight = await preflight(endpoints.token_endpoint, SPA, 'POST', 'content-type');
    expect(allowedPreflight.status).toBe(204);
    expect(allowedPreflight.headers.get('access-control-allow-origin')).toBe(SPA);
    expect(allowedPreflight.headers.get('access-control-allow-methods')).toBe('POST');
    expect(allowedPreflight.headers.get('access-control-allow-credentials')).toBeNull();

    // The engine cannot tell the client from a preflight: it answers it for any origin...
    const otherPreflight = await preflight(endpoints.token_endpoint, OTHER, 'POST', 'content-type');
    expect(otherPreflight.status).toBe(204);
    expect(otherPreflight.headers.get('access-control-allow-origin')).toBe(OTHER);

    // ...and refuses the actual request: no Access-Control-Allow-Origin (the page cannot read
    // the answer), invalid_request, and the code is not spent.
    const grant = await codeFor(spa);
    const refused = await redeem(OTHER, spa, grant);
    expect(refused.status).toBe(400);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(await refused.json()).toMatchObject({
      error: 'invalid_request',
      error_description: `origin ${OTHER} not allowed for client: ${spa.clientId}`,
    });

    const allowed = await redeem(SPA, spa, grant);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(SPA);
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    expect(allowed.headers.get('vary')).toMatch(/\bOrigin\b/i);
    const tokens = (await allowed.json()) as { access_token: string; refresh_token?: string };
    expect(tokens.refresh_token).toBeTruthy();

    // Refresh from the browser: rotation as for every client.
    const refresh = (origin: string, token: string) =>
      fetch(endpoints.token_endpoint, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: token,
          client_id: spa.clientId,
        }),
      });
    const refusedRefresh = await refresh(OTHER, tokens.refresh_token!);
    expect(refusedRefresh.status).toBe(400);
    expect(refusedRefresh.headers.get('access-control-allow-origin')).toBeNull();
    const rotated = await refresh(SPA, tokens.refresh_token!);
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get('access-control-allow-origin')).toBe(SPA);
    expect(((await rotated.json()) as { refresh_token: string }).refresh_token).not.toBe(
      tokens.refresh_token,
    );
  });

  it('answers userinfo for the origin of a registered redirect_uri, and refuses another origin', async () => {
    const spa = await registerClient(app, {
      redirect_uris: [`${SPA}/callback`],
      post_logout_redirect_uris: [`${SPA}/`],
      token_endpoint_auth_method: 'none',
    });
    const { access_token: accessToken } = (await (
      await redeem(SPA, spa, await codeFor(spa))
    ).json()) as { access_token: string };

    const allowedPreflight = await preflight(
      endpoints.userinfo_endpoint,
      SPA,
      'GET',
      'authorization',
    );
    expect(allowedPreflight.status).toBe(204);
    expect(allowedPreflight.headers.get('access-control-allow-origin')).toBe(SPA);
    expect(allowedPreflight.headers.get('access-control-allow-headers')).toBe('authorization');
    const otherPreflight = await preflight(
      endpoints.userinfo_endpoint,
      OTHER,
      'GET',
      'authorization',
    );
    expect(otherPreflight.headers.get('access-control-allow-origin')).toBe(OTHER);

    const refused = await userinfo(OTHER, accessToken);
    expect(refused.status).toBe(400);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(await refused.json()).toMatchObject({ error: 'invalid_request' });

    const allowed = await userinfo(SPA, accessToken);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(SPA);
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    expect(await allowed.json()).toMatchObject({ name: '한지수', email: 'cors@example.com' });
  });

  it("does not open a confidential client's token endpoint to browsers, even from its own origin", async () => {
    const server = await registerClient(app, { redirect_uris: [`${SPA}/cb`] });
    const grant = await codeFor(server);
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(server.clientId)}:${encodeURIComponent(server.clientSecret!)}`).toString('base64')}`;
    const refused = await redeem(SPA, server, grant, { authorization: basic });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(await refused.json()).toMatchObject({ error: 'invalid_request' });
    // The same request from the agency's server (no Origin) works.
    const fromServer = await fetch(endpoints.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: grant.code,
        code_verifier: grant.verifier,
        redirect_uri: server.redirectUri,
      }),
    });
    expect(fromServer.status).toBe(200);
  });
});
