// Agency account links API (docs/federation.md): an agency system, authenticated with an
// access token it obtained from One-ID's token endpoint with the client_credentials grant,
// records, reads and removes the link between its own member id and the citizen it knows by
// its pairwise sub. Every request acts on the calling client's links only.
//   POST   /api/agency-links        { "sub": "...", "local_id": "..." }  -> 201 (200 when it existed)
//   GET    /api/agency-links/:sub   -> 200 { sub, local_id, created_at, updated_at }
//   DELETE /api/agency-links/:sub   -> 204
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { AgencyLinkService } from '../../federation/index.ts';
import type { OidcFacade } from '../../oidc/index.ts';
import { subjectSector } from '../../oidc/claims/pairwise.ts';
import { AppError, isAppError } from '../../shared/index.ts';
import { readBody } from '../middleware/body.ts';

type Deps = {
  oidc: OidcFacade;
  agencyLinks: AgencyLinkService;
  agencyOf: (clientId: string) => Promise<string | undefined>;
};

const invalidToken = (description: string) =>
  new AppError('ERR_AGENCY_TOKEN', description, {
    status: 401,
    details: { error: 'invalid_token' },
  });

/** RFC 7807 problem+json for every outcome of this API; RFC 6750 WWW-Authenticate on 401. */
const problems = async (ctx: Context, next: Next) => {
  ctx.set('Cache-Control', 'no-store');
  try {
    await next();
  } catch (error) {
    if (!isAppError(error) || error.status >= 500) throw error;
    if (error.status === 401)
      ctx.set(
        'WWW-Authenticate',
        `Bearer realm="One-ID", error="invalid_token", error_description="${error.message.replace(/"/g, "'")}"`,
      );
    ctx.status = error.status;
    ctx.type = 'application/problem+json';
    ctx.body = {
      type: 'about:blank',
      title: error.code,
      status: error.status,
      detail: error.message,
      code: error.code,
    };
  }
};

export const agencyLinkRoutes = (router: Router, { oidc, agencyLinks, agencyOf }: Deps) => {
  /** The calling client, from a client_credentials access token issued to it by One-ID. */
  const caller = async (ctx: Context) => {
    const match = /^Bearer ([\w.~+/-]{20,512}=*)$/i.exec(ctx.get('authorization'));
    if (!match)
      throw invalidToken(
        'send an access token from the client_credentials grant as Authorization: Bearer',
      );
    const token = await oidc.tokens.findClientCredentials(match[1]!);
    if (!token || token.isExpired) throw invalidToken('the access token is unknown or expired');
    // Sender-constrained tokens would need their proof checked here: only plain bearer tokens are accepted.
    if (token.senderConstrained)
      throw invalidToken(
        'sender-constrained (DPoP or mTLS) tokens are not accepted here; use a bearer token',
      );
    const client = token.clientId ? await oidc.interactions.findClient(token.clientId) : undefined;
    if (!client) throw invalidToken('the client of this access token is not active');
    await agencyLinks.assertMayLink(client.clientId);
    return {
      clientId: client.clientId,
      sector: subjectSector(await agencyOf(client.clientId), client.sectorIdentifier ?? ''),
      ip: ctx.ip,
    };
  };

  router.post('/api/agency-links', problems, async (ctx) => {
    const who = await caller(ctx);
    if (!ctx.is('application/json'))
      throw new AppError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send application/json', { status: 415 });
    const body = await readBody(ctx);
    const { created, link } = await agencyLinks.put(who, body);
    ctx.status = created ? 201 : 200;
    ctx.set('Location', `/api/agency-links/${encodeURIComponent(link.sub)}`);
    ctx.body = link;
  });

  router.get('/api/agency-links/:sub', problems, async (ctx) => {
    ctx.body = await agencyLinks.get(await caller(ctx), ctx.params.sub);
  });

  router.delete('/api/agency-links/:sub', problems, async (ctx) => {
    await agencyLinks.remove(await caller(ctx), ctx.params.sub);
    ctx.status = 204;
  });
};
