import { beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/shared/index.ts';
import {
  CertificateError,
  createCertificateValidator,
  type CertificateErrorReason,
  type CertificateValidatorOptions,
} from '../../../src/auth/certificate/index.ts';
import { Extension, KeyUsageFlags } from '../../../src/auth/certificate/validation/x509.ts';
import {
  OIDS,
  createIntermediateCa,
  createLeaf,
  createRootCa,
  tamperSignature,
  type Issued,
  type LeafOptions,
} from '../../support/pki.ts';

const POLICY = '1.2.410.200004.5.2.1.2';

let root: Issued;
let intermediate: Issued;

// These tests are about the path, not revocation: no CRL/OCSP pointers, fail-open.
const validatorFor = (options: Partial<CertificateValidatorOptions> = {}) =>
  createCertificateValidator({
    trustAnchorsPem: root.pem,
    revocation: { failOpen: true, timeoutMs: 500 },
    ...options,
  });

const rejection = async (promise: Promise<unknown>): Promise<CertificateErrorReason> => {
  const error = await promise.then(
    () => expect.fail('expected a CertificateError'),
    (e: unknown) => e as { reason: CertificateErrorReason; code: string },
  );
  return error.reason;
};

beforeAll(async () => {
  root = await createRootCa();
  intermediate = await createIntermediateCa(root);
});

describe('createCertificateValidator', () => {
  it('accepts a valid chain and describes the certificate', async () => {
    const leaf = await createLeaf(intermediate, {
      commonName: 'Hong Gildong',
      subjectSerialNumber: 'KR-8001011234567',
      email: 'Gildong@Example.KR',
      otherName: { typeId: '1.2.410.200004.10.1.1', text: 'identify-data' },
      birthdate: '1980-01-01',
      policies: [POLICY],
    });
    const result = await validatorFor().validate(leaf.pem, [intermediate.pem]);
    expect(result).toMatchObject({
      serialNumber: leaf.cert.serialNumber.toLowerCase(),
      subject: leaf.cert.subject,
      issuer: intermediate.cert.subject,
      subjectSerialNumber: 'KR-8001011234567',
      commonName: 'Hong Gildong',
      name: 'Hong Gildong',
      sanEmails: ['Gildong@Example.KR'],
      sanOtherNames: [{ typeId: '1.2.410.200004.10.1.1', text: 'identify-data' }],
      birthdate: '1980-01-01',
      policies: [POLICY],
      trustAnchorSubject: root.cert.subject,
      revocation: 'unknown',
    });
    expect(result.fingerprintSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.chain.map((pem) => pem.trim())).toEqual(
      [leaf.pem, intermediate.pem, root.pem].map((pem) => pem.trim()),
    );
    expect(result.notAfter).toEqual(leaf.cert.notAfter);
  });

  it('accepts DER, base64 and intermediates in any order or with the root included', async () => {
    const leaf = await createLeaf(intermediate, { givenName: 'Gildong', surname: 'Hong' });
    const validator = validatorFor();
    await expect(validator.validate(leaf.der, [root.der, intermediate.der])).resolves.toMatchObject(
      { name: 'Gildong Hong' },
    );
    await expect(validator.validate(leaf.b64, [intermediate.b64])).resolves.toBeDefined();
  });

  it('fails closed when no revocation source exists and failOpen is false', async () => {
    const leaf = await createLeaf(intermediate);
    const validator = validatorFor({ revocation: { failOpen: false, timeoutMs: 500 } });
    expect(await rejection(validator.validate(leaf.pem, [intermediate.pem]))).toBe(
      'revocation_unavailable',
    );
  });

  it.each<[string, LeafOptions, CertificateErrorReason]>([
    ['expired leaf', { expired: true }, 'expired'],
    ['not yet valid leaf', { notYetValid: true }, 'not_yet_valid'],
    ['serverAuth-only EKU', { eku: [OIDS.serverAuth] }, 'wrong_usage'],
    [
      'keyUsage without digitalSignature',
      { keyUsage: KeyUsageFlags.keyEncipherment },
      'wrong_usage',
    ],
    [
      'unsupported critical extension',
      { extensions: [new Extension('1.2.3.4.5', true, new Uint8Array([5, 0]))] },
      'untrusted',
    ],
  ])('rejects a %s', async (_name, options, reason) => {
    const leaf = await createLeaf(intermediate, options);
    expect(await rejection(validatorFor().validate(leaf.pem, [intermediate.pem]))).toBe(reason);
  });

  it('accepts a leaf without keyUsage and extendedKeyUsage', async () => {
    const leaf = await createLeaf(intermediate, { eku: null, keyUsage: null });
    await expect(validatorFor().validate(leaf.pem, [intermediate.pem])).resolves.toBeDefined();
  });

  it('rejects an expired intermediate', async () => {
    const oldCa = await createIntermediateCa(root, { expired: true });
    const leaf = await createLeaf(oldCa);
    expect(await rejection(validatorFor().validate(leaf.pem, [oldCa.pem]))).toBe('expired');
  });

  it('rejects a chain that ends at an untrusted root, even when the client sends it', async () => {
    const otherRoot = await createRootCa({ name: 'CN=Evil Root, C=KR' });
    const otherCa = await createIntermediateCa(otherRoot);
    const leaf = await createLeaf(otherCa);
    expect(await rejection(validatorFor().validate(leaf.pem, [otherCa.pem, otherRoot.pem]))).toBe(
      'untrusted',
    );
  });

  it('rejects a look-alike root with the trusted root name', async () => {
    const fakeRoot = await createRootCa({ name: root.cert.subject });
    const fakeCa = await createIntermediateCa(fakeRoot);
    const leaf = await createLeaf(fakeCa);
    expect(await rejection(validatorFor().validate(leaf.pem, [fakeCa.pem, fakeRoot.pem]))).toBe(
      'untrusted',
    );
  });

  it('rejects a self-signed leaf', async () => {
    const selfSigned = await createRootCa({ name: 'CN=Hong Gildong, C=KR' });
    expect(await rejection(validatorFor().validate(selfSigned.pem, []))).toBe('untrusted');
  });

  it('rejects a tampered leaf signature', async () => {
    const leaf = await createLeaf(intermediate);
    expect(
      await rejection(validatorFor().validate(tamperSignature(leaf.der), [intermediate.der])),
    ).toBe('bad_signature');
  });

  it('reports a missing intermediate when the chain sent stops short', async () => {
    const subCa = await createIntermediateCa(intermediate, { name: 'CN=Sub CA, C=KR' });
    const leaf = await createLeaf(subCa);
    expect(await rejection(validatorFor().validate(leaf.pem, [subCa.pem]))).toBe(
      'missing_intermediate',
    );
  });

  it('calls a leaf sent alone whose issuer is no anchor untrusted, not "send the whole chain"', async () => {
    const otherCa = await createIntermediateCa(await createRootCa({ name: 'CN=Elsewhere, C=KR' }));
    expect(await rejection(validatorFor().validate((await createLeaf(otherCa)).pem, []))).toBe(
      'untrusted',
    );
    // The same for a genuine leaf whose intermediate the proxy did not forward: nothing sent
    // links it to an anchor (configure the intermediate as an anchor, or forward the chain).
    expect(await rejection(validatorFor().validate((await createLeaf(intermediate)).pem, []))).toBe(
      'untrusted',
    );
  });

  it('rejects an intermediate that is not a CA', async () => {
    const notCa = await createIntermediateCa(root, { name: 'CN=Not A CA, C=KR', ca: false });
    const leaf = await createLeaf(notCa);
    expect(await rejection(validatorFor().validate(leaf.pem, [notCa.pem]))).toBe('wrong_usage');
  });

  it('enforces pathLenConstraint', async () => {
    const strictRoot = await createRootCa({ name: 'CN=Strict Root, C=KR', pathLength: 0 });
    const ca = await createIntermediateCa(strictRoot);
    const leaf = await createLeaf(ca);
    const validator = validatorFor({ trustAnchorsPem: strictRoot.pem });
    expect(await rejection(validator.validate(leaf.pem, [ca.pem]))).toBe('wrong_usage');
  });

  it('requires one of the configured policy OIDs', async () => {
    const validator = validatorFor({ policyOids: [POLICY, '1.2.3.4'] });
    const good = await createLeaf(intermediate, { policies: ['2.5.29.32.0', POLICY] });
    await expect(validator.validate(good.pem, [intermediate.pem])).resolves.toMatchObject({
      policies: ['2.5.29.32.0', POLICY],
    });
    const other = await createLeaf(intermediate, { policies: ['1.2.3.5'] });
    expect(await rejection(validator.validate(other.pem, [intermediate.pem]))).toBe(
      'policy_mismatch',
    );
    const none = await createLeaf(intermediate);
    expect(await rejection(validator.validate(none.pem, [intermediate.pem]))).toBe(
      'policy_mismatch',
    );
  });

  it('rejects malformed input', async () => {
    const validator = validatorFor();
    expect(await rejection(validator.validate('not a certificate', []))).toBe('malformed');
    expect(
      await rejection(validator.validate(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]), [])),
    ).toBe('malformed');
    const leaf = await createLeaf(intermediate);
    expect(
      await rejection(validator.validate(Buffer.concat([leaf.der, Buffer.from([0])]), [])),
    ).toBe('malformed');
  });

  it('refuses a configuration without trust anchors', () => {
    expect(() =>
      createCertificateValidator({
        trustAnchorsPem: '',
        revocation: { failOpen: false, timeoutMs: 500 },
      }),
    ).toThrow(TypeError);
  });
});

describe('CertificateError', () => {
  it('carries a stable reason and code on the shared AppError base', async () => {
    const leaf = await createLeaf(intermediate, { expired: true });
    const error = await validatorFor()
      .validate(leaf.pem, [intermediate.pem])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CertificateError);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      reason: 'expired',
      code: 'ERR_CERT_EXPIRED',
      status: 401,
      expose: true,
    });
    expect(new CertificateError('revocation_unavailable', 'x')).toMatchObject({
      code: 'ERR_CERT_REVOCATION_UNAVAILABLE',
      status: 503,
      expose: false,
    });
  });
});
