// Security profiles at registration: fapi2 accepted through the admin API; a client allowed a
// sensitive (catalogue `sensitivity: high`) or agency-held item is fapi2 by default and refused
// as baseline, at registration and when its allowances change, each refusal naming the rule.
// tls_client_auth is refused where no agency CA is trusted (CLIENT_CERT_TRUST_ANCHORS unset), and
// both certificate methods where no client certificate can reach the server (RFC 8705 2).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createAdmin, type Admin } from '../admin/support.ts';
import { createLeaf, createRootCa } from '../support/pki.ts';
import { clientKey, REDIRECT_URI } from './support.ts';

let app: TestApp;
let platform: Admin;

beforeAll(async () => {
  // No CLIENT_CERT_TRUST_ANCHORS: tls_client_auth is not offered (mtls.test.ts has it).
  app = await startTestApp({ DCR_ENABLED: 'true' });
  platform = await createAdmin(app, 'platform');
});
afterAll(() => app?.stop());

const purpose = { ko: '주소 확인', en: 'Checking your address' };
const address = { claim: 'address', purpose, required: true, retention_days: 30 };
const fapi2 = async () => ({
  client_name: '복지 포털',
  agency: 'Test Agency',
  redirect_uris: [REDIRECT_URI],
  token_endpoint_auth_method: 'private_key_jwt',
  jwks: { keys: [(await clientKey()).jwk] },
  dpop_bound_access_tokens: true,
});

