// Per-client security profiles: `baseline` (One-ID's general rules) and `fapi2` (OpenID FAPI 2.0
// Security Profile, with FAPI 2.0 Message Signing as its option). Which one a client needs follows
// from the data it may receive; what `fapi2` demands of its metadata is checked here, each refusal
// naming the rule. The engine enforces the rest per request (src/oidc/clients/fapi-profile.ts). Message
// signing (JAR, JARM, signed introspection and userinfo) is open to every client: it only adds.

export const SECURITY_PROFILES = ['baseline', 'fapi2'] as const;
export type SecurityProfile = (typeof SECURITY_PROFILES)[number];

/** FAPI 2.0 SP 5.3.2.1: client authentication by private_key_jwt or mutual TLS (RFC 8705) only. */
export const FAPI2_AUTH_METHODS = [
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
] as const;
/** FAPI 2.0 SP 5.4.1: PS256, ES256 or EdDSA. What clients sign (assertions, request objects). */
export const FAPI2_CLIENT_ALGS = ['ES256', 'PS256'] as const;
/** What One-ID signs for fapi2 clients: ES256 (its RSA keys are RS256 keys, which FAPI 2.0 forbids). */
export const FAPI2_RESPONSE_ALGS = ['ES256'] as const;

/** Items whose holders must protect them with `fapi2`: sensitive ones, and those agencies hold. */
export type ProtectedItem = { name: string; sensitivity?: string; source?: string };
export const requiresFapi2 = (item: ProtectedItem) =>
  item.sensitivity === 'high' || item.source === 'agency';

type ProfileInput = {
  security_profile?: SecurityProfile | undefined;
  allowed_claims: { claim: string }[];
};

/**
 * The profile a client gets: the one it asked for, else `fapi2` when it may receive a protected
 * item (sensitive or agency-held), else `baseline`. A `baseline` asked for alongside protected
 * items is refused with the rule and the items.
 */
export const resolveSecurityProfile = (
  m: ProfileInput,
  protectedClaims: ReadonlySet<string>,
): { profile: SecurityProfile; problems: string[] } => {
  const held = m.allowed_claims.map((a) => a.claim).filter((c) => protectedClaims.has(c));
  if (m.security_profile === 'baseline' && held.length)
    return {
      profile: 'baseline',
      problems: [
        `security_profile: baseline is refused: a system allowed sensitive or agency-held data (${held.join(', ')}) must use fapi2`,
      ],
    };
  return { profile: m.security_profile ?? (held.length ? 'fapi2' : 'baseline'), problems: [] };
};

const rule = (field: string, text: string) => `${field}: ${text}`;

/** What `profile` refuses in a client's metadata, one line per broken rule. */
export const securityProfileProblems = (
  profile: SecurityProfile,
  m: Record<string, unknown>,
): string[] => {
  const problems: string[] = [];
  if (profile !== 'fapi2') return problems;
  const method = m.token_endpoint_auth_method as string;
  if (!(FAPI2_AUTH_METHODS as readonly string[]).includes(method))
    problems.push(
      rule(
        'token_endpoint_auth_method',
        `security_profile fapi2 requires ${FAPI2_AUTH_METHODS.join(' or ')} (FAPI 2.0 Security Profile 5.3.2.1), not ${method}`,
      ),
    );
  if (m.require_pushed_authorization_requests === false)
    problems.push(
      rule(
        'require_pushed_authorization_requests',
        'security_profile fapi2 requires pushed authorization requests (FAPI 2.0 Security Profile 5.3.2.2)',
      ),
    );
  if (m.dpop_bound_access_tokens !== true && m.tls_client_certificate_bound_access_tokens !== true)
    problems.push(
      rule(
        'dpop_bound_access_tokens',
        'security_profile fapi2 requires sender-constrained tokens: set dpop_bound_access_tokens or tls_client_certificate_bound_access_tokens (FAPI 2.0 Security Profile 5.3.2.1)',
      ),
    );
  const responseTypes = (m.response_types as string[] | undefined) ?? ['code'];
  if (responseTypes.some((t) => t !== 'code'))
    problems.push(
      rule(
        'response_types',
        'security_profile fapi2 allows "code" only (FAPI 2.0 Security Profile 5.3.2.2)',
      ),
    );
  for (const uri of (m.redirect_uris as string[] | undefined) ?? [])
    if (!uri.startsWith('https://'))
      problems.push(
        rule(
          'redirect_uris',
          `security_profile fapi2 requires https redirect URIs, not ${uri} (FAPI 2.0 Security Profile 5.3.2.2)`,
        ),
      );
  const algs = (fields: string[], allowed: readonly string[]) => {
    for (const field of fields)
      if (m[field] !== undefined && !allowed.includes(m[field] as string))
        problems.push(
          rule(
            field,
            `security_profile fapi2 allows ${allowed.join(' or ')} (FAPI 2.0 Security Profile 5.4.1)`,
          ),
        );
  };
  algs(['token_endpoint_auth_signing_alg', 'request_object_signing_alg'], FAPI2_CLIENT_ALGS);
  algs(
    [
      'id_token_signed_response_alg',
      'authorization_signed_response_alg',
      'introspection_signed_response_alg',
      'userinfo_signed_response_alg',
    ],
    FAPI2_RESPONSE_ALGS,
  );
  return problems;
};

/**
 * The metadata stored for `profile`: a `fapi2` client's pushed requests are always required, and
 * the responses One-ID signs for it (JARM, RFC 9701) default to ES256 rather than the engine's RS256.
 */
export const withProfileDefaults = (
  profile: SecurityProfile,
  m: Record<string, unknown>,
): Record<string, unknown> =>
  profile === 'fapi2'
    ? {
        authorization_signed_response_alg: 'ES256',
        introspection_signed_response_alg: 'ES256',
        ...m,
        security_profile: 'fapi2',
        require_pushed_authorization_requests: true,
      }
    : m;
