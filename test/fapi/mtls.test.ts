// FAPI 2.0 with mutual TLS (RFC 8705): a client authenticating with its self-signed certificate
// (self_signed_tls_client_auth) or with one issued by a trusted agency CA (tls_client_auth) at the
// certificate listener's mtls_endpoint_aliases gets certificate-bound tokens (cnf.x5t#S256).
// Userinfo accepts one only over a connection with that certificate; introspection shows the
// binding. Driven by oauth4webapi. A certificate refused for a tls_client_auth client is audited
// (clients.certificate.refused) and logged by its issuer and serial, never its holder.
import { exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSubjectMatches } from '../../src/auth/certificate/index.ts';
import { auditRows } from '../auth/certificate-login/support.ts';
import { captureLogs } from '../hardening/support.ts';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { DEFAULT_ALLOWANCES, enrolCitizen, signIn } from '../support/flows.ts';
import { createCrl, createLeaf, createRootCa, type Issued } from '../support/pki.ts';
import { startMtlsApp, thumbprint, type MtlsApp } from './mtls-support.ts';
import { discover, pushRequest, REDIRECT_URI } from './support.ts';

let mtls: MtlsApp;
let app: TestApp;
let listener: string;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let tlsFetch: MtlsApp['fetchWith'];
const logs = captureLogs();

beforeAll(async () => {
  mtls = await startMtlsApp({}, { logger: logs.logger });
  ({ app, listener, fetchWith: tlsFetch } = mtls);
  citizen = await enrolCitizen(app, { name: '최유나' });
});
afterAll(() => mtls?.stop());

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
    const { url, verifier, state } = await pushRequest(as, rp.client, auth, options(rp.cert));
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

