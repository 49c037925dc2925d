// Typed errors of certificate login. `reason` is stable and safe to show or audit;
// `message` is for logs and may name certificates, URLs and low-level causes.
import { AppError } from '../../shared/index.ts';

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

export class CertificateError extends AppError {
  override readonly name = 'CertificateError';
  declare readonly code: CertificateErrorCode;
  readonly reason: CertificateErrorReason;
  /**
   * Whether the certificate's own key made the refused proof (a signed challenge whose signature
   * verified with the x5c leaf's key). Only such failures may count against the certificate: a
   * stranger can name anyone's public certificate in x5c (src/http/rate-limit/guards.ts).
   */
  keyProven: boolean;

  constructor(
    reason: CertificateErrorReason,
    message: string,
    options: { cause?: unknown; keyProven?: boolean } = {},
  ) {
    super(certificateErrorCode(reason), message, {
      status: statusOf(reason),
      cause: options.cause,
      details: { reason },
    });
    this.reason = reason;
    this.keyProven = options.keyProven ?? false;
  }
}

export const isCertificateError = (
  error: unknown,
  reason?: CertificateErrorReason,
): error is CertificateError =>
  error instanceof CertificateError && (reason === undefined || error.reason === reason);
