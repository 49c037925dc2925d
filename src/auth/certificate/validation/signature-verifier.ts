// Verifies an ASN.1 signature (AlgorithmIdentifier + BIT STRING value) over raw bytes,
// the same way @peculiar/x509 verifies certificates and CRLs. Used for OCSP responses.
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import {
  AlgorithmProvider,
  AsnDefaultSignatureFormatter,
  AsnEcSignatureFormatter,
  type PublicKey,
} from './x509.ts';

/** false on any failure (unknown algorithm, key mismatch, undecodable signature). */
export const verifyAsnSignature = async (
  publicKey: PublicKey,
  algorithm: AlgorithmIdentifier,
  signature: ArrayBuffer,
  data: BufferSource,
): Promise<boolean> => {
  try {
    const signatureAlgorithm = new AlgorithmProvider().toWebAlgorithm(algorithm);
    const keyAlgorithm = { ...publicKey.algorithm, ...signatureAlgorithm };
    const key = await publicKey.export(keyAlgorithm, ['verify']);
    // ECDSA: X.509 carries DER (r, s); WebCrypto wants the raw r||s concatenation.
    const webSignature =
      new AsnEcSignatureFormatter().toWebSignature(keyAlgorithm, signature) ??
      new AsnDefaultSignatureFormatter().toWebSignature(keyAlgorithm, signature);
    return (
      webSignature !== null &&
      (await crypto.subtle.verify(signatureAlgorithm, key, webSignature, data))
    );
  } catch {
    return false;
  }
};
