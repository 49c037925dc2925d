// The admin API's OpenAPI 3.1 document (served at /admin/api/openapi.json). Kept next to the
// routes (src/http/admin/api/api-routes.ts); a test checks every route is described.
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const ok = (description: string, schema: object, status = '200') => ({
  [status]: { description, content: { 'application/json': { schema } } },
});
const page = (item: string) => ({
  type: 'object',
  required: ['items', 'next'],
  properties: {
    items: { type: 'array', items: ref(item) },
    next: {
      type: ['string', 'null'],
      description: 'Cursor of the next page (`after`), null on the last page',
    },
  },
});
const errors = {
  '400': problem('Invalid input; `field` names the offending field'),
  '401': problem(
    'Missing, invalid or expired token, or (writes) a sign-in older than ADMIN_REAUTH_SECONDS',
  ),
  '403': problem('Role or scope does not allow it'),
  '404': problem('Not found (or not visible to this administrator)'),
};
const param = (
  name: string,
  description: string,
  schema: object = { type: 'string' },
  where = 'query',
) => ({ name, in: where, required: where === 'path', description, schema });
const paging = [
  param('limit', 'Page size (1-200, default 50)', { type: 'integer', minimum: 1, maximum: 200 }),
  param('after', "Cursor from the previous page's `next`"),
];
const op = (
  summary: string,
  scope: 'admin:read' | 'admin:write',
  responses: object,
  extra: object = {},
) => ({
  summary,
  security: [{ oneId: [scope] }],
  responses: { ...responses, ...errors },
  ...extra,
});
const body = (schema: object, type = 'application/json') => ({
  requestBody: { required: true, content: { [type]: { schema } } },
});
const clientId = param('id', 'client_id', { type: 'string' }, 'path');
const auditFilters = [
  param('action', 'Exact action, or a prefix ending in `*` (e.g. `clients.*`)'),
  param(
    'actor',
    'exact, e.g. `admin:<account id>`, `cli:<os user>@<host>`; or a prefix ending in `*`, e.g. `cli*` for every CLI operator',
  ),
  param('subject', 'e.g. `client:<client_id>`'),
  param('agency', 'Records about this agency'),
  param('from', 'ISO 8601, inclusive', { type: 'string', format: 'date-time' }),
  param('to', 'ISO 8601, exclusive', { type: 'string', format: 'date-time' }),
];

