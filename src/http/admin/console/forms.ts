// The console's client form <-> client metadata (the API takes metadata as JSON; the console
// takes it as form fields: lists one per line, JSON for jwks, allowed claims from the allowance
// editor's rows (allowance-editor.ts)).
import type { ClientView } from '../../../admin/index.ts';
import { AppError, isAppError } from '../../../shared/index.ts';
import { refuseUnstorable } from '../../middleware/body.ts';
import type { Translate } from '../../render/messages.ts';
import { allowancesFromRows, EDITOR_MARKER, rowsFromBody } from './allowance-editor.ts';
import { translateProblem } from './problem-texts.ts';

const text = (body: Record<string, unknown>, name: string) =>
  typeof body[name] === 'string' ? (body[name] as string).trim() : '';
const lines = (body: Record<string, unknown>, name: string) =>
  text(body, name)
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
const many = (body: Record<string, unknown>, name: string) =>
  ([] as unknown[])
    .concat(body[name] ?? [])
    .filter((v): v is string => typeof v === 'string' && v !== '');

const json = (body: Record<string, unknown>, name: string) => {
  const value = text(body, name);
  if (!value) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value) as unknown;
  } catch {
    throw new AppError('ERR_INVALID_CLIENT_METADATA', `${name}: is not valid JSON`, {
      details: { problems: [`${name}: is not valid JSON`] },
    });
  }
  // Escapes can spell what a form field cannot carry (U+0000, a lone surrogate): refused, named.
  return refuseUnstorable(parsed, name);
};

/** The fields the client form shows; every other metadata field is kept as stored on an edit. */
export const FORM_FIELDS = [
  'client_name',
  'agency',
  'redirect_uris',
  'post_logout_redirect_uris',
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  'grant_types',
  'token_endpoint_auth_method',
  'security_profile',
  'dpop_bound_access_tokens',
  'jwks_uri',
  'jwks',
  'sector_identifier_uri',
  'id_token_signed_response_alg',
  'scope',
  'logo_uri',
  'client_uri',
  'policy_uri',
  'tos_uri',
  'initiate_login_uri',
  'description',
  'default_max_age',
  'require_auth_time',
  'contacts',
  'allowed_claims',
] as const;

// Checkboxes send nothing when unchecked: for them, absent means "off", not "not on this form".
const CHECKBOXES = new Set<string>([
  'grant_types',
  'backchannel_logout_session_required',
  'require_auth_time',
  'dpop_bound_access_tokens',
]);

/** A whole number of seconds, or the text as typed (the schema then names the field). */
const seconds = (value: string) => (/^\d{1,9}$/.test(value) ? Number(value) : value);

/**
 * The metadata a submitted client form describes. On an edit, `stored` is the client's metadata
 * now: the registry replaces metadata as a whole (PUT), so every field the submission does not
 * carry is kept as stored, and a submitted field left empty is removed.
 */
export const formToMetadata = (
  body: Record<string, unknown>,
  { create, stored }: { create: boolean; stored?: Record<string, unknown> | undefined },
): Record<string, unknown> => {
  const editing = !create && stored !== undefined;
  const m: Record<string, unknown> = editing ? { ...stored } : {};
  const set = (name: (typeof FORM_FIELDS)[number] | 'client_id' | 'status', value: unknown) => {
    if (editing && !(name in body) && !CHECKBOXES.has(name)) return;
    if (value !== undefined && value !== '' && !(Array.isArray(value) && !value.length))
      m[name] = value;
    else delete m[name];
  };
  // A checkbox: ticked is `true`; unticked, an explicit `false` that was stored stays `false`
  // rather than disappearing.
  const checkbox = (name: string) =>
    text(body, name) === 'yes' ? true : stored && name in stored ? false : undefined;
  if (create) {
    set('client_id', text(body, 'client_id'));
    set('status', text(body, 'status'));
  }
  set('client_name', text(body, 'client_name'));
  set('agency', text(body, 'agency'));
  set('redirect_uris', lines(body, 'redirect_uris'));
  set('post_logout_redirect_uris', lines(body, 'post_logout_redirect_uris'));
  set('backchannel_logout_uri', text(body, 'backchannel_logout_uri'));
  set('backchannel_logout_session_required', checkbox('backchannel_logout_session_required'));
  set('grant_types', many(body, 'grant_types'));
  set('token_endpoint_auth_method', text(body, 'token_endpoint_auth_method'));
  // Empty: automatic (clients/security-profile.ts decides from the allowed claims).
  set('security_profile', text(body, 'security_profile'));
  set('dpop_bound_access_tokens', checkbox('dpop_bound_access_tokens'));
  set('jwks_uri', text(body, 'jwks_uri'));
  set('jwks', json(body, 'jwks'));
  set('sector_identifier_uri', text(body, 'sector_identifier_uri'));
  set('id_token_signed_response_alg', text(body, 'id_token_signed_response_alg'));
  set('scope', text(body, 'scope').split(/\s+/).filter(Boolean).join(' '));
  set('logo_uri', text(body, 'logo_uri'));
  set('client_uri', text(body, 'client_uri'));
  set('policy_uri', text(body, 'policy_uri'));
  set('tos_uri', text(body, 'tos_uri'));
  set('initiate_login_uri', text(body, 'initiate_login_uri'));
  set('description', text(body, 'description'));
  set('default_max_age', seconds(text(body, 'default_max_age')));
  set('require_auth_time', checkbox('require_auth_time'));
  set('contacts', lines(body, 'contacts'));
  // The editor's rows (no row ticked: none); a form without the editor keeps them as stored.
  if (body[EDITOR_MARKER] === 'yes') {
    const list = allowancesFromRows(rowsFromBody(body));
    if (list.length) m.allowed_claims = list;
    else delete m.allowed_claims;
  } else set('allowed_claims', json(body, 'allowed_claims'));
  if (!m.redirect_uris) m.redirect_uris = []; // "needs at least one URI", named by the schema
  return m;
};

