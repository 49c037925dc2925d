// Certificate-login settings are validated with the rest (each bad value named), and the
// documented example signer (examples/sign-challenge.ts) produces a JWS One-ID accepts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createChallengeNonce,
  createCertificateValidator,
  verifySignedChallenge,
} from '../../../src/auth/certificate/index.ts';
import { type ConfigError, loadConfig } from '../../../src/config/index.ts';
import { createTestPki, privateKeyPem, type TestPki } from './support.ts';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    return (error as ConfigError).problems;
  }
};

describe('certificate settings', () => {
  it('defaults to off, fail-closed revocation, subject-serial mapping and RFC 9440 headers', () => {
    expect(loadConfig({}).certificates).toEqual({
      trustAnchorsPath: undefined,
      policyOids: [],
      revocationFailOpen: false,
      revocationTimeoutMs: 3000,
      crlUrls: [],
      mappingRule: 'subject-serial',
      loginPort: undefined,
      tlsCert: undefined,
      tlsKey: undefined,
      header: 'client-cert',
      headerFormat: 'rfc9440',
      clientTrustAnchorsPath: undefined,
    });
  });

  it('parses every setting', () => {
    const config = loadConfig({
      CERT_TRUST_ANCHORS: '/etc/one-id/anchors.pem',
      CERT_POLICY_OIDS: '1.2.410.200004.5.2.1.2, 1.2.410.200004.5.2.1.1',
      CERT_REVOCATION_FAIL_OPEN: 'true',
      CERT_REVOCATION_TIMEOUT_MS: '1500',
      CERT_CRL_URLS: 'http://crl.example/ca.crl',
      CERT_MAPPING_RULE: 'san-email',
      CERT_LOGIN_PORT: '8443',
      TLS_CERT: '/etc/one-id/tls.pem',
      TLS_KEY: '/etc/one-id/tls-key.pem',
      CERT_HEADER: 'X-SSL-Client-Cert',
      CERT_HEADER_FORMAT: 'nginx-escaped',
      CLIENT_CERT_TRUST_ANCHORS: '/etc/one-id/agency-cas.pem',
      TRUSTED_PROXIES: '10.0.0.0/8, ::1, 192.168.1.7',
    });
    expect(config.certificates).toMatchObject({
      clientTrustAnchorsPath: '/etc/one-id/agency-cas.pem',
      policyOids: ['1.2.410.200004.5.2.1.2', '1.2.410.200004.5.2.1.1'],
      revocationFailOpen: true,
      revocationTimeoutMs: 1500,
      mappingRule: 'san-email',
      loginPort: 8443,
      header: 'x-ssl-client-cert',
      headerFormat: 'nginx-escaped',
    });
    expect(config.trustedProxies).toEqual(['10.0.0.0/8', '::1', '192.168.1.7']);
  });

  it('names each bad value', () => {
    const problems = problemsOf({
      CERT_POLICY_OIDS: 'not-an-oid',
      CERT_REVOCATION_FAIL_OPEN: 'yes',
      CERT_MAPPING_RULE: 'cn',
      CERT_HEADER_FORMAT: 'pem',
      CERT_CRL_URLS: 'ldap://x',
      TRUSTED_PROXIES: 'proxy.internal',
    }).join('\n');
    for (const key of [
      'CERT_POLICY_OIDS',
      'CERT_REVOCATION_FAIL_OPEN',
      'CERT_MAPPING_RULE',
      'CERT_HEADER_FORMAT',
      'CERT_CRL_URLS',
      'TRUSTED_PROXIES',
    ])
      expect(problems).toContain(key);
    expect(problemsOf({ TRUSTED_PROXIES: '10.0.0.0/33' }).join()).toContain('TRUSTED_PROXIES');
  });

  it('refuses a half-configured mutual-TLS listener', () => {
    expect(problemsOf({ CERT_LOGIN_PORT: '8443' })).toEqual([
      'CERT_LOGIN_PORT: needs TLS_CERT and TLS_KEY',
      'CERT_LOGIN_PORT: needs CERT_TRUST_ANCHORS',
    ]);
    expect(
      problemsOf({ CERT_LOGIN_PORT: '3000', TLS_CERT: 'a', TLS_KEY: 'b', CERT_TRUST_ANCHORS: 'c' }),
    ).toEqual(['CERT_LOGIN_PORT: must differ from PORT']);
  });
});

describe('examples/sign-challenge.ts', () => {
  let pki: TestPki;
  let dir: string;
  beforeAll(async () => {
    pki = await createTestPki();
    dir = mkdtempSync(join(tmpdir(), 'oneid-signer-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await pki?.close();
  });

  it('signs a nonce that One-ID verifies and whose chain validates (run as a command)', async () => {
    const leaf = await pki.citizen();
    writeFileSync(join(dir, 'key.pem'), await privateKeyPem(leaf));
    writeFileSync(join(dir, 'chain.pem'), `${leaf.pem}\n${pki.intermediate.pem}\n`);
    const nonce = createChallengeNonce();
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      'examples/sign-challenge.ts',
      '--key',
      join(dir, 'key.pem'),
      '--chain',
      join(dir, 'chain.pem'),
      `--nonce=${nonce}`,
      '--audience',
      'https://id.example.go.kr',
    ]);
    const verified = await verifySignedChallenge(stdout.trim(), {
      audience: 'https://id.example.go.kr',
    });
    expect(verified.nonce).toBe(nonce);
    const validator = createCertificateValidator({
      trustAnchorsPem: pki.root.pem,
      revocation: { failOpen: false, timeoutMs: 2000 },
    });
    await expect(
      validator.validate(verified.leafDer, verified.intermediatesDer),
    ).resolves.toMatchObject({ revocation: 'good' });
  });
});
