// Validates agency-submitted client metadata (OIDC Registration 2) against One-ID's rules:
// exact redirect URIs (https outside localhost, no wildcards, no fragments), code flow only,
// and an authentication method the engine supports. Each problem names its field. Which fields
// are honoured, refused or ignored is metadata-policy.ts; the engine checks the standard forms.
import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../shared/index.ts';
import { displayNameProblem, displayTextProblem } from './display-name.ts';
import { applyFieldPolicy } from './metadata-policy.ts';
import { SECURITY_PROFILES } from './security-profile.ts';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

const redirectUri = z
  .string()
  .max(2000)
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute URL' });
      return;
    }
    if (value.includes('*'))
      ctx.addIssue({ code: 'custom', message: 'must not contain wildcards' });
    if (value.includes('#'))
      ctx.addIssue({ code: 'custom', message: 'must not contain a fragment' });
    if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname))
      ctx.addIssue({ code: 'custom', message: 'must use https (http only for localhost)' });
    else if (url.protocol !== 'https:' && url.protocol !== 'http:')
      ctx.addIssue({ code: 'custom', message: 'must use https' });
    if (url.username || url.password)
      ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
  });

const httpsUrl = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      const url = new URL(v);
      return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
    } catch {
      return false;
    }
  }, 'must be an https URL (http only for localhost)');

// The engine fetches a sector_identifier_uri over https only, even on localhost (OIDC Core 8.1).
const strictHttpsUrl = z
  .string()
  .max(2000)
  .refine((v) => URL.canParse(v) && new URL(v).protocol === 'https:', 'must be an https URL');

// A public JWK the engine can use: no private members, and one node:crypto can import (so a
// bad key is refused at registration, not at the client's first token request).
const jwk = z
  .object({ kty: z.string() })
  .loose()
  .superRefine((k, ctx) => {
    if ('d' in k || 'p' in k || 'k' in k) {
      ctx.addIssue({ code: 'custom', message: 'must contain public keys only' });
      return;
    }
    try {
      createPublicKey({ key: k as never, format: 'jwk' });
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a valid public key' });
    }
  });

