// The admin API under /admin/api (OpenAPI 3.1 at /admin/api/openapi.json): OAuth bearer tokens
// issued by One-ID for the resource `${ISSUER}/admin/api` (scopes admin:read, admin:write),
// validated with the engine's own token lookup; every rule is in src/admin (shared with the
// console and the CLI). Errors are RFC 9457 problem+json naming the offending field; every
// list is keyset-paginated (`?limit&after`, `next` + a Link header).
import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { UpstreamService } from '../../../federation/index.ts';
import { adminUpstreamRoutes } from './upstream-routes.ts';
import coBody from 'co-body';
import type { Context } from 'koa';
import {
  auditCsvLine,
  auditJson,
  AUDIT_CSV_COLUMNS,
  pageRequest,
  type AdminGrantRecord,
  type AdminModule,
  type AgencyRecord,
  type AuditQuery,
  type ManifestFormat,
  type Page,
  type Principal,
} from '../../../admin/index.ts';
import type { OidcFacade } from '../../../oidc/index.ts';
import { AppError, isAppError, type ErrorCode } from '../../../shared/index.ts';
import { buildOpenApi } from './openapi.ts';
import { readBody, refuseUnstorable } from '../../middleware/body.ts';

type Deps = {
  admin: AdminModule;
  oidc: OidcFacade;
  audience: string;
  reauthSeconds: number;
  upstreams?: UpstreamService | undefined;
};

const TITLES: Record<string, string> = {
  ERR_INVALID_CLIENT_METADATA: 'Invalid client metadata',
  ERR_INVALID_ADMIN_INPUT: 'Invalid input',
  ERR_INVALID_MANIFEST: 'Invalid manifest',
  ERR_BAD_PARAMETER: 'Invalid parameter',
  ERR_BAD_BODY: 'Unreadable request body',
  ERR_UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  ERR_UNAUTHENTICATED: 'Authentication required',
  ERR_INVALID_TOKEN: 'Invalid access token',
  ERR_REAUTH_REQUIRED: 'Recent sign-in required',
  ERR_STEP_UP_REQUIRED: 'Stronger sign-in required',
  ERR_INSUFFICIENT_SCOPE: 'Insufficient scope',
  ERR_NOT_ADMIN: 'Not an administrator',
  ERR_ADMIN_FORBIDDEN: 'Forbidden',
  ERR_CLIENT_FIRST_PARTY: 'Forbidden',
  ERR_CLIENT_UNKNOWN: 'Not found',
  ERR_AGENCY_UNKNOWN: 'Not found',
  ERR_ACCOUNT_UNKNOWN: 'Not found',
  ERR_NOT_FOUND: 'Not found',
  ERR_CLIENT_EXISTS: 'Conflict',
  ERR_CLIENT_NO_SECRET: 'Conflict',
  ERR_CLIENT_NOT_DRAFT: 'Conflict',
  ERR_LAST_PLATFORM_ADMIN: 'Conflict',
};

/** `field: message` problems (the domain's convention) as { field, detail } pairs. */
const fieldErrors = (error: AppError) => {
  const problems = (error.details?.problems as string[] | undefined) ?? [error.message];
  return problems.map((p) => {
    const i = p.indexOf(': ');
    return i > 0
      ? { field: p.slice(0, i), detail: p.slice(i + 2) }
      : { field: (error.details?.field as string | undefined) ?? null, detail: p };
  });
};

