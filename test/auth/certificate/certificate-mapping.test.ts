import { beforeAll, describe, expect, it } from 'vitest';
import {
  certificateSubjectKey,
  createCertificateValidator,
  type CertificateErrorReason,
  type CertificateValidator,
  type ValidatedCertificate,
} from '../../../src/auth/certificate/index.ts';
import {
  createIntermediateCa,
  createLeaf,
  createRootCa,
  type Issued,
  type LeafOptions,
} from '../../support/pki.ts';

let root: Issued;
let intermediate: Issued;
let validator: CertificateValidator;

const validated = async (
  options: LeafOptions,
  issuer: Issued = intermediate,
): Promise<ValidatedCertificate> =>
  validator.validate((await createLeaf(issuer, options)).pem, [issuer.pem]);

const reasonOf = (fn: () => unknown): CertificateErrorReason | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { reason?: CertificateErrorReason }).reason;
  }
};

beforeAll(async () => {
  root = await createRootCa();
  intermediate = await createIntermediateCa(root);
  validator = createCertificateValidator({
    trustAnchorsPem: root.pem,
    revocation: { failOpen: true, timeoutMs: 500 },
  });
});

describe('certificateSubjectKey', () => {
  it('maps a renewed certificate of the same holder to the same subject-serial key', async () => {
    const original = await validated({ subjectSerialNumber: 'KR-1001', email: 'hong@example.kr' });
    // Renewal: new key pair, new serial, even a new issuing CA in the same hierarchy.
    const newCa = await createIntermediateCa(root, { name: 'CN=One-ID Test Citizen CA 2, C=KR' });
    const renewed = await validated(
      { subjectSerialNumber: 'KR-1001', email: 'Hong@Example.KR' },
      newCa,
    );
    expect(renewed.serialNumber).not.toBe(original.serialNumber);
    expect(renewed.fingerprintSha256).not.toBe(original.fingerprintSha256);

    expect(certificateSubjectKey(renewed, 'subject-serial')).toBe(
      certificateSubjectKey(original, 'subject-serial'),
    );
    expect(certificateSubjectKey(original, 'subject-serial')).toMatch(
      /^subject-serial:[0-9a-f]{16}:KR-1001$/,
    );
    expect(certificateSubjectKey(renewed, 'san-email')).toMatch(
      /^san-email:[0-9a-f]{16}:hong@example\.kr$/,
    );
    expect(certificateSubjectKey(renewed, 'san-email')).toBe(
      certificateSubjectKey(original, 'san-email'),
    );
    expect(certificateSubjectKey(renewed, 'issuer-serial')).not.toBe(
      certificateSubjectKey(original, 'issuer-serial'),
    );
    expect(certificateSubjectKey(original, 'issuer-serial')).toBe(
      `issuer-serial:${original.serialNumber}:${original.issuer}`,
    );
  });

  it('gives another person another key', async () => {
    const hong = await validated({ subjectSerialNumber: 'KR-1001', email: 'hong@example.kr' });
    const kim = await validated({
      commonName: 'Kim Cheolsu',
      subjectSerialNumber: 'KR-1002',
      email: 'kim@example.kr',
    });
    for (const rule of ['subject-serial', 'san-email', 'issuer-serial'] as const) {
      expect(certificateSubjectKey(kim, rule)).not.toBe(certificateSubjectKey(hong, rule));
    }
  });

  it('scopes subject serial numbers and emails to the trust hierarchy', async () => {
    const otherRoot = await createRootCa({ name: 'CN=Other National Root, C=KR' });
    const otherCa = await createIntermediateCa(otherRoot, { name: 'CN=Other Citizen CA, C=KR' });
    const otherValidator = createCertificateValidator({
      trustAnchorsPem: `${root.pem}\n${otherRoot.pem}`,
      revocation: { failOpen: true, timeoutMs: 500 },
    });
    const a = await otherValidator.validate(
      (await createLeaf(intermediate, { subjectSerialNumber: 'KR-1001', email: 'hong@example.kr' }))
        .pem,
      [intermediate.pem],
    );
    const b = await otherValidator.validate(
      (await createLeaf(otherCa, { subjectSerialNumber: 'KR-1001', email: 'hong@example.kr' })).pem,
      [otherCa.pem],
    );
    expect(certificateSubjectKey(a, 'subject-serial')).not.toBe(
      certificateSubjectKey(b, 'subject-serial'),
    );
    expect(certificateSubjectKey(a, 'san-email')).not.toBe(certificateSubjectKey(b, 'san-email'));
  });

  it('rejects a certificate without the attribute the rule needs', async () => {
    const bare = await validated({});
    expect(reasonOf(() => certificateSubjectKey(bare, 'subject-serial'))).toBe('malformed');
    expect(reasonOf(() => certificateSubjectKey(bare, 'san-email'))).toBe('malformed');
    expect(certificateSubjectKey(bare, 'issuer-serial')).toMatch(/^issuer-serial:/);
  });
});
