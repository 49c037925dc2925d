// The console's client form <-> client metadata (the API takes metadata as JSON; the console
// takes it as form fields: lists one per line, JSON for jwks and allowed claims).
import type { ClientView } from '../admin/index.ts';
import { AppError, isAppError } from '../shared/index.ts';

const text = (body: Record<string, unknown>, name: string) => (typeof body[name] === 'string' ? (body[name] as string).trim() : '');
const lines = (body: Record<string, unknown>, name: string) => text(body, name).split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
const many = (body: Record<string, unknown>, name: string) => ([] as unknown[]).concat(body[name] ?? []).filter((v): v is string => typeof v === 'string' && v !== '');

const json = (body: Record<string, unknown>, name: string) => {
  const value = text(body, name);
  if (!value) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new AppError('ERR_INVALID_CLIENT_METADATA', `${name}: is not valid JSON`, { details: { problems: [`${name}: is not valid JSON`] } });
  }
};

/** The metadata a submitted client form describes (empty fields are left out). */
export const formToMetadata = (body: Record<string, unknown>, { create }: { create: boolean }): Record<string, unknown> => {
  const m: Record<string, unknown> = {};
  const set = (name: string, value: unknown) => {
    if (value !== undefined && value !== '' && !(Array.isArray(value) && !value.length)) m[name] = value;
  };
  if (create) {
    set('client_id', text(body, 'client_id'));
    set('status', text(body, 'status'));
  }
  set('client_name', text(body, 'client_name'));
  set('agency', text(body, 'agency'));
  m.redirect_uris = lines(body, 'redirect_uris');
  set('post_logout_redirect_uris', lines(body, 'post_logout_redirect_uris'));
  set('backchannel_logout_uri', text(body, 'backchannel_logout_uri'));
  set('grant_types', many(body, 'grant_types'));
  set('token_endpoint_auth_method', text(body, 'token_endpoint_auth_method'));
  set('jwks_uri', text(body, 'jwks_uri'));
  set('jwks', json(body, 'jwks'));
  set('logo_uri', text(body, 'logo_uri'));
  set('contacts', lines(body, 'contacts'));
  set('allowed_claims', json(body, 'allowed_claims'));
  return m;
};

export type ClientForm = Record<string, string | string[]>;

/** Form values from submitted fields (redisplayed after an error) or from a client. */
export const formValues = (source: Record<string, unknown> | ClientView | undefined): ClientForm => {
  if (!source) return { grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'private_key_jwt', redirect_uris: '', allowed_claims: '' };
  if ('metadata' in source && 'client_id' in source && typeof source.metadata === 'object') {
    const c = source as ClientView;
    const m = c.metadata as Record<string, unknown>;
    const join = (v: unknown) => (Array.isArray(v) ? v.join('\n') : '');
    return {
      client_id: c.client_id,
      client_name: String(m.client_name ?? ''),
      agency: c.agency,
      redirect_uris: join(m.redirect_uris),
      post_logout_redirect_uris: join(m.post_logout_redirect_uris),
      backchannel_logout_uri: String(m.backchannel_logout_uri ?? ''),
      grant_types: (m.grant_types as string[] | undefined) ?? [],
      token_endpoint_auth_method: String(m.token_endpoint_auth_method ?? ''),
      jwks_uri: String(m.jwks_uri ?? ''),
      jwks: m.jwks ? JSON.stringify(m.jwks, null, 2) : '',
      logo_uri: String(m.logo_uri ?? ''),
      contacts: join(m.contacts),
      allowed_claims: c.allowed_claims?.length ? JSON.stringify(c.allowed_claims, null, 2) : '',
    };
  }
  const body = source as Record<string, unknown>;
  const values: ClientForm = {};
  for (const [k, v] of Object.entries(body)) if (k !== '_csrf' && (typeof v === 'string' || Array.isArray(v))) values[k] = v as string | string[];
  values.grant_types = many(body, 'grant_types');
  return values;
};

/** A validation failure as { field, message } pairs for the form's error summary, or undefined. */
export const formErrors = (error: unknown): { field: string; message: string }[] | undefined => {
  if (!isAppError(error) || !['ERR_INVALID_CLIENT_METADATA', 'ERR_INVALID_ADMIN_INPUT', 'ERR_CLIENT_EXISTS', 'ERR_AGENCY_UNKNOWN', 'ERR_ACCOUNT_UNKNOWN', 'ERR_BAD_PARAMETER', 'ERR_LAST_PLATFORM_ADMIN', 'ERR_ADMIN_FORBIDDEN', 'ERR_CLIENT_NO_SECRET'].includes(error.code)) return undefined;
  const problems = (error.details?.problems as string[] | undefined) ?? [error.message];
  return problems.map((p) => {
    const i = p.indexOf(': ');
    return i > 0 ? { field: p.slice(0, i), message: p.slice(i + 2) } : { field: String(error.details?.field ?? ''), message: p };
  });
};