export type ClientForm = Record<string, string | string[]>;

/** Form values from submitted fields (redisplayed after an error) or from a client. */
export const formValues = (
  source: Record<string, unknown> | ClientView | undefined,
): ClientForm => {
  if (!source)
    return {
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'private_key_jwt',
      redirect_uris: '',
    };
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
      backchannel_logout_session_required:
        m.backchannel_logout_session_required === true ? 'yes' : '',
      grant_types: (m.grant_types as string[] | undefined) ?? [],
      token_endpoint_auth_method: String(m.token_endpoint_auth_method ?? ''),
      security_profile: String(m.security_profile ?? ''),
      dpop_bound_access_tokens: m.dpop_bound_access_tokens === true ? 'yes' : '',
      jwks_uri: String(m.jwks_uri ?? ''),
      jwks: m.jwks ? JSON.stringify(m.jwks, null, 2) : '',
      sector_identifier_uri: String(m.sector_identifier_uri ?? ''),
      id_token_signed_response_alg: String(m.id_token_signed_response_alg ?? ''),
      scope: String(m.scope ?? ''),
      logo_uri: String(m.logo_uri ?? ''),
      client_uri: String(m.client_uri ?? ''),
      policy_uri: String(m.policy_uri ?? ''),
      tos_uri: String(m.tos_uri ?? ''),
      initiate_login_uri: String(m.initiate_login_uri ?? ''),
      description: String(m.description ?? ''),
      default_max_age: m.default_max_age === undefined ? '' : String(m.default_max_age),
      require_auth_time: m.require_auth_time === true ? 'yes' : '',
      contacts: join(m.contacts),
    };
  }
  const body = source as Record<string, unknown>;
  const values: ClientForm = {};
  for (const [k, v] of Object.entries(body))
    if (k !== '_csrf' && !k.startsWith('claims[') && (typeof v === 'string' || Array.isArray(v)))
      values[k] = v as string | string[];
  values.grant_types = many(body, 'grant_types');
  return values;
};

/**
 * A validation failure as { field, message } pairs for the form's error summary, in the page's
 * language (`t`, problem-texts.ts), or undefined.
 */
export const formErrors = (
  error: unknown,
  t: Translate,
): { field: string; message: string; label?: string }[] | undefined => {
  if (
    !isAppError(error) ||
    ![
      'ERR_INVALID_CLIENT_METADATA',
      'ERR_INVALID_ADMIN_INPUT',
      'ERR_CLIENT_EXISTS',
      'ERR_AGENCY_UNKNOWN',
      'ERR_ACCOUNT_UNKNOWN',
      'ERR_BAD_PARAMETER',
      'ERR_LAST_PLATFORM_ADMIN',
      'ERR_ADMIN_FORBIDDEN',
      'ERR_CLIENT_NO_SECRET',
      'ERR_INVALID_UPSTREAM',
      'ERR_UPSTREAM_EXISTS',
    ].includes(error.code)
  )
    return undefined;
  const problems = (error.details?.problems as string[] | undefined) ?? [error.message];
  return problems.map((p) => {
    const i = p.indexOf(': ');
    return translateProblem(
      i > 0
        ? { field: p.slice(0, i), message: p.slice(i + 2) }
        : { field: String(error.details?.field ?? ''), message: p },
      t,
    );
  });
};

/** The status of a page redisplayed with a form's errors: a refusal stays 403, bad input is 400. */
export const formStatus = (error: unknown, fallback = 400) =>
  isAppError(error) && error.status === 403 ? 403 : fallback;
