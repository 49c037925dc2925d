// A bare relying party for the conformance self-check: raw HTTP requests as the OpenID
// Foundation's test suite sends them, so each check sees exactly what One-ID answers.
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { TestApp } from '../support/app.ts';
import type { BrowserSession } from '../support/browser-session.ts';
import { registerClient } from '../support/flows.ts';

export type Discovery = Record<string, unknown> & {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
  end_session_endpoint: string;
};

export const discovery = async (app: TestApp): Promise<Discovery> =>
  (await (await fetch(`${app.issuer}/.well-known/openid-configuration`)).json()) as Discovery;

export type Rp = Awaited<ReturnType<typeof createRp>>;

export const createRp = async (app: TestApp, overrides: Record<string, unknown> = {}) => {
  const client = await registerClient(app, overrides);
  const meta = await discovery(app);
  // No cooldown: like the conformance suite, refetch the JWKS whenever a kid is unknown.
  const keys = createRemoteJWKSet(new URL(meta.jwks_uri), { cooldownDuration: 0 });

  /** An authorization request; parameters set to undefined are left out (e.g. a missing response_type). */
  const request = (params: Record<string, string | undefined> = {}) => {
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(8).toString('hex');
    const all: Record<string, string | undefined> = {
      client_id: client.clientId,
      redirect_uri: client.redirectUri,
      response_type: 'code',
      scope: 'openid',
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...params,
    };
    const url = new URL(meta.authorization_endpoint);
    for (const [name, value] of Object.entries(all))
      if (value !== undefined) url.searchParams.set(name, value);
    return { url, verifier, state: all.state };
  };

  /** Redeems the code in `callback` at the token endpoint (client_secret_basic unless told). */
  const redeem = async (
    callback: string | URL,
    verifier: string,
    auth: 'basic' | 'post' = 'basic',
    secret = client.clientSecret!,
  ) => {
    const code = new URL(callback).searchParams.get('code');
    if (!code) throw new Error(`no code in ${callback}`);
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: client.redirectUri,
      code_verifier: verifier,
    });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (auth === 'basic')
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    else {
      form.set('client_id', client.clientId);
      form.set('client_secret', secret);
    }
    const res = await fetch(meta.token_endpoint, { method: 'POST', headers, body: form });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, string> & { error?: string },
    };
  };

  const tokens = async (callback: string | URL, verifier: string) => {
    const { status, body } = await redeem(callback, verifier);
    if (status !== 200) throw new Error(`token endpoint ${status}: ${JSON.stringify(body)}`);
    return body as unknown as {
      access_token: string;
      id_token: string;
      refresh_token?: string;
      token_type: string;
      expires_in: number;
    };
  };

  /** Verifies the ID token's signature against the JWKS and its iss/aud; returns header and claims. */
  const idToken = async (jwt: string) => {
    const { payload, protectedHeader } = await jwtVerify(jwt, keys, {
      issuer: meta.issuer,
      audience: client.clientId,
    });
    return { header: protectedHeader, claims: payload as JWTPayload & Record<string, unknown> };
  };

  /** Userinfo with the access token as the bearer header (GET or POST) or in a form body (POST). */
  const userinfo = async (
    accessToken: string,
    how: 'get-header' | 'post-header' | 'post-body' | 'get-query' = 'get-header',
  ) => {
    const url = new URL(meta.userinfo_endpoint);
    let init: RequestInit;
    if (how === 'get-header') init = { headers: { authorization: `Bearer ${accessToken}` } };
    else if (how === 'post-header')
      init = { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } };
    else if (how === 'post-body')
      init = {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: accessToken }),
      };
    else {
      url.searchParams.set('access_token', accessToken);
      init = {};
    }
    const res = await fetch(url, init);
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as Record<string, unknown>,
    };
  };

  return {
    client,
    meta,
    request,
    redeem,
    tokens,
    idToken,
    userinfo,
    decodeHeader: decodeProtectedHeader,
  };
};

/** Follows an authorization request without signing in: where does One-ID send the browser? */
export const landing = async (app: TestApp, session: BrowserSession, url: URL) => {
  const { res, url: landed } = await session.follow(url.toString(), app.issuer);
  const atOneId = landed.startsWith(app.issuer);
  return { res, url: new URL(landed), atOneId, html: atOneId ? await res.text() : '' };
};

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
