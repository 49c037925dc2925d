import { beforeAll, describe, expect, it } from 'vitest';
import {
  isTrustedProxy,
  parseForwardedCertificate,
  parseForwardedChain,
  type CertificateErrorReason,
} from '../../../src/auth/certificate/index.ts';
import { createIntermediateCa, createLeaf, createRootCa, type Issued } from '../../support/pki.ts';

let intermediate: Issued;
let leaf: Issued;

const reasonOf = (fn: () => unknown): CertificateErrorReason | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { reason?: CertificateErrorReason }).reason;
  }
};

beforeAll(async () => {
  intermediate = await createIntermediateCa(await createRootCa());
  leaf = await createLeaf(intermediate);
});

describe('parseForwardedCertificate (nginx $ssl_client_escaped_cert)', () => {
  it('decodes the URL-encoded PEM to DER', () => {
    const header = encodeURIComponent(leaf.pem);
    expect(parseForwardedCertificate(header, 'nginx-escaped')?.equals(leaf.der)).toBe(true);
    expect(parseForwardedCertificate([header], 'nginx-escaped')?.equals(leaf.der)).toBe(true);
  });

  it('returns null when no certificate was presented', () => {
    expect(parseForwardedCertificate(undefined, 'nginx-escaped')).toBeNull();
    expect(parseForwardedCertificate('', 'nginx-escaped')).toBeNull();
    expect(parseForwardedCertificate([], 'nginx-escaped')).toBeNull();
  });

  it('rejects duplicates and garbage', () => {
    const header = encodeURIComponent(leaf.pem);
    expect(reasonOf(() => parseForwardedCertificate([header, header], 'nginx-escaped'))).toBe(
      'malformed',
    );
    expect(reasonOf(() => parseForwardedCertificate(`${header}, ${header}`, 'nginx-escaped'))).toBe(
      'malformed',
    );
    expect(reasonOf(() => parseForwardedCertificate('%E0%A4%A', 'nginx-escaped'))).toBe(
      'malformed',
    );
    expect(reasonOf(() => parseForwardedCertificate('hello', 'nginx-escaped'))).toBe('malformed');
  });
});

describe('parseForwardedCertificate (RFC 9440 Client-Cert)', () => {
  it('decodes a structured-field byte sequence', () => {
    expect(parseForwardedCertificate(`:${leaf.b64}:`, 'rfc9440')?.equals(leaf.der)).toBe(true);
    expect(parseForwardedCertificate(`  :${leaf.b64}:  `, 'rfc9440')?.equals(leaf.der)).toBe(true);
  });

  it('rejects a repeated header, whether as an array or joined with a comma', () => {
    const value = `:${leaf.b64}:`;
    expect(reasonOf(() => parseForwardedCertificate([value, value], 'rfc9440'))).toBe('malformed');
    expect(reasonOf(() => parseForwardedCertificate(`${value}, ${value}`, 'rfc9440'))).toBe(
      'malformed',
    );
  });

  it('rejects values that are not byte sequences', () => {
    expect(reasonOf(() => parseForwardedCertificate(leaf.b64, 'rfc9440'))).toBe('malformed');
    expect(reasonOf(() => parseForwardedCertificate('::', 'rfc9440'))).toBe('malformed');
    expect(reasonOf(() => parseForwardedCertificate(`:${leaf.b64}:;x=1`, 'rfc9440'))).toBe(
      'malformed',
    );
    expect(reasonOf(() => parseForwardedCertificate(':ab$d:', 'rfc9440'))).toBe('malformed');
  });
});

describe('parseForwardedChain (RFC 9440 Client-Cert-Chain)', () => {
  it('decodes a list, also split across header lines', () => {
    const chain = parseForwardedChain(`:${intermediate.b64}:, :${leaf.b64}:`);
    expect(chain.map((der) => der.toString('base64'))).toEqual([intermediate.b64, leaf.b64]);
    const split = parseForwardedChain([`:${intermediate.b64}:`, `:${leaf.b64}:`]);
    expect(split).toHaveLength(2);
    expect(parseForwardedChain(undefined)).toEqual([]);
  });

  it('rejects bad members', () => {
    expect(reasonOf(() => parseForwardedChain(`:${leaf.b64}:, nope`))).toBe('malformed');
    expect(reasonOf(() => parseForwardedChain(Array(9).fill(`:${leaf.b64}:`)))).toBe('malformed');
  });
});

describe('isTrustedProxy', () => {
  it.each([
    ['10.0.0.5', ['10.0.0.5'], true],
    ['10.0.0.6', ['10.0.0.5'], false],
    ['10.20.30.40', ['10.0.0.0/8'], true],
    ['11.0.0.1', ['10.0.0.0/8'], false],
    ['192.168.1.130', ['192.168.1.128/25'], true],
    ['192.168.1.127', ['192.168.1.128/25'], false],
    ['::ffff:127.0.0.1', ['127.0.0.1'], true],
    ['::ffff:10.1.2.3', ['10.0.0.0/8'], true],
    ['127.0.0.1', ['::ffff:127.0.0.0/104'], true],
    ['::1', ['::1'], true],
    ['::1', ['127.0.0.1'], false],
    ['2001:db8:abcd::17', ['2001:db8::/32'], true],
    ['2001:db9::1', ['2001:db8::/32'], false],
    ['fe80::1%eth0', ['fe80::/10'], true],
    ['0.0.0.0', ['0.0.0.0/0'], true],
    ['not-an-ip', ['0.0.0.0/0'], false],
    ['10.0.0.5', [], false],
  ] as Array<[string, string[], boolean]>)('%s in %j -> %s', (address, proxies, expected) => {
    expect(isTrustedProxy(address, proxies)).toBe(expected);
  });

  it('throws on a malformed configuration entry', () => {
    expect(() => isTrustedProxy('10.0.0.1', ['10.0.0.0/33'])).toThrow(TypeError);
    expect(() => isTrustedProxy('10.0.0.1', ['proxy.internal'])).toThrow(TypeError);
  });
});