describe('security profiles', () => {
  it('accepts a fapi2 client through the admin API and stores PAR as required', async () => {
    const res = await platform.api('POST', '/clients', {
      ...(await fapi2()),
      security_profile: 'fapi2',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const stored = (await app.services.clients.find(res.body.client_id))!.metadata;
    expect(stored).toMatchObject({
      security_profile: 'fapi2',
      require_pushed_authorization_requests: true,
    });
  });

  it('makes a client allowed a sensitive item fapi2 by default', async () => {
    const res = await platform.api('POST', '/clients', {
      ...(await fapi2()),
      allowed_claims: [address],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const stored = (await app.services.clients.find(res.body.client_id))!.metadata;
    expect(stored.security_profile).toBe('fapi2');
  });

  it('refuses baseline for a client allowed a sensitive item, naming the rule and the item', async () => {
    const res = await platform.api('POST', '/clients', {
      ...(await fapi2()),
      security_profile: 'baseline',
      allowed_claims: [address],
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(
      /security_profile: baseline is refused: a system allowed sensitive or agency-held data \(address\) must use fapi2/,
    );
  });

  it('refuses a secret-based client that would receive a sensitive item (it defaults to fapi2)', async () => {
    const res = await platform.api('POST', '/clients', {
      client_name: '민원 포털',
      agency: 'Test Agency',
      redirect_uris: [REDIRECT_URI],
      allowed_claims: [address],
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(
      /token_endpoint_auth_method: security_profile fapi2 requires private_key_jwt/,
    );
  });

  it('refuses to allow a sensitive item to an existing baseline client', async () => {
    const res = await platform.api('POST', '/clients', {
      client_name: '민원 포털',
      agency: 'Test Agency',
      redirect_uris: ['https://portal.example.go.kr/cb'],
    });
    expect(res.status).toBe(201);
    await expect(
      app.services.clients.setAllowances(res.body.client_id, [address], 'test'),
    ).rejects.toThrow(/security_profile: baseline is refused/);
  });
});

describe('tls_client_auth where no agency CA is trusted (CLIENT_CERT_TRUST_ANCHORS unset)', () => {
  const REFUSAL =
    /token_endpoint_auth_method: tls_client_auth needs CLIENT_CERT_TRUST_ANCHORS on this server/;
  const pkiClient = {
    client_name: '인증서 시스템',
    redirect_uris: [REDIRECT_URI],
    security_profile: 'fapi2',
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=rp.example.go.kr, O=Test Agency, C=KR',
    tls_client_certificate_bound_access_tokens: true,
  };

  it('is not advertised in discovery', async () => {
    const meta = await (await fetch(`${app.issuer}/.well-known/openid-configuration`)).json();
    expect(meta.token_endpoint_auth_methods_supported).not.toContain('tls_client_auth');
  });

  it('is refused through the admin API, naming the setting; nothing is stored', async () => {
    const clientId = `pki-unset-${Date.now()}`;
    const res = await platform.api('POST', '/clients', {
      ...pkiClient,
      client_id: clientId,
      agency: 'Test Agency',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.detail).toMatch(REFUSAL);
    expect(await app.services.clients.exists(clientId)).toBe(false);
  });

  it('is refused when an existing client moves to it', async () => {
    const created = await platform.api('POST', '/clients', {
      ...(await fapi2()),
      client_name: '이전 시스템',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.client_id as string;
    const res = await platform.api('PUT', `/clients/${id}`, {
      ...pkiClient,
      agency: 'Test Agency',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.detail).toMatch(REFUSAL);
    expect((await app.services.clients.find(id))!.metadata.token_endpoint_auth_method).toBe(
      'private_key_jwt',
    );
  });

  it('is refused at dynamic registration (RFC 7591) with invalid_client_metadata naming the setting', async () => {
    await platform.api('PUT', `/agencies/${encodeURIComponent('Test Agency')}`, {});
    const issued = await platform.api('POST', '/dcr/tokens', { agency: 'Test Agency' });
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    const res = await fetch(`${app.issuer}/reg`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${issued.body.initial_access_token}`,
      },
      body: JSON.stringify(pkiClient),
    });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.error).toBe('invalid_client_metadata');
    expect(body.error_description).toMatch(REFUSAL);
    expect(body).not.toHaveProperty('client_id');
  });
});

describe('the certificate methods where no client certificate can reach the server', () => {
  // RFC 8705 2: neither method works without a certificate listener or a forwarding proxy.
  const REACH =
    /needs a way for client certificates to reach this server: CERT_LOGIN_PORT.*TRUSTED_PROXIES/;
  const selfSigned = async () => {
    const cert = await createLeaf(await createRootCa(), { commonName: 'rp.example.go.kr' });
    return {
      client_name: '자체 서명 시스템',
      agency: 'Test Agency',
      redirect_uris: [REDIRECT_URI],
      security_profile: 'fapi2',
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      tls_client_certificate_bound_access_tokens: true,
      jwks: { keys: [{ ...(await exportJWK(cert.keys.publicKey)), x5c: [cert.b64] }] },
    };
  };
  const agencySystem = {
    client_name: '기관 시스템',
    agency: 'Test Agency',
    redirect_uris: [REDIRECT_URI],
    security_profile: 'fapi2',
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=rp.example.go.kr, O=Test Agency, C=KR',
    tls_client_certificate_bound_access_tokens: true,
  };
  let anchorsOnly: TestApp | undefined;
  let proxyOnly: TestApp | undefined;
  afterAll(async () => {
    await anchorsOnly?.stop();
    await proxyOnly?.stop();
  });

  it('refuses self_signed_tls_client_auth, naming the settings; nothing is stored', async () => {
    const clientId = `self-signed-unreachable-${Date.now()}`;
    const res = await platform.api('POST', '/clients', {
      ...(await selfSigned()),
      client_id: clientId,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.detail).toMatch(new RegExp(`self_signed_tls_client_auth ${REACH.source}`));
    expect(await app.services.clients.exists(clientId)).toBe(false);
  });

  it('refuses tls_client_auth with agency CAs trusted but no listener nor proxy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'one-id-anchors-'));
    const anchors = join(dir, 'agency-anchors.pem');
    writeFileSync(anchors, (await createRootCa({ name: 'CN=Agency Root CA, C=KR' })).pem);
    anchorsOnly = await startTestApp({ CLIENT_CERT_TRUST_ANCHORS: anchors });
    const admin = await createAdmin(anchorsOnly, 'platform');
    const res = await admin.api('POST', '/clients', agencySystem);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.detail).toMatch(new RegExp(`tls_client_auth ${REACH.source}`));
    // The agency CAs are there: only the missing way in is named.
    expect(res.body.detail).not.toMatch(/needs CLIENT_CERT_TRUST_ANCHORS/);
  });

  it('accepts self_signed_tls_client_auth where a trusted proxy forwards certificates', async () => {
    proxyOnly = await startTestApp({ TRUSTED_PROXIES: '10.0.0.0/8' });
    const admin = await createAdmin(proxyOnly, 'platform');
    const res = await admin.api('POST', '/clients', await selfSigned());
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    // tls_client_auth there still needs the agency CAs, and only them.
    const pki = await admin.api('POST', '/clients', agencySystem);
    expect(pki.status, JSON.stringify(pki.body)).toBe(400);
    expect(pki.body.detail).toMatch(/tls_client_auth needs CLIENT_CERT_TRUST_ANCHORS/);
    expect(pki.body.detail).not.toMatch(REACH);
  });
});
