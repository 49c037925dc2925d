// Typed errors of certificate login. `reason` is stable and safe to show or audit;
// `message` is for logs and may name certificates, URLs and low-level causes.

export const CERTIFICATE_ERROR_REASONS = [
  'expired',
  'not_yet_valid',
  'revoked',
  'untrusted',
  'missing_intermediate',
  'bad_signature',
  'wrong_usage',
  'policy_mismatch',
  'revocation_unavailable',
  'malformed',
  'no_proof',
  'replayed',
  'challenge_expired',
] as const;

export type CertificateErrorReason = (typeof CERTIFICATE_ERROR_REASONS)[number];

/** `expired` -> `ERR_CERT_EXPIRED`, `no_proof` -> `ERR_CERT_NO_PROOF`. */
export type CertificateErrorCode = `ERR_CERT_${Uppercase<CertificateErrorReason>}`;

// revocation_unavailable is our dependency failing (the CA's CRL/OCSP service),
// not the citizen's fault: 503 so the HTTP layer shows "try again later".
const statusOf = (reason: CertificateErrorReason): number =>
  reason === 'revocation_unavailable' ? 503 : 401;

export const certificateErrorCode = (reason: CertificateErrorReason): CertificateErrorCode =>
  `ERR_CERT_${reason.toUpperCase()}` as CertificateErrorCode;

export class CertificateError extends Error {
  override readonly name = 'CertificateError';
  readonly reason: CertificateErrorReason;
  readonly code: CertificateErrorCode;
  readonly status: number;
  readonly expose: boolean;

  constructor(reason: CertificateErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
    this.code = certificateErrorCode(reason);
    this.status = statusOf(reason);
    this.expose = this.status < 500;
  }
}

export const isCertificateError = (error: unknown, reason?: CertificateErrorReason): error is CertificateError =>
  error instanceof CertificateError && (reason === undefined || error.reason === reason);
