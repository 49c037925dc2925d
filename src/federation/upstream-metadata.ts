// An upstream identity provider's registration (the JSON an administrator gives to
// `upstreams add --file`, or the admin API): validated here, every problem named by field.
import { z } from 'zod';
import { ACR, ACR_VALUES, acrRank } from '../auth/index.ts';
import { ATTRIBUTES, type Attribute, type ClaimMapping } from './attribute-mapping.ts';
import { invalidUpstream } from './federation-errors.ts';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const httpsUrl = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      const url = new URL(v);
      return (
        !url.search &&
        !url.hash &&
        (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)))
      );
    } catch {
      return false;
    }
  }, 'must be an https URL without query or fragment (http only for localhost)');

const bilingual = z
  .object({ ko: z.string().trim().min(1).max(100), en: z.string().trim().min(1).max(100) })
  .strict();

export const upstreamSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'must be 2-63 lowercase letters, digits or -'),
    issuer: httpsUrl,
    client_id: z.string().min(1).max(255),
    client_secret: z.string().min(1).max(2000).optional(),
    token_endpoint_auth_method: z
      .enum(['client_secret_basic', 'client_secret_post', 'none'])
      .default('client_secret_basic'),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/, 'must be a scope token'))
      .min(1)
      .max(20)
      .default(['openid']),
    claims: z.partialRecord(z.enum(ATTRIBUTES), z.string().min(1).max(100)).default({}),
    acr: z.enum(ACR_VALUES as [string, ...string[]]),
    match: z.array(z.enum(ATTRIBUTES)).max(ATTRIBUTES.length).default([]),
    enrolment: z.boolean().default(false),
    display_name: bilingual,
    logo_uri: httpsUrl.optional(),
  })
  .strict()
  .superRefine((u, ctx) => {
    const problem = (path: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    if (!u.scopes.includes('openid')) problem('scopes', 'must include openid');
    if (u.token_endpoint_auth_method !== 'none' && !u.client_secret)
      problem('client_secret', `is required with ${u.token_endpoint_auth_method}`);
    if (u.token_endpoint_auth_method === 'none' && u.client_secret)
      problem('client_secret', 'must not be given with none');
    // Below `substantial`, an upstream's word is not enough to find or create an account: the
    // citizen proves an existing account (passkey or certificate) the first time.
    const strong = acrRank(u.acr) >= acrRank(ACR.substantial);
    if (u.match.length) {
      if (!strong) problem('match', `needs acr ${ACR.substantial} or higher`);
      if (new Set(u.match).size < 2)
        problem(
          'match',
          'must name at least two different attributes (e.g. name, birthdate, phone_number)',
        );
      for (const a of u.match)
        if (!u.claims[a]) problem('match', `${a} is not in claims (map it to an upstream claim)`);
    }
    if (u.enrolment) {
      if (!strong) problem('enrolment', `needs acr ${ACR.substantial} or higher`);
      for (const a of ['name', 'birthdate'] as const)
        if (!u.claims[a])
          problem(
            'enrolment',
            `needs claims.${a} (a new account needs a name and a date of birth)`,
          );
    }
  });

export type UpstreamInput = z.input<typeof upstreamSchema>;

export type UpstreamSettings = {
  id: string;
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
  scopes: string[];
  claimMapping: ClaimMapping;
  acr: string;
  matchRule: Attribute[];
  enrolment: boolean;
  displayName: { ko: string; en: string };
  logoUri: string | undefined;
};

/** Parses a registration; throws ERR_INVALID_UPSTREAM naming every bad field. */
export const parseUpstream = (input: unknown): UpstreamSettings => {
  const parsed = upstreamSchema.safeParse(input);
  if (!parsed.success)
    throw invalidUpstream(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'upstream'}: ${i.message}`),
    );
  const u = parsed.data;
  return {
    id: u.id,
    issuer: u.issuer,
    clientId: u.client_id,
    clientSecret: u.client_secret,
    tokenEndpointAuthMethod: u.token_endpoint_auth_method,
    scopes: [...new Set(u.scopes)],
    claimMapping: u.claims,
    acr: u.acr,
    matchRule: [...new Set(u.match)],
    enrolment: u.enrolment,
    displayName: u.display_name,
    logoUri: u.logo_uri,
  };
};
