import { OCSPResponseStatus } from '@peculiar/asn1-ocsp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCertificateValidator,
  type CertificateErrorReason,
  type CertificateValidatorOptions,
} from '../../../src/auth/certificate/index.ts';
import {
  OIDS,
  closedPortUrl,
  createCrl,
  createIntermediateCa,
  createLeaf,
  createOcspErrorResponse,
  createOcspResponderCert,
  createOcspResponse,
  createRootCa,
  generateKeys,
  startPkiServer,
  type Issued,
  type OcspResponseOptions,
  type PkiServer,
} from '../../support/pki.ts';

const TIMEOUT_MS = 500;

let server: PkiServer;
let root: Issued;
let intermediate: Issued;

const validatorFor = (options: Partial<CertificateValidatorOptions> = {}) =>
  createCertificateValidator({
    trustAnchorsPem: root.pem,
    revocation: { failOpen: false, timeoutMs: TIMEOUT_MS },
    ...options,
  });

const rejection = async (
  promise: Promise<unknown>,
): Promise<{ reason: CertificateErrorReason; message: string }> =>
  promise.then(
    () => expect.fail('expected a CertificateError'),
    (e: unknown) => e as { reason: CertificateErrorReason; message: string },
  );

let pathCounter = 0;
const uniquePath = (name: string): string => `/${name}-${(pathCounter += 1)}`;

/** A leaf whose CRL is served at a fresh path; returns the leaf and the CRL path. */
const leafWithCrl = async (
  crlOptions: { revoked?: boolean } = {},
): Promise<{ leaf: Issued; path: string }> => {
  const path = uniquePath('ca.crl');
  const leaf = await createLeaf(intermediate, { crlUrl: `${server.url}${path}` });
  server.serveCrl(
    path,
    await createCrl(intermediate, {
      revokedSerials: crlOptions.revoked ? [leaf.cert.serialNumber] : [],
    }),
  );
  return { leaf, path };
};

const leafWithOcsp = async (
  options: OcspResponseOptions = {},
  leafOptions: { crlUrl?: string } = {},
): Promise<{ leaf: Issued; path: string }> => {
  const path = uniquePath('ocsp');
  const leaf = await createLeaf(intermediate, { ocspUrl: `${server.url}${path}`, ...leafOptions });
  server.answerOcsp(path, (request) => createOcspResponse(intermediate, request, options));
  return { leaf, path };
};

beforeAll(async () => {
  server = await startPkiServer();
  root = await createRootCa();
  // The intermediate itself is checked against the root's CRL on every validation.
  intermediate = await createIntermediateCa(root, { crlUrl: `${server.url}/root.crl` });
  server.serveCrl('/root.crl', await createCrl(root));
});

afterAll(async () => {
  await server.close();
});

describe('revocation by CRL', () => {
  it('accepts a certificate absent from a valid CRL', async () => {
    const { leaf } = await leafWithCrl();
    await expect(validatorFor().validate(leaf.pem, [intermediate.pem])).resolves.toMatchObject({
      revocation: 'good',
    });
  });

  it('rejects a certificate listed in the CRL', async () => {
    const { leaf } = await leafWithCrl({ revoked: true });
    expect((await rejection(validatorFor().validate(leaf.pem, [intermediate.pem]))).reason).toBe(
      'revoked',
    );
  });

  it('rejects a revoked intermediate', async () => {
    const path = uniquePath('root.crl');
    const ca = await createIntermediateCa(root, { crlUrl: `${server.url}${path}` });
    server.serveCrl(path, await createCrl(root, { revokedSerials: [ca.cert.serialNumber] }));
    const leaf = await createLeaf(ca, { crlUrl: `${server.url}/root.crl` });
    expect((await rejection(validatorFor().validate(leaf.pem, [ca.pem]))).reason).toBe('revoked');
  });

  it('caches the CRL until its nextUpdate', async () => {
    let now = new Date();
    const validator = validatorFor({ now: () => now });
    const { leaf, path } = await leafWithCrl();
    await validator.validate(leaf.pem, [intermediate.pem]);
    await validator.validate(leaf.pem, [intermediate.pem]);
    expect(server.requestCount(path)).toBe(1);
    expect(server.requestCount('/root.crl')).toBeGreaterThan(0);

    // Past nextUpdate (1 h) the CRL is downloaded again.
    now = new Date(now.getTime() + 2 * 3_600_000);
    server.serveCrl(
      path,
      await createCrl(intermediate, { thisUpdate: new Date(now.getTime() - 60_000) }),
    );
    server.serveCrl(
      '/root.crl',
      await createCrl(root, { thisUpdate: new Date(now.getTime() - 60_000) }),
    );
    await validator.validate(leaf.pem, [intermediate.pem]);
    expect(server.requestCount(path)).toBe(2);
    server.serveCrl('/root.crl', await createCrl(root));
  });

  it('uses configured crlUrls for certificates without a distribution point', async () => {
    const path = uniquePath('mirror.crl');
    const leaf = await createLeaf(intermediate);
    server.serveCrl(
      path,
      await createCrl(intermediate, { revokedSerials: [leaf.cert.serialNumber] }),
    );
    const validator = validatorFor({
      revocation: { failOpen: false, timeoutMs: TIMEOUT_MS, crlUrls: [`${server.url}${path}`] },
    });
    expect((await rejection(validator.validate(leaf.pem, [intermediate.pem]))).reason).toBe(
      'revoked',
    );
  });

  it('is unavailable when the CRL server is down, unless failOpen', async () => {
    const leaf = await createLeaf(intermediate, { crlUrl: `${await closedPortUrl()}/ca.crl` });
    expect((await rejection(validatorFor().validate(leaf.pem, [intermediate.pem]))).reason).toBe(
      'revocation_unavailable',
    );
    const failOpen = validatorFor({ revocation: { failOpen: true, timeoutMs: TIMEOUT_MS } });
    await expect(failOpen.validate(leaf.pem, [intermediate.pem])).resolves.toMatchObject({
      revocation: 'unknown',
    });
  });

  it('gives up on a hanging CRL server after the timeout', async () => {
    const path = uniquePath('hang.crl');
    server.hang(path);
    const leaf = await createLeaf(intermediate, { crlUrl: `${server.url}${path}` });
    const started = performance.now();
    const error = await rejection(validatorFor().validate(leaf.pem, [intermediate.pem]));
    const elapsed = performance.now() - started;
    expect(error.reason).toBe('revocation_unavailable');
    expect(error.message).toMatch(/timed out/);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1500);
  });

  it.each([
    ['an HTTP error', /HTTP 503/, async (path: string) => server.fail(path, 503)],
    [
      'a CRL signed by another key',
      /signature does not verify/,
      async (path: string) =>
        server.serveCrl(
          path,
          await createCrl(intermediate, { signingKey: (await generateKeys()).privateKey }),
        ),
    ],
    [
      'a stale CRL',
      /stale/,
      async (path: string) =>
        server.serveCrl(
          path,
          await createCrl(intermediate, { thisUpdate: new Date(Date.now() - 7_200_000) }),
        ),
    ],
    [
      'a CRL without nextUpdate',
      /no nextUpdate/,
      async (path: string) =>
        server.serveCrl(path, await createCrl(intermediate, { nextUpdate: null })),
    ],
    [
      'a CRL of another issuer',
      /issued by/,
      async (path: string) => server.serveCrl(path, await createCrl(root)),
    ],
    [
      'garbage',
      /not a CRL/,
      async (path: string) => server.serveCrl(path, Buffer.from('not a crl')),
    ],
  ])('is unavailable on %s', async (_name, message, serve) => {
    const path = uniquePath('bad.crl');
    await serve(path);
    const leaf = await createLeaf(intermediate, { crlUrl: `${server.url}${path}` });
    const error = await rejection(validatorFor().validate(leaf.pem, [intermediate.pem]));
    expect(error.reason).toBe('revocation_unavailable');
    expect(error.message).toMatch(message);
  });
});

