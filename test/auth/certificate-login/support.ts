// Shared by the certificate-login tests: a run-time PKI with a CRL distribution point, the
// app settings that trust it, signed challenges, and HTTP-level interaction helpers.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { CHALLENGE_TYP, certificateSubjectKey } from '../../../src/auth/certificate/index.ts';
import { insertCertificate } from '../../../src/auth/certificate/certificate-repo.ts';
import type { TestApp } from '../../support/app.ts';
import { csrfFrom, type BrowserSession } from '../../support/browser-session.ts';
import { authorizationRequest, discover, registerClient } from '../../support/flows.ts';
import {
  OIDS,
  createCrl,
  createIntermediateCa,
  createLeaf,
  createRootCa,
  startPkiServer,
  type Issued,
  type LeafOptions,
  type PkiServer,
} from '../../support/pki.ts';

export const POLICY = '1.2.410.200004.5.2.1.2';

export type TestPki = Awaited<ReturnType<typeof createTestPki>>;

/**
 * Root -> intermediate -> citizen certificates, every one with a CRL served by the local
 * PKI server (revocation is checked fail-closed). The anchor bundle is written to a temp file
 * (removed by close()); nothing is committed.
 */
export const createTestPki = async () => {
  const server: PkiServer = await startPkiServer();
  const root = await createRootCa();
  const intermediate = await createIntermediateCa(root, { crlUrl: `${server.url}/root.crl` });
  server.serveCrl('/root.crl', await createCrl(root));
  server.serveCrl('/ca.crl', await createCrl(intermediate));
  const dir = mkdtempSync(join(tmpdir(), 'oneid-pki-'));
  const anchorsPath = join(dir, 'anchors.pem');
  writeFileSync(anchorsPath, root.pem);
  let revokedCount = 0;

  /** A citizen certificate; a fresh holder id unless one is given. */
  const citizen = (options: LeafOptions = {}) =>
    createLeaf(intermediate, {
      crlUrl: `${server.url}/ca.crl`,
      subjectSerialNumber: `KR-${randomBytes(6).toString('hex')}`,
      policies: [POLICY],
      ...options,
    });

  return {
    server,
    root,
    intermediate,
    anchorsPath,
    dir,
    citizen,
    /** A citizen certificate listed on its own CRL as revoked. */
    async revoked(options: LeafOptions = {}) {
      const path = `/revoked-${(revokedCount += 1)}.crl`;
      const leaf = await citizen({ ...options, crlUrl: `${server.url}${path}` });
      server.serveCrl(
        path,
        await createCrl(intermediate, { revokedSerials: [leaf.cert.serialNumber] }),
      );
      return leaf;
    },
    /** A TLS server certificate for localhost (the mutual-TLS listener), as PEM files. */
    async serverFiles() {
      const leaf = await createLeaf(intermediate, {
        commonName: 'localhost',
        eku: [OIDS.serverAuth],
      });
      const key = Buffer.from(await crypto.subtle.exportKey('pkcs8', leaf.keys.privateKey))
        .toString('base64')
        .match(/.{1,64}/g)!
        .join('\n');
      const certPath = join(dir, 'server.pem');
      const keyPath = join(dir, 'server-key.pem');
      writeFileSync(certPath, `${leaf.pem}\n${intermediate.pem}\n`);
      writeFileSync(keyPath, `-----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY-----\n`);
      return { certPath, keyPath };
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** The settings that turn certificate login on for `pki`. */
export const certificateEnv = (
  pki: TestPki,
  extra: Record<string, string> = {},
): Record<string, string> => ({
  CERT_TRUST_ANCHORS: pki.anchorsPath,
  CERT_POLICY_OIDS: POLICY,
  CERT_REVOCATION_TIMEOUT_MS: '2000',
  ...extra,
});

/** PEM private key of an issued certificate (for TLS clients). */
export const privateKeyPem = async (issued: Issued) => {
  const body = Buffer.from(await crypto.subtle.exportKey('pkcs8', issued.keys.privateKey))
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
};

/** The compact JWS One-ID expects (docs/certificates.md): typ, ES256, x5c chain, aud, nonce, iat/exp. */
export const signChallenge = (options: {
  nonce: string;
  audience: string;
  leaf: Issued;
  chain?: Issued[];
  key?: CryptoKey;
  x5c?: string[];
}) => {
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ nonce: options.nonce })
    .setProtectedHeader({
      alg: 'ES256',
      typ: CHALLENGE_TYP,
      x5c: options.x5c ?? [options.leaf.b64, ...(options.chain ?? []).map((c) => c.b64)],
    })
    .setAudience(options.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 120)
    .sign(options.key ?? options.leaf.keys.privateKey);
};

export type Interaction = { path: string; url: string; csrf: string; html: string };

/** Follows an authorization URL to the login page; returns its path and CSRF token. */
export const openLogin = async (
  app: TestApp,
  session: BrowserSession,
  authUrl: URL | string,
): Promise<Interaction> => {
  const { res, url } = await session.follow(authUrl.toString(), app.issuer);
  const html = await res.text();
  if (res.status !== 200 || !html.includes('id="passkey-login"'))
    throw new Error(`expected the login page at ${url}: ${res.status} ${html.slice(0, 300)}`);
  return { path: new URL(url).pathname, url, csrf: csrfFrom(html), html };
};

/** A relying party and a started authorization request. */
export const startRp = async (app: TestApp, params: Record<string, string> = {}) => {
  const client = await registerClient(app);
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri, params);
  return { client, config, request };
};