// A name a citizen reads (consent page, My One-ID): no reserved names, no control characters.
const displayName = z
  .string()
  .trim()
  .min(1, 'is required')
  .max(200)
  .superRefine((value, ctx) => {
    const problem = displayNameProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

// A sentence or two a citizen reads in My One-ID's directory of systems.
const description = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(300)
  .superRefine((value, ctx) => {
    const problem = displayTextProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** RFC 8705 2.1.2: the fields that name a tls_client_auth client's certificate subject. */
const TLS_SUBJECT_FIELDS = [
  'tls_client_auth_subject_dn',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_uri',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_email',
] as const;

export const clientMetadataSchema = z
  .object({
    client_id: z
      .string()
      .regex(/^[A-Za-z0-9._-]{3,100}$/, 'must be 3-100 characters of A-Z a-z 0-9 . _ -')
      .refine(
        (id) => !id.toLowerCase().startsWith('one-id-'),
        'the prefix one-id- is reserved for One-ID itself',
      )
      .optional(),
    client_name: displayName,
    // OIDC Registration 2.1: a language-tagged name; client_name itself is the Korean one.
    'client_name#en': displayName.optional(),
    // One-ID extension: what the system is for, in My One-ID's directory (Korean, English).
    description: description.optional(),
    'description#en': description.optional(),
    agency: displayName,
    redirect_uris: z.array(redirectUri).min(1, 'needs at least one URI').max(20),
    post_logout_redirect_uris: z.array(redirectUri).max(20).optional(),
    grant_types: z
      .array(
        z.enum(['authorization_code', 'refresh_token', 'client_credentials'], {
          message: 'only authorization_code, refresh_token and client_credentials are offered',
        }),
      )
      .min(1)
      .default(['authorization_code', 'refresh_token']),
    response_types: z
      .array(z.literal('code', { message: 'only "code" is supported' }))
      .default(['code']),
    token_endpoint_auth_method: z
      .enum(
        [
          'private_key_jwt',
          'self_signed_tls_client_auth',
          'tls_client_auth',
          'client_secret_basic',
          'client_secret_post',
          'none',
        ],
        {
          message:
            'offered: private_key_jwt, self_signed_tls_client_auth, tls_client_auth, client_secret_basic, client_secret_post, none',
        },
      )
      .default('client_secret_basic'),
    token_endpoint_auth_signing_alg: z.string().max(20).optional(),
    jwks_uri: httpsUrl.optional(),
    jwks: z.object({ keys: z.array(jwk).min(1, 'needs at least one key') }).optional(),
    sector_identifier_uri: strictHttpsUrl.optional(),
    backchannel_logout_uri: httpsUrl.optional(),
    backchannel_logout_session_required: z.boolean().optional(),
    id_token_signed_response_alg: z.string().max(20).optional(),
    logo_uri: httpsUrl.optional(),
    client_uri: httpsUrl.optional(),
    policy_uri: httpsUrl.optional(),
    tos_uri: httpsUrl.optional(),
    // OIDC Core 4: where My One-ID sends a citizen to start a sign-in at the system.
    initiate_login_uri: httpsUrl.optional(),
    contacts: z.array(z.email()).max(10).optional(),
    scope: z.string().max(1000).optional(),
    application_type: z.enum(['web', 'native']).optional(),
    subject_type: z
      .literal('pairwise', { message: 'One-ID issues pairwise identifiers only' })
      .optional(),
    default_max_age: z.number().int().min(0).max(31_536_000).optional(),
    require_auth_time: z.boolean().optional(),
    default_acr_values: z.array(z.string().max(100)).max(5).optional(),
    dpop_bound_access_tokens: z.boolean().optional(),
    require_pushed_authorization_requests: z.boolean().optional(),
    // RFC 8705 3: access tokens bound to the client's TLS certificate (cnf.x5t#S256).
    tls_client_certificate_bound_access_tokens: z.boolean().optional(),
    // RFC 8705 2.1.2: how a tls_client_auth client's certificate names it (exactly one).
    tls_client_auth_subject_dn: z.string().min(1).max(500).optional(),
    tls_client_auth_san_dns: z.string().min(1).max(253).optional(),
    tls_client_auth_san_uri: z.string().min(1).max(500).optional(),
    tls_client_auth_san_ip: z.string().min(1).max(45).optional(),
    tls_client_auth_san_email: z.string().min(1).max(254).optional(),
    // One-ID extension: baseline or fapi2 (security-profile.ts); defaulted from allowed_claims.
    security_profile: z
      .enum(SECURITY_PROFILES, { message: 'must be baseline or fapi2' })
      .optional(),
    // FAPI 2.0 Message Signing (fapi2 clients only, security-profile.ts): JAR, JARM, RFC 9701, signed userinfo.
    require_signed_request_object: z.boolean().optional(),
    request_object_signing_alg: z.string().max(20).optional(),
    authorization_signed_response_alg: z.string().max(20).optional(),
    introspection_signed_response_alg: z.string().max(20).optional(),
    userinfo_signed_response_alg: z.string().max(20).optional(),
    // One-ID extension: the data items this system may ask for, each with its purpose.
    allowed_claims: z
      .array(
        z
          .object({
            claim: z
              .string()
              .regex(/^[a-z][a-z0-9_]{1,63}$/, 'must be a claim name from the catalogue'),
            purpose: z.object({
              ko: z.string().trim().min(1).max(300),
              en: z.string().trim().min(1).max(300),
            }),
            required: z.boolean().default(false),
            retention_days: z.number().int().min(1).max(3650),
          })
          .strict(),
      )
      .max(50)
      .refine(
        (list) => new Set(list.map((a) => a.claim)).size === list.length,
        'lists a claim twice',
      )
      .default([]),
  })
  .superRefine((m, ctx) => {
    if (m.token_endpoint_auth_method === 'private_key_jwt' && !m.jwks_uri && !m.jwks) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwks_uri'],
        message: 'private_key_jwt needs jwks_uri or jwks',
      });
    }
    if (m.token_endpoint_auth_method === 'self_signed_tls_client_auth' && !m.jwks_uri && !m.jwks) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwks'],
        message: 'self_signed_tls_client_auth needs jwks or jwks_uri holding the certificate (x5c)',
      });
    }
    const subjects = TLS_SUBJECT_FIELDS.filter((f) => m[f] !== undefined);
    if (m.token_endpoint_auth_method === 'tls_client_auth' && subjects.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['token_endpoint_auth_method'],
        message: `tls_client_auth needs exactly one of ${TLS_SUBJECT_FIELDS.join(', ')} (RFC 8705 2.1.2)`,
      });
    if (m.jwks_uri && m.jwks)
      ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'give jwks_uri or jwks, not both' });
    if (m.token_endpoint_auth_method === 'none' && m.grant_types.includes('client_credentials')) {
      ctx.addIssue({
        code: 'custom',
        path: ['grant_types'],
        message: 'client_credentials needs an authenticated client',
      });
    }
    if (m.grant_types.includes('refresh_token') && !m.grant_types.includes('authorization_code')) {
      ctx.addIssue({
        code: 'custom',
        path: ['grant_types'],
        message: 'refresh_token needs authorization_code',
      });
    }
    // Pairwise subjects (OIDC Core 8.1): redirect URIs on several hosts need one declared sector.
    const hosts = new Set(
      m.redirect_uris.map((u) => {
        try {
          return new URL(u).host;
        } catch {
          return u;
        }
      }),
    );
    if (hosts.size > 1 && !m.sector_identifier_uri) {
      ctx.addIssue({
        code: 'custom',
        path: ['sector_identifier_uri'],
        message: 'is required when redirect_uris use more than one host',
      });
    }
  });

