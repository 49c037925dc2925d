// Minimal DER walker: OCSP CertID hashes need the exact bytes of the issuer's
// subject Name and key (RFC 6960 4.1.1), not a re-encoding of a parsed object.

export interface Tlv {
  tag: number;
  start: number;
  valueStart: number;
  end: number;
}

export const readTlv = (der: Uint8Array, offset: number): Tlv => {
  if (offset + 2 > der.length) throw new RangeError('DER: truncated header');
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new RangeError('DER: multi-byte tags are not supported');
  let length = der[offset + 1]!;
  let valueStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // DER forbids the indefinite form (0x80); 4 length bytes is far beyond any certificate.
    if (count === 0 || count > 4) throw new RangeError('DER: unsupported length form');
    if (valueStart + count > der.length) throw new RangeError('DER: truncated length');
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + der[valueStart + i]!;
    valueStart += count;
  }
  const end = valueStart + length;
  if (end > der.length) throw new RangeError('DER: value runs past the end');
  return { tag, start: offset, valueStart, end };
};

export const readChildren = (der: Uint8Array, parent: Tlv): Tlv[] => {
  const children: Tlv[] = [];
  for (let offset = parent.valueStart; offset < parent.end;) {
    const child = readTlv(der, offset);
    children.push(child);
    offset = child.end;
  }
  return children;
};

/** True when `der` is exactly one DER element (no trailing bytes). */
export const isSingleElement = (der: Uint8Array): boolean => {
  try {
    return readTlv(der, 0).end === der.length;
  } catch {
    return false;
  }
};

export interface CertificateRawParts {
  issuer: Uint8Array;
  subject: Uint8Array;
  /** subjectPublicKey BIT STRING contents without the unused-bits byte. */
  publicKeyBits: Uint8Array;
}

// RFC 5280 4.1: TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
// signature, issuer, validity, subject, subjectPublicKeyInfo, ... }
export const certificateRawParts = (der: Uint8Array): CertificateRawParts => {
  const tbs = readChildren(der, readTlv(der, 0))[0];
  if (!tbs) throw new RangeError('DER: certificate has no TBSCertificate');
  const fields = readChildren(der, tbs);
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const issuer = fields[base + 2];
  const subject = fields[base + 4];
  const spki = fields[base + 5];
  if (!issuer || !subject || !spki) throw new RangeError('DER: TBSCertificate is incomplete');
  const keyBits = readChildren(der, spki)[1];
  if (!keyBits || keyBits.tag !== 0x03)
    throw new RangeError('DER: subjectPublicKey is not a BIT STRING');
  return {
    issuer: der.subarray(issuer.start, issuer.end),
    subject: der.subarray(subject.start, subject.end),
    publicKeyBits: der.subarray(keyBits.valueStart + 1, keyBits.end),
  };
};
