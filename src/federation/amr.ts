// Authentication methods of a federated sign-in. RFC 8176 has no value for "signed in at
// another identity provider", so One-ID adds `fed` (a documented One-ID extension, like `x509`
// and `mtls`) and keeps from the upstream's own `amr` only the RFC 8176 registered values: the
// agency learns how the citizen signed in there, never a value it cannot interpret.
export const FEDERATION_AMR = 'fed';

/** RFC 8176 section 2 (IANA "Authentication Method Reference Values"). */
export const RFC8176_AMR: ReadonlySet<string> = new Set([
  'face',
  'fpt',
  'geo',
  'hwk',
  'iris',
  'kba',
  'mca',
  'mfa',
  'otp',
  'pin',
  'pop',
  'pwd',
  'rba',
  'retina',
  'sc',
  'sms',
  'swk',
  'tel',
  'user',
  'vbm',
  'wia',
]);

/** `['fed', ...the upstream's RFC 8176 values]`, each once, in the upstream's order. */
export const federatedAmr = (upstreamAmr: unknown): string[] => {
  const values = Array.isArray(upstreamAmr)
    ? upstreamAmr.filter((v): v is string => typeof v === 'string' && RFC8176_AMR.has(v))
    : [];
  return [...new Set([FEDERATION_AMR, ...values])];
};
