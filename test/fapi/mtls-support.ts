// Mutual TLS for the FAPI tests: an app with the certificate listener (mtls_endpoint_aliases)
// and an agency CA trusted for tls_client_auth (CLIENT_CERT_TRUST_ANCHORS), fetch presenting a
// client certificate (node:https: the global fetch cannot), and the RFC 8705 3.1 thumbprint.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { AppOptions } from '../../src/app.ts';
import { freePort, startTestApp } from '../support/app.ts';
import {
  createCrl,
  createIntermediateCa,
  createLeaf,
  createRootCa,
  type Issued,
  type LeafOptions,
} from '../support/pki.ts';
import { certificateEnv, createTestPki, privateKeyPem } from '../auth/certificate-login/support.ts';

/**
 * The app with its certificate listener, and an agency's PKI (root -> issuing CA, CRLs served
 * locally, revocation checked fail-closed) whose root alone is trusted for agency systems.
 */
export const startMtlsApp = async (env: Record<string, string> = {}, options: AppOptions = {}) => {
  const pki = await createTestPki();
  const agencyRoot = await createRootCa({ name: 'CN=Agency Root CA, O=Test Agency, C=KR' });
  const agencyCa = await createIntermediateCa(agencyRoot, {
    name: 'CN=Agency Systems CA, O=Test Agency, C=KR',
    crlUrl: `${pki.server.url}/agency-root.crl`,
  });
  pki.server.serveCrl('/agency-root.crl', await createCrl(agencyRoot));
  pki.server.serveCrl('/agency-ca.crl', await createCrl(agencyCa));
  const agencyAnchors = join(pki.dir, 'agency-anchors.pem');
  writeFileSync(agencyAnchors, agencyRoot.pem);
  const { certPath, keyPath } = await pki.serverFiles();
  const port = await freePort();
  const app = await startTestApp(
    certificateEnv(pki, {
      CERT_LOGIN_PORT: String(port),
      TLS_CERT: certPath,
      TLS_KEY: keyPath,
      CLIENT_CERT_TRUST_ANCHORS: agencyAnchors,
      ...env,
    }),
    { app: options },
  );
  return {
    app,
    pki,
    agencyCa,
    listener: `https://localhost:${port}`,
    /** An agency system's certificate (clientAuth), issued by the trusted agency CA. */
    systemCertificate: (options: LeafOptions = {}) =>
      createLeaf(agencyCa, {
        commonName: 'rp.example.go.kr',
        crlUrl: `${pki.server.url}/agency-ca.crl`,
        ...options,
      }),
    /** fetch presenting `cert` (with `chain`) to the listener. */
    fetchWith: (cert: Issued | undefined, chain: Issued[] = []) =>
      tlsFetch(pki.root.pem, cert, chain),
    async stop() {
      await app.stop();
      await pki.close();
    },
  };
};

export type MtlsApp = Awaited<ReturnType<typeof startMtlsApp>>;

/** fetch over TLS presenting `cert` (and its `chain`), trusting `ca` for the server. */
export const tlsFetch =
  (ca: string, cert: Issued | undefined, chain: Issued[] = []) =>
  async (url: string | URL, init: RequestInit = {}): Promise<Response> => {
    const target = new URL(url);
    if (target.protocol !== 'https:') return fetch(url, init);
    const credentials = cert
      ? { cert: [cert.pem, ...chain.map((c) => c.pem)].join('\n'), key: await privateKeyPem(cert) }
      : {};
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    return new Promise((resolve, reject) => {
      const req = request(
        target,
        { method: init.method ?? 'GET', headers, ca, agent: false, ...credentials },
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

/** RFC 8705 3.1: the certificate's SHA-256 thumbprint (cnf.x5t#S256). */
export const thumbprint = (cert: Issued) =>
  createHash('sha256').update(cert.der).digest('base64url');