export const buildOpenApi = ({ issuer, audience }: { issuer: string; audience: string }) => ({
  openapi: '3.1.0',
  info: {
    title: 'One-ID admin API',
    version: '1',
    description: `Agencies, agency systems (OIDC clients), administrators, audit, manifests and dynamic-registration tokens. Access tokens come from One-ID itself: the authorization code flow (PKCE) of the public client \`one-id-admin-api\` with \`resource=${audience}\` and \`scope=openid admin:read admin:write\`. Rights follow the administrator's roles (platform, agency, auditor); changes need a sign-in in the last ADMIN_REAUTH_SECONDS. See docs/admin.md.`,
  },
  servers: [{ url: audience }],
  components: {
    securitySchemes: {
      oneId: {
        type: 'oauth2',
        flows: {
          authorizationCode: {
            authorizationUrl: `${issuer}/auth`,
            tokenUrl: `${issuer}/token`,
            scopes: {
              'admin:read': 'Read clients, agencies and audit within your roles',
              'admin:write': 'Change within your roles (needs a recent sign-in)',
            },
          },
        },
      },
    },
    schemas: {
      Problem: {
        type: 'object',
        description: 'RFC 9457 problem details',
        required: ['type', 'title', 'status', 'detail', 'code'],
        properties: {
          type: { type: 'string', format: 'uri' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          field: { type: 'string', description: 'The offending field (e.g. `redirect_uris.0`)' },
          errors: {
            type: 'array',
            items: {
              type: 'object',
              properties: { field: { type: ['string', 'null'] }, detail: { type: 'string' } },
            },
          },
          code: {
            type: 'string',
            description: 'Stable error code, e.g. ERR_INVALID_CLIENT_METADATA',
          },
        },
      },
      Allowance: {
        type: 'object',
        required: ['claim', 'purpose', 'retention_days'],
        properties: {
          claim: { type: 'string' },
          purpose: {
            type: 'object',
            required: ['ko', 'en'],
            properties: { ko: { type: 'string' }, en: { type: 'string' } },
          },
          required: { type: 'boolean' },
          retention_days: { type: 'integer', minimum: 1, maximum: 3650 },
        },
      },
      ClientInput: {
        type: 'object',
        description:
          'OIDC client metadata with One-ID\'s rules (README "Register a first agency system"); `status` (draft|active) only at creation.',
        required: ['client_name', 'redirect_uris'],
        properties: {
          client_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{3,100}$' },
          client_name: { type: 'string' },
          'client_name#en': { type: 'string', description: 'English name (OIDC Registration 2.1)' },
          description: { type: 'string', description: "My One-ID's directory (Korean)" },
          'description#en': { type: 'string', description: "My One-ID's directory (English)" },
          initiate_login_uri: {
            type: 'string',
            format: 'uri',
            description: 'OIDC Core 4: linked from My One-ID with ?iss=',
          },
          tos_uri: { type: 'string', format: 'uri' },
          agency: {
            type: 'string',
            description: 'Defaults to yours when you administer one agency',
          },
          status: { enum: ['draft', 'active'] },
          redirect_uris: {
            type: 'array',
            items: { type: 'string', format: 'uri' },
            description: 'Exact; https except localhost; no wildcards or fragments',
          },
          post_logout_redirect_uris: { type: 'array', items: { type: 'string', format: 'uri' } },
          grant_types: {
            type: 'array',
            items: { enum: ['authorization_code', 'refresh_token', 'client_credentials'] },
          },
          token_endpoint_auth_method: {
            enum: ['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none'],
          },
          jwks_uri: { type: 'string', format: 'uri' },
          jwks: {
            type: 'object',
            properties: { keys: { type: 'array', items: { type: 'object' } } },
          },
          sector_identifier_uri: { type: 'string', format: 'uri' },
          backchannel_logout_uri: { type: 'string', format: 'uri' },
          backchannel_logout_session_required: { type: 'boolean' },
          id_token_signed_response_alg: { enum: ['ES256', 'RS256'] },
          logo_uri: { type: 'string', format: 'uri' },
          client_uri: { type: 'string', format: 'uri' },
          policy_uri: { type: 'string', format: 'uri' },
          contacts: { type: 'array', items: { type: 'string', format: 'email' } },
          allowed_claims: { type: 'array', items: ref('Allowance') },
        },
      },
      Client: {
        type: 'object',
        properties: {
          client_id: { type: 'string' },
          agency: { type: 'string' },
          status: { enum: ['draft', 'active', 'disabled'] },
          metadata: { type: 'object' },
          allowed_claims: { type: 'array', items: ref('Allowance') },
          has_secret: { type: 'boolean' },
          previous_secret_valid_until: { type: ['string', 'null'], format: 'date-time' },
          registered_via: { type: ['string', 'null'] },
          created_at: { type: 'string', format: 'date-time' },
          updated_at: { type: 'string', format: 'date-time' },
          client_secret: {
            type: 'string',
            description: 'Only in the response that created it; never again',
          },
        },
      },
      Agency: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          name_en: { type: ['string', 'null'] },
          contact: { type: ['string', 'null'] },
          created_at: { type: 'string' },
          updated_at: { type: 'string' },
        },
      },
      AdminGrant: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          account_id: { type: 'string', format: 'uuid' },
          role: { enum: ['platform', 'agency', 'auditor'] },
          agency: { type: ['string', 'null'] },
          granted_by: { type: 'string' },
          granted_at: { type: 'string' },
        },
      },
      AuditRecord: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          occurred_at: { type: 'string' },
          action: { type: 'string' },
          actor: { type: 'string' },
          subject: { type: ['string', 'null'] },
          ip: { type: ['string', 'null'] },
          details: { type: 'object', description: 'what changed: before/after for edits' },
          prev_hash: { type: 'string' },
          hash: { type: 'string' },
        },
      },
      DcrToken: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          agency: { type: 'string' },
          created_by: { type: 'string' },
          created_at: { type: 'string' },
          expires_at: { type: ['string', 'null'] },
          revoked_at: { type: ['string', 'null'] },
        },
      },
      ManifestResult: {
        type: 'object',
        properties: {
          dry_run: { type: 'boolean' },
          applied: { type: 'boolean' },
          changes: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                kind: { enum: ['agency', 'system'] },
                key: { type: 'string' },
                action: { enum: ['create', 'update', 'unchanged'] },
                fields: { type: 'array', items: { type: 'string' } },
              },
            },
          },
          rejected: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                where: { type: 'string' },
                key: { type: 'string' },
                field: { type: 'string' },
                message: { type: 'string' },
              },
            },
          },
          client_secrets: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
      Upstream: {
        type: 'object',
        description:
          'An upstream identity provider as registered (docs/federation.md); the client secret is never returned',
        properties: {
          id: { type: 'string' },
          issuer: { type: 'string', format: 'uri' },
          clientId: { type: 'string' },
          tokenEndpointAuthMethod: { enum: ['client_secret_basic', 'client_secret_post', 'none'] },
          hasClientSecret: { type: 'boolean' },
          scopes: { type: 'array', items: { type: 'string' } },
          claimMapping: { type: 'object', additionalProperties: { type: 'string' } },
          acr: { type: 'string' },
          matchRule: {
            type: 'array',
            items: { enum: ['name', 'birthdate', 'email', 'phone_number'] },
          },
          enrolment: { type: 'boolean' },
          displayName: {
            type: 'object',
            properties: { ko: { type: 'string' }, en: { type: 'string' } },
          },
          logoUri: { type: ['string', 'null'] },
          status: { enum: ['active', 'disabled'] },
          createdAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
  paths: {
    '/me': {
      get: op(
        'The calling administrator: account, roles, token scopes',
        'admin:read',
        ok('Administrator', { type: 'object' }),
      ),
    },
    '/agencies': {
      get: op(
        'List agencies (yours, unless platform or unscoped auditor)',
        'admin:read',
        ok('A page', page('Agency')),
        { parameters: paging },
      ),
    },
    '/agencies/{name}': {
      get: op('One agency', 'admin:read', ok('Agency', ref('Agency')), {
        parameters: [param('name', 'Agency name', {}, 'path')],
      }),
      put: op(
        'Create or update an agency (platform)',
        'admin:write',
        { ...ok('Updated', ref('Agency')), ...ok('Created', ref('Agency'), '201') },
        {
          parameters: [param('name', 'Agency name', {}, 'path')],
          ...body({
            type: 'object',
            properties: {
              name_en: { type: 'string' },
              contact: { type: 'string', format: 'email' },
            },
          }),
        },
      ),
    },
    '/clients': {
      get: op('List clients you may see', 'admin:read', ok('A page', page('Client')), {
        parameters: [
          ...paging,
          param('agency', 'Only this agency'),
          param('status', 'draft, active or disabled'),
        ],
      }),
      post: op(
        "Register a system (an agency administrator's is a draft until a platform administrator enables it)",
        'admin:write',
        {
          ...ok('Registered; client_secret shown once', ref('Client'), '201'),
          '409': problem('client_id already registered'),
        },
        body(ref('ClientInput')),
      ),
    },
    '/clients/{id}': {
      get: op('One client, with its allowed claims', 'admin:read', ok('Client', ref('Client')), {
        parameters: [clientId],
      }),
      put: op(
        "Replace a client's metadata and allowances",
        'admin:write',
        ok('Client', ref('Client')),
        { parameters: [clientId], ...body(ref('ClientInput')) },
      ),
      delete: op(
        'Delete (soft, audited; the id is never reused)',
        'admin:write',
        { '204': { description: 'Deleted' } },
        { parameters: [clientId] },
      ),
    },
    '/clients/{id}/disable': {
      post: op(
        'Disable at once (engine requests fail with invalid_client; sessions signed out)',
        'admin:write',
        ok('Client', ref('Client')),
        { parameters: [clientId] },
      ),
    },
    '/clients/{id}/enable': {
      post: op(
        'Enable a draft or disabled client (platform: the review)',
        'admin:write',
        ok('Client', ref('Client')),
        { parameters: [clientId] },
      ),
    },
    '/clients/{id}/return': {
      post: op(
        'Return a draft to its agency with a reason (platform: the review; audited as clients.review.returned)',
        'admin:write',
        { ...ok('Client (still a draft)', ref('Client')), '409': problem('Not a draft') },
        {
          parameters: [clientId],
          ...body({
            type: 'object',
            required: ['reason'],
            properties: { reason: { type: 'string', minLength: 1, maxLength: 1000 } },
          }),
        },
      ),
    },
    '/clients/{id}/secret': {
      post: op(
        'Rotate the secret; the previous one works for CLIENT_SECRET_GRACE_SECONDS',
        'admin:write',
        ok('New secret (shown once)', {
          type: 'object',
          properties: {
            client_id: { type: 'string' },
            client_secret: { type: 'string' },
            previous_secret_valid_until: { type: ['string', 'null'] },
          },
        }),
        { parameters: [clientId] },
      ),
    },
    '/clients/{id}/allowances': {
      put: op(
        'Replace the claims a client may ask for',
        'admin:write',
        ok('Client', ref('Client')),
        { parameters: [clientId], ...body({ type: 'array', items: ref('Allowance') }) },
      ),
    },
    '/admins': {
      get: op(
        'List role grants (platform, unscoped auditors)',
        'admin:read',
        ok('A page', page('AdminGrant')),
        { parameters: [...paging, param('account_id', 'Only this account')] },
      ),
      post: op(
        'Grant a role (platform)',
        'admin:write',
        ok('Granted', ref('AdminGrant'), '201'),
        body({
          type: 'object',
          required: ['account_id', 'role'],
          properties: {
            account_id: { type: 'string', format: 'uuid' },
            role: { enum: ['platform', 'agency', 'auditor'] },
            agency: { type: 'string' },
          },
        }),
      ),
    },
    '/admins/{id}': {
      delete: op(
        'Revoke a grant (platform)',
        'admin:write',
        { '204': { description: 'Revoked' }, '409': problem('The last platform administrator') },
        { parameters: [param('id', 'Grant id', {}, 'path')] },
      ),
    },
    '/audit': {
      get: op(
        'Search the audit trail, newest first',
        'admin:read',
        ok('A page', page('AuditRecord')),
        { parameters: [...paging, ...auditFilters] },
      ),
    },
    '/audit/export': {
      get: op(
        'Export matching records',
        'admin:read',
        {
          '200': {
            description: 'JSON lines or CSV',
            content: {
              'application/x-ndjson': { schema: { type: 'string' } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
        },
        { parameters: [param('format', 'jsonl (default) or csv'), ...auditFilters] },
      ),
    },
    '/manifest': {
      get: op(
        'Export agencies and systems as a manifest (never secrets)',
        'admin:read',
        {
          '200': {
            description: 'Manifest',
            content: {
              'application/json': { schema: { type: 'object' } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
        },
        { parameters: [param('format', 'json (default) or csv')] },
      ),
      post: op(
        'Import a manifest (platform); dry_run=true only plans. Idempotent; nothing is applied when a row is rejected.',
        'admin:write',
        {
          ...ok('Plan or result', ref('ManifestResult')),
          '422': problem('Rows rejected (see `rejected`)'),
        },
        {
          parameters: [
            param('dry_run', 'true: change nothing'),
            param('format', 'json or csv (or send text/csv)'),
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { type: 'object' } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
        },
      ),
    },
    '/dcr/tokens': {
      get: op(
        'List initial access tokens (platform)',
        'admin:read',
        ok('A page', page('DcrToken')),
        { parameters: [...paging, param('agency', 'Only this agency')] },
      ),
      post: op(
        'Issue an initial access token for an agency (platform); shown once',
        'admin:write',
        ok(
          'Issued',
          {
            type: 'object',
            properties: {
              id: { type: 'string' },
              agency: { type: 'string' },
              initial_access_token: { type: 'string' },
              expires_at: { type: 'string' },
            },
          },
          '201',
        ),
        body({
          type: 'object',
          required: ['agency'],
          properties: {
            agency: { type: 'string' },
            days: { type: 'integer', minimum: 1, maximum: 365 },
          },
        }),
      ),
    },
    '/upstreams': {
      get: op(
        'List upstream identity providers by id (platform; secrets never shown)',
        'admin:read',
        ok('A page', page('Upstream')),
        { parameters: paging },
      ),
      post: op(
        'Register an upstream identity provider (platform; see docs/federation.md for the fields)',
        'admin:write',
        {
          ...ok('Registered', ref('Upstream'), '201'),
          '409': problem('id or issuer already registered'),
        },
        body({ type: 'object', required: ['id', 'issuer', 'client_id', 'acr', 'display_name'] }),
      ),
    },
    '/upstreams/{id}': {
      put: op(
        "Replace an upstream identity provider's settings (platform; without client_secret the stored one stays)",
        'admin:write',
        {
          ...ok('Upstream', ref('Upstream')),
          '409': problem('issuer registered as another upstream'),
        },
        {
          parameters: [param('id', 'Upstream id', {}, 'path')],
          ...body({ type: 'object', required: ['issuer', 'client_id', 'acr', 'display_name'] }),
        },
      ),
    },
    '/upstreams/{id}/disable': {
      post: op(
        'Take an upstream off the sign-in page (platform)',
        'admin:write',
        ok('Status', {
          type: 'object',
          properties: { id: { type: 'string' }, status: { enum: ['active', 'disabled'] } },
        }),
        { parameters: [param('id', 'Upstream id', {}, 'path')] },
      ),
    },
    '/upstreams/{id}/enable': {
      post: op(
        'Put an upstream back on the sign-in page (platform)',
        'admin:write',
        ok('Status', {
          type: 'object',
          properties: { id: { type: 'string' }, status: { enum: ['active', 'disabled'] } },
        }),
        { parameters: [param('id', 'Upstream id', {}, 'path')] },
      ),
    },
    '/dcr/tokens/{id}': {
      delete: op(
        'Revoke an initial access token (platform)',
        'admin:write',
        { '204': { description: 'Revoked' } },
        { parameters: [param('id', 'Token id', {}, 'path')] },
      ),
    },
  },
});
