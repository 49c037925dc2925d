// Certification path building (RFC 5280 6, RFC 4158 simplified): from the leaf up
// through the intermediates the client supplied to one of the configured anchors.
// Only anchors are trusted; a self-signed certificate sent by the client is not.
import { CertificateError } from '../certificate-errors.ts';
import type { X509Certificate } from './x509.ts';
import { certificateLabel } from '../certificate-label.ts';

/** Longest path accepted, leaf and anchor included; bounds work on hostile input. */
export const MAX_PATH_LENGTH = 8;

const sameDer = (a: X509Certificate, b: X509Certificate): boolean =>
  Buffer.from(a.rawData).equals(Buffer.from(b.rawData));

/** Signature check only (validity dates are checked separately); false on any error. */
export const isSignedBy = async (
  cert: X509Certificate,
  issuer: X509Certificate,
): Promise<boolean> => {
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
};

const isSelfSigned = async (cert: X509Certificate): Promise<boolean> =>
  cert.subject === cert.issuer && (await isSignedBy(cert, cert));

const firstSigner = async (
  cert: X509Certificate,
  candidates: X509Certificate[],
): Promise<X509Certificate | undefined> => {
  for (const candidate of candidates) if (await isSignedBy(cert, candidate)) return candidate;
  return undefined;
};

/**
 * Returns the path [leaf, ...intermediates, anchor]. Throws CertificateError:
 * `untrusted` (ends in a self-signed certificate that is not an anchor, or a leaf sent
 * without any chain whose issuer is no anchor),
 * `missing_intermediate` (a chain was sent, but no certificate named as the issuer),
 * `bad_signature` (issuer candidates exist but none verifies the signature).
 */
export const buildCertificatePath = async (
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
): Promise<X509Certificate[]> => {
  const path = [leaf];
  for (let current = leaf; ;) {
    if (anchors.some((anchor) => sameDer(anchor, current))) return path;
    if (path.length >= MAX_PATH_LENGTH) {
      throw new CertificateError(
        'untrusted',
        `no trust anchor within ${MAX_PATH_LENGTH} certificates`,
      );
    }
    const namedAnchors = anchors.filter((anchor) => anchor.subject === current.issuer);
    const anchor = await firstSigner(current, namedAnchors);
    if (anchor) return [...path, anchor];
    if (await isSelfSigned(current)) {
      throw new CertificateError(
        'untrusted',
        `self-signed ${certificateLabel(current)} is not a trust anchor`,
      );
    }
    const named = intermediates.filter(
      (candidate) =>
        candidate.subject === current.issuer && !path.some((used) => sameDer(used, candidate)),
    );
    const issuer = await firstSigner(current, named);
    if (!issuer) {
      if (namedAnchors.length + named.length > 0) {
        throw new CertificateError(
          'bad_signature',
          `signature of ${certificateLabel(current)} does not verify with its issuer`,
        );
      }
      // A leaf that came alone (a proxy forwarding only the leaf, or a rogue certificate) whose
      // issuer is no anchor: nothing links it to a trusted authority. "Send the whole chain"
      // fits only a chain that was sent and stops short.
      if (!intermediates.length) {
        throw new CertificateError(
          'untrusted',
          `issuer "${current.issuer}" of "${current.subject}" is not a trust anchor and no chain was supplied`,
        );
      }
      throw new CertificateError(
        'missing_intermediate',
        `the issuer of ${certificateLabel(current)} was not supplied and is not a trust anchor`,
      );
    }
    path.push(issuer);
    current = issuer;
  }
};
