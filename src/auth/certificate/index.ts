// Certificate login, domain core. Typical flow for the HTTP layer:
//   1. nonce = createChallengeNonce(); store it for the interaction.
//   2. { leafDer, intermediatesDer, nonce } = await verifySignedChallenge(jws, { audience: issuer })
//      (or, behind a proxy, isTrustedProxy + parseForwardedCertificate / parseForwardedChain).
//   3. consume the nonce from the store; unknown or used -> CertificateError('replayed').
//   4. cert = await validator.validate(leafDer, intermediatesDer).
//   5. key = certificateSubjectKey(cert, rule) -> find or link the account; audit cert.revocation.
export {
  CertificateError,
  CERTIFICATE_ERROR_REASONS,
  certificateErrorCode,
  isCertificateError,
} from './certificate-errors.ts';
export type { CertificateErrorCode, CertificateErrorReason } from './certificate-errors.ts';
export { createCertificateValidator } from './validation/chain-validator.ts';
export type {
  CertificateValidator,
  CertificateValidatorOptions,
} from './validation/chain-validator.ts';
export type { CertificateInput } from './validation/certificate-encoding.ts';
export type { SanOtherName } from './validation/certificate-extensions.ts';
export type { RevocationOptions, RevocationStatus } from './revocation/revocation-checker.ts';
export type { ValidatedCertificate } from './validation/validated-certificate.ts';
export {
  CHALLENGE_ALGORITHMS,
  CHALLENGE_TYP,
  MAX_CHALLENGE_LIFETIME_S,
  createChallengeNonce,
  verifySignedChallenge,
} from './signed-challenge.ts';
export type {
  ChallengeAlgorithm,
  SignedChallengeOptions,
  VerifiedChallenge,
} from './signed-challenge.ts';
export { parseForwardedCertificate, parseForwardedChain } from './forwarded-certificate.ts';
export type { ForwardedCertificateFormat, HeaderValues } from './forwarded-certificate.ts';
export { isTrustedProxy } from './trusted-proxy.ts';
export { certificateSubjectKey } from './certificate-mapping.ts';
export type { CertificateMappingRule } from './certificate-mapping.ts';
export {
  createCertificateLoginService,
  certificateAmr,
  CHALLENGE_TTL_SECONDS,
  TLS_TICKET_TTL_SECONDS,
} from './certificate-login-service.ts';
export type {
  CertificateLoginService,
  CertificateMethod,
  CertificateOutcome,
  PendingEnrolment,
} from './certificate-login-service.ts';
export {
  createRecoveryService,
  certificateLabel,
  CERTIFICATE_LABEL_MAX,
} from './recovery/recovery-service.ts';
export type { RecoveryService } from './recovery/recovery-service.ts';
export { createCertificateLinkService } from './certificate-link-service.ts';
export type { CertificateLinkService, LinkOutcome } from './certificate-link-service.ts';
export type { LinkedCertificate } from './certificate-repo.ts';
export { createCertificateModule } from './certificate-module.ts';
export type { CertificateModule } from './certificate-module.ts';
export {
  certificateSubjectMatches,
  createClientCertificateAuthority,
} from './client-certificate-authority.ts';
export type { ClientCertificateAuthority, SubjectField } from './client-certificate-authority.ts';
