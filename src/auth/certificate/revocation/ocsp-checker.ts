// OCSP revocation check (RFC 6960, POST binding of Appendix A.1): build the request,
// verify the response was signed by the issuer or by a responder the issuer
// delegated with id-kp-OCSPSigning, and read the status of our certificate.
import { createHash, randomBytes } from 'node:crypto';
import {
  BasicOCSPResponse,
  CertID,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  TBSRequest,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
  type ResponderID,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, Extension } from '@peculiar/asn1-x509';
import { isSignedBy } from '../validation/chain-builder.ts';
import { CertificateError } from '../certificate-errors.ts';
import { OID, readExtendedKeyUsage } from '../validation/certificate-extensions.ts';
import { REVOCATION_CLOCK_SKEW_MS } from './crl-checker.ts';
import { certificateRawParts } from '../validation/der-reader.ts';
import { fetchBytes } from './revocation-fetch.ts';
import { verifyAsnSignature } from '../validation/signature-verifier.ts';
import { Name, X509Certificate } from '../validation/x509.ts';
import { certificateLabel } from '../certificate-label.ts';

const MAX_OCSP_BYTES = 1024 * 1024;
/** A response without nextUpdate is only trusted this long after its thisUpdate. */
const MAX_AGE_WITHOUT_NEXT_UPDATE_MS = 60 * 60_000;

const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
// RFC 5019 2.1.1: SHA-1 CertIDs are what deployed responders index by.
const REQUEST_HASH = '1.3.14.3.2.26';

export interface OcspCheckerDeps {
  fetch: typeof fetch;
  timeoutMs: number;
  now: () => Date;
}

const digest = (oid: string, data: Uint8Array): Buffer => {
  const name = HASHES[oid];
  if (!name) throw new Error(`unsupported CertID hash ${oid}`);
  return createHash(name).update(data).digest();
};

const stripZeros = (bytes: ArrayBuffer | Uint8Array): Buffer => {
  const buffer = Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  let start = 0;
  while (start < buffer.length - 1 && buffer[start] === 0) start += 1;
  return buffer.subarray(start);
};

const serialBytes = (cert: X509Certificate): ArrayBuffer =>
  AsnConvert.parse(cert.rawData, Certificate).tbsCertificate.serialNumber;

/** CertID per RFC 6960 4.1.1: hash of the issuer name as it appears in the checked
 * certificate, hash of the issuer's public key bits, and the serial number. */
export const buildCertId = (
  cert: X509Certificate,
  issuer: X509Certificate,
  hashOid = REQUEST_HASH,
): CertID =>
  new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: hashOid, parameters: null }),
    issuerNameHash: new OctetString(
      digest(hashOid, certificateRawParts(new Uint8Array(cert.rawData)).issuer),
    ),
    issuerKeyHash: new OctetString(
      digest(hashOid, certificateRawParts(new Uint8Array(issuer.rawData)).publicKeyBits),
    ),
    serialNumber: serialBytes(cert),
  });

const sameCertId = (a: CertID, b: CertID): boolean =>
  Buffer.from(a.issuerNameHash.buffer).equals(Buffer.from(b.issuerNameHash.buffer)) &&
  Buffer.from(a.issuerKeyHash.buffer).equals(Buffer.from(b.issuerKeyHash.buffer)) &&
  stripZeros(a.serialNumber).equals(stripZeros(b.serialNumber));

/** DER OCSPRequest for one certificate with a fresh nonce (RFC 8954). */
export const buildOcspRequest = (
  cert: X509Certificate,
  issuer: X509Certificate,
): { der: Uint8Array<ArrayBuffer>; nonce: Buffer } => {
  const nonce = randomBytes(32);
  const request = new OCSPRequest({
    tbsRequest: new TBSRequest({
      requestList: [new Request({ reqCert: buildCertId(cert, issuer) })],
      requestExtensions: [
        new Extension({
          extnID: id_pkix_ocsp_nonce,
          critical: false,
          extnValue: new OctetString(AsnConvert.serialize(new OctetString(nonce))),
        }),
      ],
    }),
  });
  return { der: new Uint8Array(AsnConvert.serialize(request)), nonce };
};

const responderIs = (responderId: ResponderID, cert: X509Certificate): boolean => {
  if (responderId.byName)
    return new Name(AsnConvert.serialize(responderId.byName)).toString() === cert.subject;
  if (responderId.byKey) {
    const keyHash = digest(
      REQUEST_HASH,
      certificateRawParts(new Uint8Array(cert.rawData)).publicKeyBits,
    );
    return Buffer.from(responderId.byKey.buffer).equals(keyHash);
  }
  return false;
};