export type ClientMetadataInput = z.input<typeof clientMetadataSchema>;
export type ClientMetadata = z.output<typeof clientMetadataSchema>;
export type ClaimAllowance = ClientMetadata['allowed_claims'][number];

const invalid = (problems: string[]) =>
  new AppError('ERR_INVALID_CLIENT_METADATA', problems.join('; '), { details: { problems } });

/**
 * Applies the field policy and One-ID's rules; throws ERR_INVALID_CLIENT_METADATA naming every
 * refused or bad field. `ignored` lists the fields left out, for the caller to warn about.
 */
export const readClientMetadata = (
  input: unknown,
  options: { dynamic?: boolean } = {},
): { metadata: ClientMetadata; ignored: string[] } => {
  if (!input || typeof input !== 'object' || Array.isArray(input))
    throw invalid(['metadata: must be a JSON object']);
  const sorted = applyFieldPolicy(input as Record<string, unknown>, options);
  const parsed = clientMetadataSchema.safeParse(sorted.honoured);
  const problems = [
    ...sorted.refusals,
    ...(parsed.success
      ? []
      : parsed.error.issues.map((i) => `${i.path.join('.') || 'metadata'}: ${i.message}`)),
  ];
  if (problems.length || !parsed.success) throw invalid(problems);
  return { metadata: parsed.data, ignored: sorted.ignored };
};

/** Parses metadata or throws ERR_INVALID_CLIENT_METADATA naming every bad field. */
export const parseClientMetadata = (input: unknown): ClientMetadata =>
  readClientMetadata(input).metadata;

/** Whether the client authenticates with a shared secret that One-ID must generate and keep. */
export const usesSecret = (m: { token_endpoint_auth_method?: unknown }) =>
  m.token_endpoint_auth_method === 'client_secret_basic' ||
  m.token_endpoint_auth_method === 'client_secret_post';