describe('revocation by OCSP', () => {
  it('accepts a good status signed by the issuer', async () => {
    const { leaf, path } = await leafWithOcsp();
    await expect(validatorFor().validate(leaf.pem, [intermediate.pem])).resolves.toMatchObject({
      revocation: 'good',
    });
    expect(server.requestCount(path)).toBe(1);
  });

  it('rejects a revoked status', async () => {
    const { leaf } = await leafWithOcsp({ status: () => 'revoked' });
    expect((await rejection(validatorFor().validate(leaf.pem, [intermediate.pem]))).reason).toBe(
      'revoked',
    );
  });

  it('accepts a delegated responder certified for OCSP signing', async () => {
    const responder = await createOcspResponderCert(intermediate);
    const { leaf } = await leafWithOcsp({ responder });
    await expect(validatorFor().validate(leaf.pem, [intermediate.pem])).resolves.toMatchObject({
      revocation: 'good',
    });
  });

  it.each([
    [
      'a responder without id-kp-OCSPSigning',
      /neither the issuer nor a delegated/,
      async (): Promise<OcspResponseOptions> => ({
        responder: await createOcspResponderCert(intermediate, { eku: [OIDS.clientAuth] }),
      }),
    ],
    [
      'a forged signature',
      /signature does not verify/,
      async (): Promise<OcspResponseOptions> => ({ signingKey: (await generateKeys()).privateKey }),
    ],
    [
      'an unknown status',
      /does not know/,
      async (): Promise<OcspResponseOptions> => ({ status: () => 'unknown' }),
    ],
    [
      'a stale response',
      /stale/,
      async (): Promise<OcspResponseOptions> => ({
        thisUpdate: new Date(Date.now() - 7_200_000),
        nextUpdate: new Date(Date.now() - 3_600_000),
      }),
    ],
  ])('is unavailable with %s', async (_name, message, makeOptions) => {
    const { leaf } = await leafWithOcsp(await makeOptions());
    const error = await rejection(validatorFor().validate(leaf.pem, [intermediate.pem]));
    expect(error.reason).toBe('revocation_unavailable');
    expect(error.message).toMatch(message);
  });

  it('is unavailable when the responder answers tryLater', async () => {
    const path = uniquePath('ocsp');
    server.answerOcsp(path, async () => createOcspErrorResponse(OCSPResponseStatus.tryLater));
    const leaf = await createLeaf(intermediate, { ocspUrl: `${server.url}${path}` });
    expect((await rejection(validatorFor().validate(leaf.pem, [intermediate.pem]))).reason).toBe(
      'revocation_unavailable',
    );
  });

  it('falls back to the CRL when the responder is down', async () => {
    const crlPath = uniquePath('ca.crl');
    server.serveCrl(crlPath, await createCrl(intermediate));
    const leaf = await createLeaf(intermediate, {
      ocspUrl: `${await closedPortUrl()}/ocsp`,
      crlUrl: `${server.url}${crlPath}`,
    });
    await expect(validatorFor().validate(leaf.pem, [intermediate.pem])).resolves.toMatchObject({
      revocation: 'good',
    });
  });
});