describe('tls_client_auth (RFC 8705 2.1): certificates from a trusted agency CA', () => {
  const SUBJECT_DN = 'CN=rp.example.go.kr, O=One-ID Test, C=KR';
  let as: oauth.AuthorizationServer;
  let clientId: string;
  let client: oauth.Client;
  let cert: Issued;

  const options = (presented: Issued | undefined, chain: Issued[] = [mtls.agencyCa]) => ({
    [oauth.customFetch]: tlsFetch(presented, chain) as typeof fetch,
    [oauth.allowInsecureRequests]: true,
  });
  const clientCredentials = (presented: Issued, chain?: Issued[]) =>
    tlsFetch(presented, chain ?? [mtls.agencyCa])(`${listener}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId }),
    });

  /** The audit record and the warn line of the refusal of `presented` for the client. */
  const refusalOf = async (presented: Issued) => {
    const serial = presented.cert.serialNumber.toLowerCase();
    const [record] = await auditRows(app, 'clients.certificate.refused', { serial });
    const line = logs.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find(
        (l) => l.msg?.toString().startsWith('client certificate refused') && l.serial === serial,
      );
    return { record, line };
  };

  beforeAll(async () => {
    as = await discover(app);
    cert = await mtls.systemCertificate();
    clientId = `pki-${thumbprint(cert).slice(0, 10)}`;
    await app.services.clients.addClient(
      {
        client_id: clientId,
        client_name: 'PKI mTLS RP',
        agency: 'Test Agency',
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        security_profile: 'fapi2',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: SUBJECT_DN,
        tls_client_certificate_bound_access_tokens: true,
        allowed_claims: DEFAULT_ALLOWANCES,
      },
      'test',
    );
    client = { client_id: clientId, use_mtls_endpoint_aliases: true };
  });

  it('is advertised where an agency CA is trusted (CLIENT_CERT_TRUST_ANCHORS)', () => {
    expect(as.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['tls_client_auth', 'self_signed_tls_client_auth']),
    );
  });

  it('completes PAR, the passkey sign-in and the code exchange; the token is bound to the certificate', async () => {
    const auth = oauth.TlsClientAuth();
    const { url, verifier, state } = await pushRequest(as, client, auth, options(cert));
    const callback = await signIn(app, createBrowserSession(), citizen.authenticator, url);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(
        as,
        client,
        auth,
        oauth.validateAuthResponse(as, client, new URL(callback), state),
        REDIRECT_URI,
        verifier,
        options(cert),
      ),
      { expectedNonce: oauth.expectNoNonce },
    );
    const introspection = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, tokens.access_token, options(cert)),
    );
    expect(introspection).toMatchObject({ active: true, client_id: clientId });
    expect(introspection.cnf?.['x5t#S256']).toBe(thumbprint(cert));
    const info = await tlsFetch(cert)(`${listener}/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(info.status).toBe(200);
  });

  it('accepts a renewed certificate with the registered subject (no pinning of the key)', async () => {
    const renewed = await mtls.systemCertificate();
    const res = await clientCredentials(renewed);
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await refusalOf(renewed)).record).toBeUndefined();
  });

  it('refuses the same subject from a CA that is not trusted for agency systems: nothing is issued', async () => {
    const rogueRoot = await createRootCa({ name: 'CN=Rogue CA, O=Test Agency, C=KR' });
    const rogue = await createLeaf(rogueRoot, { commonName: 'rp.example.go.kr' });
    const res = await clientCredentials(rogue, [rogueRoot]);
    const body = await res.json();
    expect(res.status).toBe(401);
    expect(body).toMatchObject({ error: 'invalid_client' });
    expect(body).not.toHaveProperty('access_token');
    const { record } = await refusalOf(rogue);
    expect(record?.details).toMatchObject({ reason: 'untrusted', issuer: rogueRoot.cert.subject });
  });

  it("refuses a certificate of the citizens' CA with the registered subject: only the CA differs", async () => {
    // Issued by the citizens' CA (CERT_TRUST_ANCHORS) to the very subject registered, so that
    // only the trust of its CA refuses it (checked: the subject alone would match).
    const citizenCa = await createLeaf(mtls.pki.intermediate, {
      commonName: 'rp.example.go.kr',
      crlUrl: `${mtls.pki.server.url}/ca.crl`,
    });
    expect(certificateSubjectMatches(citizenCa.der, 'tls_client_auth_subject_dn', SUBJECT_DN)).toBe(
      true,
    );
    const res = await clientCredentials(citizenCa, [mtls.pki.intermediate]);
    const body = await res.json();
    expect(res.status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(body).not.toHaveProperty('access_token');
    const { record, line } = await refusalOf(citizenCa);
    expect(record).toMatchObject({ actor: 'anonymous', subject: `client:${clientId}` });
    expect(record!.details).toEqual({
      reason: 'untrusted',
      issuer: 'CN=One-ID Test Citizen CA, O=One-ID Test, C=KR',
      serial: citizenCa.cert.serialNumber.toLowerCase(),
    });
    expect(line).toMatchObject({ level: 40, clientId, reason: 'untrusted' });
  });

  it("records a citizen's certificate refused for a system by issuer and serial, never its holder", async () => {
    const holderId = `KR-HOLDER-${Date.now()}`;
    const personal = await mtls.pki.citizen({
      commonName: '김민준',
      subjectSerialNumber: holderId,
      email: 'minjun@example.kr',
    });
    const res = await clientCredentials(personal, [mtls.pki.intermediate]);
    expect(res.status).toBe(401);
    const { record, line } = await refusalOf(personal);
    expect(record!.details).toEqual({
      reason: 'untrusted',
      issuer: 'CN=One-ID Test Citizen CA, O=One-ID Test, C=KR',
      serial: personal.cert.serialNumber.toLowerCase(),
    });
    expect(line).toBeDefined();
    const written = JSON.stringify([record, line]);
    for (const value of [holderId, '김민준', 'minjun@example.kr'])
      expect(written.includes(value), 'the refusal names the holder').toBe(false);
    logs.expectNone({ holderId, name: '김민준', email: 'minjun@example.kr' });
  });

  it('refuses a trusted certificate naming another subject', async () => {
    const other = await mtls.systemCertificate({ commonName: 'other.example.go.kr' });
    const res = await clientCredentials(other);
    const body = await res.json();
    expect(res.status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(body).not.toHaveProperty('access_token');
    const { record, line } = await refusalOf(other);
    expect(record).toMatchObject({ subject: `client:${clientId}` });
    expect(record?.details).toMatchObject({ reason: 'subject_mismatch' });
    expect(line).toMatchObject({ level: 40, clientId, reason: 'subject_mismatch' });
  });

  it('refuses a revoked certificate of the trusted CA', async () => {
    const revoked = await mtls.systemCertificate({
      crlUrl: `${mtls.pki.server.url}/agency-revoked.crl`,
    });
    mtls.pki.server.serveCrl(
      '/agency-revoked.crl',
      await createCrl(mtls.agencyCa, { revokedSerials: [revoked.cert.serialNumber] }),
    );
    const res = await clientCredentials(revoked);
    expect(res.status).toBe(401);
    expect((await res.json()).error).toBe('invalid_client');
    expect((await refusalOf(revoked)).record?.details).toMatchObject({ reason: 'revoked' });
  });

  it('refuses to register tls_client_auth without exactly one subject field, naming the rule', async () => {
    await expect(
      app.services.clients.addClient(
        {
          client_name: 'PKI RP',
          agency: 'Test Agency',
          redirect_uris: [REDIRECT_URI],
          security_profile: 'fapi2',
          token_endpoint_auth_method: 'tls_client_auth',
          tls_client_certificate_bound_access_tokens: true,
        },
        'test',
      ),
    ).rejects.toThrow(/tls_client_auth needs exactly one of tls_client_auth_subject_dn/);
  });
});
