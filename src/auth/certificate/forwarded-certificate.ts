// Client certificates forwarded by a TLS-terminating reverse proxy. Only call these
// after the HTTP layer established (isTrustedProxy) that the request came from the
// proxy: anyone else can set these headers. Results are DER for the validator.
import { CertificateError } from './certificate-errors.ts';
import { certificateToDer, decodeBase64Strict } from './validation/certificate-encoding.ts';

/** 'nginx-escaped': $ssl_client_escaped_cert (URL-encoded PEM).
 *  'rfc9440': Client-Cert, a structured-field byte sequence `:BASE64DER:`. */
export type ForwardedCertificateFormat = 'nginx-escaped' | 'rfc9440';

export type HeaderValues = string[] | string | undefined;

const MAX_CHAIN = 8;
const BYTE_SEQUENCE = /^:([A-Za-z0-9+/]*={0,2}):$/;

const malformed = (message: string, cause?: unknown): CertificateError =>
  new CertificateError('malformed', message, cause === undefined ? undefined : { cause });

// RFC 8941 3.3.5 byte sequence; parameters are not defined for Client-Cert and rejected.
const parseByteSequence = (item: string): Buffer => {
  const body = BYTE_SEQUENCE.exec(item.trim())?.[1] ?? '';
  // RFC 8941 senders pad; tolerate a sender that does not.
  const padded = body.includes('=') ? body : body + '='.repeat((4 - (body.length % 4)) % 4);
  const der = decodeBase64Strict(padded);
  if (!der) throw malformed('forwarded certificate is not a structured-field byte sequence');
  return der;
};

/**
 * The single forwarded certificate as DER, or null when the proxy sent none.
 * Throws CertificateError('malformed') when the header occurs more than once or
 * cannot be decoded: a duplicate may be a client-injected header the proxy appended to.
 */
export const parseForwardedCertificate = (
  values: HeaderValues,
  format: ForwardedCertificateFormat,
): Buffer | null => {
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  if (list.length > 1) throw malformed('forwarded certificate header occurs more than once');
  const value = (list[0] ?? '').trim();
  // nginx sends an empty value when the client presented no certificate.
  if (value === '') return null;
  // Node joins repeated headers with ", "; neither format contains a comma itself.
  if (value.includes(',')) throw malformed('forwarded certificate header occurs more than once');
  if (format === 'rfc9440') return certificateToDer(parseByteSequence(value));
  if (format !== 'nginx-escaped')
    throw new TypeError(`unknown forwarded certificate format ${String(format)}`);
  let pem: string;
  try {
    pem = decodeURIComponent(value);
  } catch (cause) {
    throw malformed('forwarded certificate is not URL-encoded', cause);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw malformed('forwarded certificate is not a PEM certificate');
  return certificateToDer(pem);
};

/**
 * RFC 9440 Client-Cert-Chain: a list of byte sequences (header lines may be split,
 * so repeated headers are joined). Returns DER certificates, [] when absent.
 */
export const parseForwardedChain = (values: HeaderValues): Buffer[] => {
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  const items = list
    .join(',')
    .split(',')
    .map((item) => item.trim());
  if (items.length === 1 && items[0] === '') return [];
  if (items.length > MAX_CHAIN)
    throw malformed(`forwarded chain holds more than ${MAX_CHAIN} certificates`);
  return items.map((item) => certificateToDer(parseByteSequence(item)));
};