/** POST challenge, sign it with the leaf, POST verify (JSON). Returns the verify response. */
export const challengeSignIn = async (
  app: TestApp,
  session: BrowserSession,
  login: Interaction,
  leaf: Issued,
  chain: Issued[],
  sign: Partial<Parameters<typeof signChallenge>[0]> = {},
) => {
  const challenge = await session.request(`${app.issuer}${login.path}/certificate/challenge`, {
    method: 'POST',
    json: {},
    headers: { 'x-csrf-token': login.csrf },
  });
  if (challenge.status !== 200)
    throw new Error(`challenge ${challenge.status}: ${await challenge.text()}`);
  const { nonce, audience } = (await challenge.json()) as { nonce: string; audience: string };
  const jws = await signChallenge({ nonce, audience, leaf, chain, ...sign });
  const res = await session.request(`${app.issuer}${login.path}/certificate/verify`, {
    method: 'POST',
    json: { jws },
    headers: { 'x-csrf-token': login.csrf },
  });
  return {
    res,
    body: (await res.json()) as { location?: string; code?: string; message?: string },
    jws,
    nonce,
  };
};

/** Accepts the self-enrolment page at `path` (a new certificate); returns where it leads next. */
export const acceptEnrolment = async (app: TestApp, session: BrowserSession, path: string) => {
  const html = await (await session.request(`${app.issuer}${path}`)).text();
  const done = await session.request(`${app.issuer}${path}`, {
    method: 'POST',
    form: { _csrf: csrfFrom(html) },
  });
  return done.headers.get('location')!;
};

export type RawAnswer = { status: number; location: string | undefined; body: string };

/** Sends a node:http(s) request and reads its answer to the end: status, Location and body. */
export const rawAnswer = (req: ClientRequest) =>
  new Promise<RawAnswer>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, location: res.headers.location, body }),
      );
    });
    req.on('error', reject);
    req.end();
  });

/** From a One-ID URL, approves any consent page and returns the RP callback URL. */
export const continueToClient = async (app: TestApp, session: BrowserSession, from: string) => {
  let { res, url } = await session.follow(new URL(from, app.issuer).toString(), app.issuer);
  for (let step = 0; step < 3 && url.startsWith(app.issuer); step += 1) {
    const html = await res.text();
    const path = new URL(url).pathname;
    if (!html.includes(`action="${path}/consent"`))
      throw new Error(`unexpected page at ${url}: ${res.status} ${html.slice(0, 400)}`);
    ({ res, url } = await session.follow(`${app.issuer}${path}/consent`, app.issuer, {
      method: 'POST',
      form: { _csrf: csrfFrom(html), decision: 'approve' },
    }));
  }
  if (url.startsWith(app.issuer)) throw new Error(`did not reach the client: ${url}`);
  return url;
};

/** The RP's side: redeem the code (openid-client validates the ID token). */
export const redeemTokens = (rp: Awaited<ReturnType<typeof startRp>>, callback: string) =>
  oidc.authorizationCodeGrant(rp.config, new URL(callback), {
    pkceCodeVerifier: rp.request.verifier,
    expectedState: rp.request.state,
    expectedNonce: rp.request.nonce,
  });

/** The ID token claims of redeeming the code. */
export const redeem = async (rp: Awaited<ReturnType<typeof startRp>>, callback: string) =>
  (await redeemTokens(rp, callback)).claims()!;

/** Audit rows of one action, newest first, optionally filtered on a details field. */
export const auditRows = async (
  app: TestApp,
  action: string,
  where: Record<string, string> = {},
) => {
  const query = app.knex('audit_events').where({ action }).orderBy('id', 'desc').limit(50);
  for (const [key, value] of Object.entries(where)) query.whereRaw('details->>? = ?', [key, value]);
  return (await query) as {
    action: string;
    actor: string;
    subject: string | null;
    ip: string | null;
    details: Record<string, unknown>;
  }[];
};

/** SHA-256 of the certificate's DER, lowercase hex: what One-ID stores and audits. */
export const fingerprintOf = (leaf: Issued) => createHash('sha256').update(leaf.der).digest('hex');

/** What a service counter would do: link `leaf` to an existing account (validated first). */
export const linkCertificate = async (
  app: TestApp,
  accountId: string,
  leaf: Issued,
  chain: Issued[],
) => {
  const validated = await app.services.certificates!.validator.validate(
    leaf.der,
    chain.map((c) => c.der),
  );
  await insertCertificate(app.knex, {
    fingerprint: validated.fingerprintSha256,
    accountId,
    subjectKey: certificateSubjectKey(validated, app.config.certificates.mappingRule),
    issuer: validated.issuer,
    serial: validated.serialNumber,
    subject: validated.subject,
    notAfter: validated.notAfter,
  });
};
