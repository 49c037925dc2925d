// FAPI 2.0 with mutual TLS (RFC 8705): a client authenticating with its self-signed certificate
// (self_signed_tls_client_auth) at the certificate listener's mtls_endpoint_aliases gets
// certificate-bound tokens (cnf.x5t#S256). Userinfo accepts one only over a connection with that
// certificate; introspection shows the binding. Driven by oauth4webapi.
import { createHash } from 'node:crypto';
import { request } from 'node:https';
import { exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { DEFAULT_ALLOWANCES, enrolCitizen, signIn } from '../support/flows.ts';
import { createRootCa, type Issued } from '../support/pki.ts';
import {
  certificateEnv,
  createTestPki,
  privateKeyPem,
  type TestPki,
} from '../auth/certificate-login/support.ts';
import { discover, REDIRECT_URI } from './support.ts';

let pki: TestPki;
let app: TestApp;
let listener: string;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;

beforeAll(async () => {
  pki = await createTestPki();
  const { certPath, keyPath } = await pki.serverFiles();
  const port = await freePort();
  listener = `https://localhost:${port}`;
  app = await startTestApp(
    certificateEnv(pki, { CERT_LOGIN_PORT: String(port), TLS_CERT: certPath, TLS_KEY: keyPath }),
  );
  citizen = await enrolCitizen(app, { name: '최유나' });
});
afterAll(async () => {
  await app?.stop();
  await pki?.close();
});

/** fetch over TLS presenting `cert` (node:https: the global fetch cannot present one). */
const tlsFetch =
  (cert: Issued | undefined) =>
  async (url: string | URL, init: RequestInit = {}): Promise<Response> => {
    const target = new URL(url);
    if (target.protocol !== 'https:') return fetch(url, init);
    const credentials = cert ? { cert: cert.pem, key: await privateKeyPem(cert) } : {};
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    return new Promise((resolve, reject) => {
      const req = request(
        target,
        {
          method: init.method ?? 'GET',
          headers,
          ca: pki.root.pem,
          agent: false,
          ...credentials,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const answer = new Headers();
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) answer.set(k, Array.isArray(v) ? v.join(', ') : v);
            resolve(
              new Response(Buffer.concat(chunks), { status: res.statusCode!, headers: answer }),
            );
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };

const thumbprint = (cert: Issued) => createHash('sha256').update(cert.der).digest('base64url');

/** A fapi2 client authenticating with a self-signed certificate pinned in its jwks (x5c). */
const registerMtlsClient = async () => {
  const cert = await createRootCa({ name: 'CN=rp.example.go.kr, O=Test Agency, C=KR' });
  const clientId = `mtls-${thumbprint(cert).slice(0, 10)}`;
  await app.services.clients.addClient(
    {
      client_id: clientId,
      client_name: 'mTLS RP',
      agency: 'Test Agency',
      redirect_uris: [REDIRECT_URI],
      security_profile: 'fapi2',
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      tls_client_certificate_bound_access_tokens: true,
      jwks: { keys: [{ ...(await exportJWK(cert.keys.publicKey)), x5c: [cert.b64] }] },
      allowed_claims: DEFAULT_ALLOWANCES,
    },
    'test',
  );
  const client: oauth.Client = { client_id: clientId, use_mtls_endpoint_aliases: true };
  return { clientId, client, cert };
};

describe('FAPI 2.0 with certificate-bound tokens', () => {
  let as: oauth.AuthorizationServer;
  let rp: Awaited<ReturnType<typeof registerMtlsClient>>;
  let accessToken: string;
  const options = (cert: Issued | undefined) => ({
    [oauth.customFetch]: tlsFetch(cert) as typeof fetch,
    [oauth.allowInsecureRequests]: true,
  });

  beforeAll(async () => {
    as = await discover(app);
    rp = await registerMtlsClient();
    const auth = oauth.TlsClientAuth();
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const pushed = await oauth.processPushedAuthorizationResponse(
      as,
      rp.client,
      await oauth.pushedAuthorizationRequest(
        as,
        rp.client,
        auth,
        {
          redirect_uri: REDIRECT_URI,
          response_type: 'code',
          scope: 'openid profile',
          code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
        },
        options(rp.cert),
      ),
    );
    const url = new URL(as.authorization_endpoint!);
    url.searchParams.set('client_id', rp.clientId);
    url.searchParams.set('request_uri', pushed.request_uri);
    const callback = await signIn(app, createBrowserSession(), citizen.authenticator, url);
    const params = oauth.validateAuthResponse(as, rp.client, new URL(callback), state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      rp.client,
      await oauth.authorizationCodeGrantRequest(
        as,
        rp.client,
        auth,
        params,
        REDIRECT_URI,
        verifier,
        options(rp.cert),
      ),
      { expectedNonce: oauth.expectNoNonce },
    );
    accessToken = tokens.access_token;
  });

  it('advertises the certificate listener as mtls_endpoint_aliases', () => {
    expect(as.mtls_endpoint_aliases).toEqual({
      token_endpoint: `${listener}/token`,
      pushed_authorization_request_endpoint: `${listener}/request`,
      introspection_endpoint: `${listener}/token/introspection`,
      revocation_endpoint: `${listener}/token/revocation`,
      userinfo_endpoint: `${listener}/me`,
    });
    expect(as.tls_client_certificate_bound_access_tokens).toBe(true);
    expect(as.token_endpoint_auth_methods_supported).toContain('self_signed_tls_client_auth');
  });

  it('binds the token to the certificate: userinfo with it, introspection shows cnf.x5t#S256', async () => {
    const info = await (
      await tlsFetch(rp.cert)(`${listener}/me`, {
        headers: { authorization: `Bearer ${accessToken}` },
      })
    ).json();
    expect(info.name).toBe('최유나');
    const introspection = await oauth.processIntrospectionResponse(
      as,
      rp.client,
      await oauth.introspectionRequest(
        as,
        rp.client,
        oauth.TlsClientAuth(),
        accessToken,
        options(rp.cert),
      ),
    );
    expect(introspection.active).toBe(true);
    expect(introspection.cnf?.['x5t#S256']).toBe(thumbprint(rp.cert));
  });

  it('refuses the token over a connection with another certificate, or none', async () => {
    const other = await createRootCa({ name: 'CN=attacker.example' });
    const stolen = await tlsFetch(other)(`${listener}/me`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(stolen.status).toBe(401);
    expect(stolen.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    const bare = await fetch(`${app.issuer}/me`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(bare.status).toBe(401);
  });

  it('refuses client authentication with an unregistered certificate: nothing is issued', async () => {
    const other = await createRootCa({ name: 'CN=attacker.example' });
    const res = await tlsFetch(other)(`${listener}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: rp.clientId }),
    });
    const body = await res.json();
    expect(res.status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(body).not.toHaveProperty('access_token');
  });
});
