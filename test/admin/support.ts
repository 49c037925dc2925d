// Administrators for the admin tests: accounts enrolled with a software passkey, roles granted
// as the CLI does, and admin API tokens obtained the way an administrator's script does
// (openid-client, the public client `one-id-admin-api`, PKCE, loopback redirect, RFC 8707
// resource `${ISSUER}/admin/api`).
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { cliPrincipal } from '../../src/admin/index.ts';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import { enrolCitizen, passkeyVerify, signIn } from '../support/flows.ts';

export const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export const ensureAgency = (app: TestApp, name: string) =>
  app.services.admin.admins.putAgency(cliPrincipal(), { name });

export type Admin = Awaited<ReturnType<typeof enrolCitizen>> & {
  token: string;
  api: ReturnType<typeof apiClient>;
};

/** Enrols an account, grants it a role (as `npm run cli -- admins grant` does) and signs it in for an API token. */
export const createAdmin = async (
  app: TestApp,
  role: 'platform' | 'agency' | 'auditor',
  agency?: string,
): Promise<Admin> => {
  const citizen = await enrolCitizen(app, {
    name: `${role} admin`,
    email: `${unique(role)}@example.go.kr`,
  });
  if (agency) await ensureAgency(app, agency);
  await app.services.admin.admins.grant(cliPrincipal(), {
    accountId: citizen.account.id,
    role,
    agency: agency ?? null,
  });
  const token = await adminToken(app, citizen);
  return { ...citizen, token, api: apiClient(app, token) };
};

export const adminToken = async (
  app: TestApp,
  citizen: Awaited<ReturnType<typeof enrolCitizen>>,
  scope = 'openid admin:read admin:write',
) => {
  const resource = `${app.issuer}/admin/api`;
  const config = await oidc.discovery(
    new URL(app.issuer),
    'one-id-admin-api',
    undefined,
    oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  // RFC 8252 7.3: a native app's loopback redirect may use any port.
  const redirectUri = `http://127.0.0.1:${40000 + (randomBytes(2).readUInt16BE() % 20000)}/callback`;
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    resource,
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    prompt: 'login',
  });
  const callback = await signIn(app, createBrowserSession(), citizen.authenticator, url);
  const tokens = await oidc.authorizationCodeGrant(
    config,
    new URL(callback),
    { pkceCodeVerifier: verifier, expectedState: state },
    { resource },
  );
  return tokens.access_token;
};

export type ApiResponse = { status: number; type: string | null; headers: Headers; body: any };

export const apiClient =
  (app: TestApp, token: string) =>
  async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse> => {
    const res = await fetch(`${app.issuer}/admin/api${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined &&
          typeof body !== 'string' && { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (exports)
    }
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      headers: res.headers,
      body: parsed,
    };
  };

export const clientInput = (agency: string, overrides: Record<string, unknown> = {}) => ({
  client_id: unique('sys'),
  client_name: '민원 포털',
  agency,
  redirect_uris: [`https://${unique('portal')}.example.go.kr/cb`],
  token_endpoint_auth_method: 'client_secret_basic',
  ...overrides,
});

/** Signs in to the admin console over HTTP (One-ID's login page, passkey), like a browser. */
export const consoleSignIn = async (
  app: TestApp,
  citizen: Awaited<ReturnType<typeof enrolCitizen>>,
): Promise<BrowserSession> => {
  const session = createBrowserSession();
  const { res, url } = await session.follow(`${app.issuer}/admin/login`, app.issuer);
  const html = await res.text();
  if (!html.includes('id="passkey-login"'))
    throw new Error(`expected the login page at ${url}: ${res.status}`);
  const csrf = csrfFrom(html);
  const path = new URL(url).pathname;
  const verify = await passkeyVerify(session, `${app.issuer}${path}`, csrf, citizen.authenticator);
  const { location } = (await verify.json()) as { location: string };
  const landed = await session.follow(new URL(location, app.issuer).toString(), app.issuer);
  if (landed.url !== `${app.issuer}/admin` || landed.res.status !== 200)
    throw new Error(`console sign-in ended at ${landed.url} (${landed.res.status})`);
  return session;
};