export const createOcspChecker = ({ fetch, timeoutMs, now }: OcspCheckerDeps) => {
  const unavailable = (url: string, detail: string, cause?: unknown): CertificateError =>
    new CertificateError('revocation_unavailable', `OCSP ${url}: ${detail}`, { cause });

  // RFC 6960 4.2.2.2: the issuer itself, or a certificate it issued for OCSP signing.
  const findSigner = async (
    basic: BasicOCSPResponse,
    issuer: X509Certificate,
    at: Date,
  ): Promise<X509Certificate | undefined> => {
    const responderId = basic.tbsResponseData.responderID;
    if (responderIs(responderId, issuer)) return issuer;
    for (const asn of basic.certs ?? []) {
      const candidate = new X509Certificate(AsnConvert.serialize(asn));
      if (!responderIs(responderId, candidate) || candidate.issuer !== issuer.subject) continue;
      if (!(readExtendedKeyUsage(candidate) ?? []).includes(OID.ocspSigning)) continue;
      if (at < candidate.notBefore || at > candidate.notAfter) continue;
      if (await isSignedBy(candidate, issuer)) return candidate;
    }
    return undefined;
  };

  return {
    /** 'good' or throws CertificateError: `revoked`, or `revocation_unavailable` (including status unknown). */
    async check(cert: X509Certificate, issuer: X509Certificate, url: string): Promise<'good'> {
      const request = buildOcspRequest(cert, issuer);
      const body = await fetchBytes(url, {
        fetch,
        timeoutMs,
        maxBytes: MAX_OCSP_BYTES,
        init: {
          method: 'POST',
          headers: {
            'content-type': 'application/ocsp-request',
            accept: 'application/ocsp-response',
          },
          body: request.der,
        },
      });
      const at = now();
      let basic: BasicOCSPResponse;
      try {
        const response = AsnConvert.parse(body, OCSPResponse);
        if (response.responseStatus !== OCSPResponseStatus.successful) {
          throw unavailable(
            url,
            `responder status ${OCSPResponseStatus[response.responseStatus] ?? response.responseStatus}`,
          );
        }
        if (response.responseBytes?.responseType !== id_pkix_ocsp_basic)
          throw unavailable(url, 'not a basic OCSP response');
        basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse);
      } catch (cause) {
        throw cause instanceof CertificateError
          ? cause
          : unavailable(url, 'undecodable response', cause);
      }

      const signer = await findSigner(basic, issuer, at);
      if (!signer)
        throw unavailable(url, 'signed by neither the issuer nor a delegated OCSP responder');
      const tbs = basic.tbsResponseDataRaw;
      if (
        !tbs ||
        !(await verifyAsnSignature(
          signer.publicKey,
          basic.signatureAlgorithm,
          basic.signature,
          tbs,
        ))
      ) {
        throw unavailable(url, 'response signature does not verify');
      }

      const data = basic.tbsResponseData;
      const nonce = data.responseExtensions?.find((ext) => ext.extnID === id_pkix_ocsp_nonce);
      if (nonce) {
        // Some responders echo the bare nonce instead of the DER OCTET STRING.
        const echoed = Buffer.from(nonce.extnValue.buffer);
        const expected = Buffer.from(AsnConvert.serialize(new OctetString(request.nonce)));
        if (!echoed.equals(expected) && !echoed.equals(request.nonce))
          throw unavailable(url, 'nonce mismatch');
      }

      const single = data.responses.find((candidate) => {
        const oid = candidate.certID.hashAlgorithm.algorithm;
        return (
          HASHES[oid] !== undefined && sameCertId(candidate.certID, buildCertId(cert, issuer, oid))
        );
      });
      if (!single) throw unavailable(url, 'response does not cover this certificate');
      if (single.thisUpdate.getTime() > at.getTime() + REVOCATION_CLOCK_SKEW_MS)
        throw unavailable(url, 'thisUpdate is in the future');
      const freshUntil =
        single.nextUpdate?.getTime() ??
        single.thisUpdate.getTime() + MAX_AGE_WITHOUT_NEXT_UPDATE_MS;
      if (freshUntil < at.getTime() - REVOCATION_CLOCK_SKEW_MS)
        throw unavailable(url, 'response is stale');

      if (single.certStatus.revoked) {
        const when = single.certStatus.revoked.revocationTime.toISOString();
        throw new CertificateError(
          'revoked',
          `${certificateLabel(cert)} revoked at ${when} per OCSP ${url}`,
        );
      }
      if (single.certStatus.good === null) return 'good';
      throw unavailable(url, 'responder does not know the certificate');
    },
  };
};

export type OcspChecker = ReturnType<typeof createOcspChecker>;