/** RFC 9457 problem details; 5xx details go to the log only (the outer error handler). */
const problem = (ctx: Context, error: unknown, reauthSeconds: number, minAcr: string) => {
  if (!isAppError(error) || error.status >= 500) throw error;
  const errors = fieldErrors(error);
  const field =
    (error.details?.field as string | undefined) ?? errors.find((e) => e.field)?.field ?? undefined;
  ctx.status = error.status;
  ctx.type = 'application/problem+json';
  ctx.set('Cache-Control', 'no-store');
  if (error.status === 401) {
    // RFC 6750 3; RFC 9470 for a sign-in that is too old or below ADMIN_MIN_ACR.
    ctx.set(
      'WWW-Authenticate',
      error.code === 'ERR_REAUTH_REQUIRED'
        ? `Bearer error="insufficient_user_authentication", error_description="a recent sign-in is required", max_age=${reauthSeconds}`
        : error.code === 'ERR_STEP_UP_REQUIRED'
          ? `Bearer error="insufficient_user_authentication", error_description="a stronger sign-in is required", acr_values="${minAcr}"`
          : `Bearer realm="one-id-admin"${error.code === 'ERR_INVALID_TOKEN' ? ', error="invalid_token"' : ''}`,
    );
  } else if (error.code === 'ERR_INSUFFICIENT_SCOPE')
    ctx.set(
      'WWW-Authenticate',
      'Bearer error="insufficient_scope", scope="admin:read admin:write"',
    );
  ctx.body = {
    type: `urn:one-id:problem:${error.code.replace(/^ERR_/, '').toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[error.code] ?? error.code,
    status: error.status,
    detail: error.message,
    ...(field && { field }),
    ...(errors.length > 1 || errors[0]?.field ? { errors } : {}),
    code: error.code,
  };
};

const agencyJson = (a: AgencyRecord) => ({
  name: a.name,
  name_en: a.nameEn,
  contact: a.contact,
  created_at: a.createdAt.toISOString(),
  updated_at: a.updatedAt.toISOString(),
});
const grantJson = (g: AdminGrantRecord) => ({
  id: g.id,
  account_id: g.accountId,
  role: g.role,
  agency: g.agency,
  granted_by: g.grantedBy,
  granted_at: g.grantedAt.toISOString(),
});

const query = (ctx: Context, name: string): string | undefined => {
  const value = ctx.query[name];
  if (Array.isArray(value))
    throw new AppError('ERR_BAD_PARAMETER', `${name}: give it once`, { details: { field: name } });
  return value || undefined;
};

/** A page as JSON, with RFC 8288 `Link: <...>; rel="next"`. */
const sendPage = <T>(ctx: Context, page: Page<T>, map: (item: T) => unknown) => {
  if (page.next) {
    const next = new URL(ctx.href);
    next.searchParams.set('after', page.next);
    ctx.set('Link', `<${next.pathname}${next.search}>; rel="next"`);
  }
  ctx.body = { items: page.items.map(map), next: page.next };
};

const auditQuery = (ctx: Context): AuditQuery => ({
  action: query(ctx, 'action'),
  actor: query(ctx, 'actor'),
  subject: query(ctx, 'subject'),
  agency: query(ctx, 'agency'),
  from: query(ctx, 'from'),
  to: query(ctx, 'to'),
});

const PATH = '/admin/api';

/** RFC 7591 §2: fields One-ID does not use are left out with a warning, not refused. */
const ignoredWarnings = (ignored: string[]) =>
  ignored.length ? { warnings: ignored.map((f) => `${f}: not used by One-ID; ignored`) } : {};

// A JSON escape of U+0000 or of a lone surrogate (a high one not followed by a low one, or the reverse).
const UNSTORABLE_ESCAPE =
  /\\u0000|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}/;

/** A manifest is stored as it is parsed: refused like a JSON body (naming the field) when it holds unstorable text. */
const refuseUnstorableManifest = (text: string, format: ManifestFormat) => {
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return; // the manifest import names the syntax error
    }
    refuseUnstorable(parsed);
  } else if (text.includes('\u0000') || UNSTORABLE_ESCAPE.test(text)) {
    throw new AppError(
      'ERR_BAD_BODY',
      'manifest: contains a NUL character or a lone surrogate, which no field accepts',
      { details: { field: 'manifest' } },
    );
  }
};

/** co-body's (raw-body's) refusal of a body over its limit. */
const tooLarge = (error: unknown) => (error as { status?: unknown } | null)?.status === 413;

export const adminApiRoutes = (
  router: Router,
  { admin, oidc, audience, reauthSeconds, upstreams }: Deps,
) => {
  const unauthenticated = (code: ErrorCode, message: string) =>
    new AppError(code, message, { status: 401 });

  /** The administrator behind a bearer token (the engine's own opaque token store). */
  const authenticate = async (ctx: Context): Promise<Principal> => {
    const match = /^Bearer ([\w.~+/-]+=*)$/i.exec(ctx.get('authorization'));
    if (!match)
      throw unauthenticated(
        'ERR_UNAUTHENTICATED',
        'send an admin API access token: Authorization: Bearer <token>',
      );
    const token = await oidc.tokens.findAccessToken(match[1]!);
    // Sender-constrained tokens (DPoP, mTLS) would need their proof checked here: not accepted.
    if (!token || token.isExpired || token.aud !== audience || token.senderConstrained)
      throw unauthenticated(
        'ERR_INVALID_TOKEN',
        'the access token is invalid, expired or not for the admin API',
      );
    if (!(await oidc.interactions.findClient(token.clientId!)))
      throw unauthenticated(
        'ERR_INVALID_TOKEN',
        "the access token's client is no longer registered",
      );
    const scopes = new Set((token.scope ?? '').split(' ').filter(Boolean));
    // No auth_time: treat the sign-in as old (reads only). No acr: below every level (refused).
    const authTime = typeof token.extra?.auth_time === 'number' ? token.extra.auth_time : 0;
    const acr = typeof token.extra?.acr === 'string' ? token.extra.acr : undefined;
    const principal = await admin.admins.principalFor(token.accountId, {
      via: 'api',
      ip: ctx.ip,
      authTime,
      acr,
      scopes,
    });
    if (!principal)
      throw new AppError('ERR_NOT_ADMIN', 'this account has no administrator role', {
        status: 403,
      });
    // Every request, whatever its route: a token from a `low` sign-in opens nothing.
    admin.guard.assurance(principal);
    return principal;
  };

  type Handler = (ctx: Context, p: Principal) => Promise<void>;
  const route = (method: 'get' | 'post' | 'put' | 'delete', path: string, handler: Handler) => {
    router[method](`${PATH}${path}`, async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      try {
        await handler(ctx, await authenticate(ctx));
      } catch (error) {
        problem(ctx, error, reauthSeconds, admin.guard.minAcr);
      }
    });
  };
  const json = async (ctx: Context) => {
    if (!ctx.is('application/json'))
      throw new AppError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send application/json', { status: 415 });
    return readBody(ctx);
  };
  const jsonArray = async (ctx: Context): Promise<unknown> => {
    if (!ctx.is('application/json'))
      throw new AppError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send application/json', { status: 415 });
    let body: unknown;
    try {
      body = await coBody.json(ctx, { limit: '64kb', strict: true });
    } catch (error) {
      if (tooLarge(error))
        throw new AppError('ERR_BAD_BODY', 'the request body is too large (at most 64 KiB)', {
          status: 413,
        });
      throw new AppError('ERR_BAD_BODY', 'the request body is not valid JSON');
    }
    return refuseUnstorable(body);
  };
  const page = (ctx: Context) => pageRequest(query(ctx, 'limit'), query(ctx, 'after'));

  if (upstreams) adminUpstreamRoutes(route, { upstreams, guard: admin.guard, json });

  router.get(`${PATH}/openapi.json`, (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = buildOpenApi({ issuer: new URL(audience).origin, audience });
  });

  route('get', '/me', async (ctx, p) => {
    admin.guard.read(p);
    ctx.body = { account_id: p.accountId, roles: p.grants, scopes: [...(p.scopes ?? [])] };
  });

  // Agencies
  route('get', '/agencies', async (ctx, p) =>
    sendPage(ctx, await admin.admins.listAgencies(p, page(ctx)), agencyJson),
  );
  route('get', '/agencies/:name', async (ctx, p) => {
    const agency = await admin.admins.findAgency(p, ctx.params.name!);
    if (!agency)
      throw new AppError('ERR_AGENCY_UNKNOWN', `agency ${ctx.params.name} does not exist`, {
        status: 404,
      });
    ctx.body = agencyJson(agency);
  });
  route('put', '/agencies/:name', async (ctx, p) => {
    const { agency, created } = await admin.admins.putAgency(p, {
      ...(await json(ctx)),
      name: ctx.params.name,
    });
    ctx.status = created ? 201 : 200;
    ctx.body = agencyJson(agency);
  });

  // Clients
  route('get', '/clients', async (ctx, p) => {
    const status = query(ctx, 'status');
    if (status && !['draft', 'active', 'disabled'].includes(status))
      throw new AppError('ERR_BAD_PARAMETER', 'status: must be draft, active or disabled', {
        details: { field: 'status' },
      });
    sendPage(
      ctx,
      await admin.registry.list(p, {
        ...page(ctx),
        agency: query(ctx, 'agency'),
        status: status as 'draft' | undefined,
      }),
      (c) => c,
    );
  });
  route('post', '/clients', async (ctx, p) => {
    const { client, clientSecret, ignored } = await admin.registry.create(p, await json(ctx));
    ctx.status = 201;
    ctx.set('Location', `${PATH}/clients/${encodeURIComponent(client.client_id)}`);
    ctx.body = {
      ...client,
      ...(clientSecret && { client_secret: clientSecret }),
      ...ignoredWarnings(ignored),
    };
  });
  route('get', '/clients/:id', async (ctx, p) => {
    ctx.body = await admin.registry.get(p, ctx.params.id!);
  });
  route('put', '/clients/:id', async (ctx, p) => {
    const { client, clientSecret, ignored } = await admin.registry.update(
      p,
      ctx.params.id!,
      await json(ctx),
    );
    ctx.body = {
      ...client,
      ...(clientSecret && { client_secret: clientSecret }),
      ...ignoredWarnings(ignored),
    };
  });
  route('delete', '/clients/:id', async (ctx, p) => {
    await admin.registry.remove(p, ctx.params.id!);
    ctx.status = 204;
  });
  route('post', '/clients/:id/disable', async (ctx, p) => {
    ctx.body = await admin.registry.disable(p, ctx.params.id!);
  });
  route('post', '/clients/:id/enable', async (ctx, p) => {
    ctx.body = await admin.registry.enable(p, ctx.params.id!);
  });
  // The review's other outcome: the draft goes back to its agency with the reason (audited).
  route('post', '/clients/:id/return', async (ctx, p) => {
    const body = await json(ctx);
    ctx.body = await admin.registry.returnDraft(
      p,
      ctx.params.id!,
      typeof body.reason === 'string' ? body.reason : '',
    );
  });
  route('post', '/clients/:id/secret', async (ctx, p) => {
    const { clientSecret, previousValidUntil } = await admin.registry.rotateSecret(
      p,
      ctx.params.id!,
    );
    ctx.body = {
      client_id: ctx.params.id,
      client_secret: clientSecret,
      previous_secret_valid_until: previousValidUntil?.toISOString() ?? null,
    };
  });
  route('put', '/clients/:id/allowances', async (ctx, p) => {
    ctx.body = await admin.registry.setAllowances(p, ctx.params.id!, await jsonArray(ctx));
  });

  // Administrators
  route('get', '/admins', async (ctx, p) =>
    sendPage(
      ctx,
      await admin.admins.listGrants(p, { ...page(ctx), accountId: query(ctx, 'account_id') }),
      grantJson,
    ),
  );
  route('post', '/admins', async (ctx, p) => {
    const body = await json(ctx);
    const grant = await admin.admins.grant(p, {
      accountId: String(body.account_id ?? ''),
      role: String(body.role ?? ''),
      agency: typeof body.agency === 'string' ? body.agency : null,
    });
    ctx.status = 201;
    ctx.body = grantJson(grant);
  });
  route('delete', '/admins/:id', async (ctx, p) => {
    if (!(await admin.admins.revokeGrant(p, ctx.params.id!)))
      throw new AppError('ERR_NOT_FOUND', `no grant ${ctx.params.id}`, { status: 404 });
    ctx.status = 204;
  });

  // Audit
  route('get', '/audit', async (ctx, p) =>
    sendPage(ctx, await admin.audit.search(p, { ...auditQuery(ctx), ...page(ctx) }), auditJson),
  );
  route('get', '/audit/export', async (ctx, p) => {
    const format = query(ctx, 'format') ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'csv')
      throw new AppError('ERR_BAD_PARAMETER', 'format: must be jsonl or csv', {
        details: { field: 'format' },
      });
    const q = auditQuery(ctx);
    await admin.audit.search(p, { ...q, limit: 1 }); // checks the filters before the stream starts
    const records = admin.audit.export(p, q);
    ctx.type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson';
    ctx.set('Content-Disposition', `attachment; filename="one-id-audit.${format}"`);
    ctx.body = Readable.from(
      (async function* lines() {
        if (format === 'csv') yield `${AUDIT_CSV_COLUMNS.join(',')}\r\n`;
        for await (const r of records)
          yield format === 'csv' ? auditCsvLine(r) : `${JSON.stringify(auditJson(r))}\n`;
      })(),
    );
  });

  // Manifest (bulk onboarding)
  route('post', '/manifest', async (ctx, p) => {
    const format: ManifestFormat =
      query(ctx, 'format') === 'csv' || ctx.is('text/csv') ? 'csv' : 'json';
    const dryRun = query(ctx, 'dry_run') === 'true';
    let text: string;
    try {
      text = await coBody.text(ctx, { limit: '5mb' });
    } catch (error) {
      throw new AppError(
        'ERR_BAD_BODY',
        tooLarge(error)
          ? 'the manifest is too large (at most 5 MB)'
          : 'the manifest could not be read',
        { status: tooLarge(error) ? 413 : 400 },
      );
    }
    refuseUnstorableManifest(text, format);
    const result = await admin.manifest.import(p, text, format, { dryRun });
    ctx.status = result.rejected.length ? 422 : 200;
    ctx.body = {
      dry_run: result.dryRun,
      applied: result.applied,
      changes: result.changes,
      rejected: result.rejected,
      client_secrets: result.secrets,
    };
  });
  route('get', '/manifest', async (ctx, p) => {
    const format: ManifestFormat = query(ctx, 'format') === 'csv' ? 'csv' : 'json';
    ctx.type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json';
    ctx.body = await admin.manifest.export(p, format);
  });

  // Dynamic client registration: initial access tokens per agency
  route('get', '/dcr/tokens', async (ctx, p) =>
    sendPage(
      ctx,
      await admin.dcr.listInitialTokens(p, { ...page(ctx), agency: query(ctx, 'agency') }),
      (t) => ({
        id: t.id,
        agency: t.agency,
        created_by: t.createdBy,
        created_at: t.createdAt.toISOString(),
        expires_at: t.expiresAt?.toISOString() ?? null,
        revoked_at: t.revokedAt?.toISOString() ?? null,
      }),
    ),
  );
  route('post', '/dcr/tokens', async (ctx, p) => {
    const body = await json(ctx);
    const issued = await admin.dcr.issueInitialToken(p, {
      agency: String(body.agency ?? ''),
      days: body.days === undefined ? undefined : Number(body.days),
    });
    ctx.status = 201;
    ctx.body = {
      id: issued.id,
      agency: issued.agency,
      initial_access_token: issued.token,
      expires_at: issued.expiresAt.toISOString(),
    };
  });
  route('delete', '/dcr/tokens/:id', async (ctx, p) => {
    if (!(await admin.dcr.revokeInitialToken(p, ctx.params.id!)))
      throw new AppError('ERR_NOT_FOUND', `no active token ${ctx.params.id}`, { status: 404 });
    ctx.status = 204;
  });

  // Anything else under the API is a problem+json 404, not an engine page.
  router.all(`${PATH}/(.*)`, (ctx) =>
    problem(
      ctx,
      new AppError('ERR_NOT_FOUND', `no such endpoint: ${ctx.method} ${ctx.path}`, { status: 404 }),
      reauthSeconds,
      admin.guard.minAcr,
    ),
  );
};
