// The closed set of error codes (STYLE.md convention 3): AppError's `code` is typed by it, so a
// misspelt code fails the type check. The strings are stable API: tests, message keys
// (src/http/render/messages.ts `err.<code>`), problem+json bodies and docs use them.
export const ErrorCode = {
  // Any request (src/http): the error middleware, body parsing, CSRF, issuer origin.
  BadRequest: 'ERR_BAD_REQUEST',
  BadBody: 'ERR_BAD_BODY',
  BadParameter: 'ERR_BAD_PARAMETER',
  UnsupportedMediaType: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  Csrf: 'ERR_CSRF',
  NotFound: 'ERR_NOT_FOUND',
  HttpsRequired: 'ERR_HTTPS_REQUIRED',
  MisdirectedRequest: 'ERR_MISDIRECTED_REQUEST',
  RateLimited: 'ERR_RATE_LIMITED',
  Unavailable: 'ERR_UNAVAILABLE',
  Internal: 'ERR_INTERNAL',
  SecretKeyUnknown: 'ERR_SECRET_KEY_UNKNOWN',

  // Sign-in and the citizen's account pages.
  InteractionExpired: 'ERR_INTERACTION_EXPIRED',
  SignInNotCompleted: 'ERR_SIGN_IN_NOT_COMPLETED',
  AccountDisabled: 'ERR_ACCOUNT_DISABLED',
  InvalidCitizen: 'ERR_INVALID_CITIZEN',
  ConsentRequired: 'ERR_CONSENT_REQUIRED',
  LastSignInMethod: 'ERR_LAST_SIGN_IN_METHOD',
  RecoverySignInRequired: 'ERR_RECOVERY_SIGN_IN_REQUIRED',
  SecuritySignInRequired: 'ERR_SECURITY_SIGN_IN_REQUIRED',
  CredentialLocked: 'ERR_CREDENTIAL_LOCKED',
  CertificateLocked: 'ERR_CERTIFICATE_LOCKED',

  // Enrolment links (src/accounts).
  EnrolmentUnknown: 'ERR_ENROLMENT_UNKNOWN',
  EnrolmentUsed: 'ERR_ENROLMENT_USED',
  EnrolmentExpired: 'ERR_ENROLMENT_EXPIRED',

  // Passkeys (src/auth/passkey).
  PasskeyVerificationFailed: 'ERR_PASSKEY_VERIFICATION_FAILED',
  PasskeyName: 'ERR_PASSKEY_NAME',
  PasskeyNotFound: 'ERR_PASSKEY_NOT_FOUND',

  // Certificates (src/auth/certificate): one code per CertificateErrorReason, then the rest.
  CertExpired: 'ERR_CERT_EXPIRED',
  CertNotYetValid: 'ERR_CERT_NOT_YET_VALID',
  CertRevoked: 'ERR_CERT_REVOKED',
  CertUntrusted: 'ERR_CERT_UNTRUSTED',
  CertMissingIntermediate: 'ERR_CERT_MISSING_INTERMEDIATE',
  CertBadSignature: 'ERR_CERT_BAD_SIGNATURE',
  CertWrongUsage: 'ERR_CERT_WRONG_USAGE',
  CertPolicyMismatch: 'ERR_CERT_POLICY_MISMATCH',
  CertRevocationUnavailable: 'ERR_CERT_REVOCATION_UNAVAILABLE',
  CertMalformed: 'ERR_CERT_MALFORMED',
  CertNoProof: 'ERR_CERT_NO_PROOF',
  CertReplayed: 'ERR_CERT_REPLAYED',
  CertChallengeExpired: 'ERR_CERT_CHALLENGE_EXPIRED',
  CertTicketInvalid: 'ERR_CERT_TICKET_INVALID',
  CertEnrolmentExpired: 'ERR_CERT_ENROLMENT_EXPIRED',
  CertAlreadyLinked: 'ERR_CERT_ALREADY_LINKED',
  CertLinkedElsewhere: 'ERR_CERT_LINKED_ELSEWHERE',
  CertificateLabel: 'ERR_CERTIFICATE_LABEL',
  CertificateNotFound: 'ERR_CERTIFICATE_NOT_FOUND',

  // Sign-in through another service (src/federation).
  UpstreamUnknown: 'ERR_UPSTREAM_UNKNOWN',
  UpstreamUnavailable: 'ERR_UPSTREAM_UNAVAILABLE',
  UpstreamRejected: 'ERR_UPSTREAM_REJECTED',
  UpstreamDenied: 'ERR_UPSTREAM_DENIED',
  UpstreamAcr: 'ERR_UPSTREAM_ACR',
  FederationExpired: 'ERR_FEDERATION_EXPIRED',
  FederationAlreadyLinked: 'ERR_FEDERATION_ALREADY_LINKED',
  FederationNoEnrolment: 'ERR_FEDERATION_NO_ENROLMENT',
  FederationNotLinked: 'ERR_FEDERATION_NOT_LINKED',
  FederationWeakSignIn: 'ERR_FEDERATION_WEAK_SIGN_IN',
  InvalidUpstream: 'ERR_INVALID_UPSTREAM',
  UpstreamExists: 'ERR_UPSTREAM_EXISTS',
  UpstreamNotFound: 'ERR_UPSTREAM_NOT_FOUND',

  // The agency-link API that agency systems call (src/federation/agency-link-service.ts).
  AgencyToken: 'ERR_AGENCY_TOKEN',
  InvalidAgencyLink: 'ERR_INVALID_AGENCY_LINK',
  AgencyLinkConflict: 'ERR_AGENCY_LINK_CONFLICT',
  AgencyLinkNotAllowed: 'ERR_AGENCY_LINK_NOT_ALLOWED',
  AgencyLinkNotFound: 'ERR_AGENCY_LINK_NOT_FOUND',
  AgencySubjectUnknown: 'ERR_AGENCY_SUBJECT_UNKNOWN',

  // Administration: the admin API and console (src/admin, src/clients, src/consent catalogue).
  Unauthenticated: 'ERR_UNAUTHENTICATED',
  InvalidToken: 'ERR_INVALID_TOKEN',
  NotAdmin: 'ERR_NOT_ADMIN',
  AdminForbidden: 'ERR_ADMIN_FORBIDDEN',
  AdminSignIn: 'ERR_ADMIN_SIGN_IN',
  InsufficientScope: 'ERR_INSUFFICIENT_SCOPE',
  StepUpRequired: 'ERR_STEP_UP_REQUIRED',
  ReauthRequired: 'ERR_REAUTH_REQUIRED',
  InvalidAdminInput: 'ERR_INVALID_ADMIN_INPUT',
  AccountUnknown: 'ERR_ACCOUNT_UNKNOWN',
  AgencyUnknown: 'ERR_AGENCY_UNKNOWN',
  LastPlatformAdmin: 'ERR_LAST_PLATFORM_ADMIN',
  ClientUnknown: 'ERR_CLIENT_UNKNOWN',
  ClientExists: 'ERR_CLIENT_EXISTS',
  ClientFirstParty: 'ERR_CLIENT_FIRST_PARTY',
  ClientNoSecret: 'ERR_CLIENT_NO_SECRET',
  ClientNotDraft: 'ERR_CLIENT_NOT_DRAFT',
  InvalidClientMetadata: 'ERR_INVALID_CLIENT_METADATA',
  InvalidClaim: 'ERR_INVALID_CLAIM',
  InvalidManifest: 'ERR_INVALID_MANIFEST',
  ManifestRejected: 'ERR_MANIFEST_REJECTED',

  // Starting up (src/config, and settings read when modules are built) and the command line
  // (src/cli), account import (src/accounts).
  Config: 'ERR_CONFIG',
  Usage: 'ERR_USAGE',
  SeedOverlap: 'ERR_SEED_OVERLAP',
  AuditChainBroken: 'ERR_AUDIT_CHAIN_BROKEN',
  SigningKeyUnknown: 'ERR_SIGNING_KEY_UNKNOWN',
  SigningKeyIrreplaceable: 'ERR_SIGNING_KEY_IRREPLACEABLE',
  ImportCsv: 'ERR_IMPORT_CSV',
  ImportColumns: 'ERR_IMPORT_COLUMNS',
  ImportPasswordColumn: 'ERR_IMPORT_PASSWORD_COLUMN',
  ImportEmpty: 'ERR_IMPORT_EMPTY',
  ImportInterrupted: 'ERR_IMPORT_INTERRUPTED',

  // Background work (src/sessions).
  BackchannelUndeliverable: 'ERR_BACKCHANNEL_UNDELIVERABLE',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every code, for tests that check each has what it needs (a text, a docs entry). */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(Object.values(ErrorCode));
