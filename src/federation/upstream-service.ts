// Platform administrators' use cases for upstream identity providers: register, change,
// enable/disable, list. The client secret One-ID uses at the upstream is sealed at rest and
// never returned; every change is audited (before/after, without the secret).
import type { Knex } from 'knex';
import { appendAudit } from '../audit/index.ts';
import { AppError, type SecretBox } from '../shared/index.ts';
import { cachedByFeed, type ChangeFeed } from '../store/index.ts';
import { parseUpstream, type UpstreamSettings } from './upstream-metadata.ts';
import {
  findUpstream,
  findUpstreamByIssuer,
  insertUpstream,
  listUpstreams,
  setUpstreamStatus,
  updateUpstream,
  type UpstreamRecord,
  type UpstreamStatus,
} from './upstream-repo.ts';

/** Where a change comes from (recorded on its audit event). */
export type UpstreamChangeContext = { ip?: string | undefined; via?: string | undefined };

/** An upstream as administrators see it: everything but the secret. */
export type UpstreamView = Omit<UpstreamRecord, 'clientSecretSealed'> & {
  hasClientSecret: boolean;
};

export const toUpstreamView = ({ clientSecretSealed, ...rest }: UpstreamRecord): UpstreamView => ({
  ...rest,
  hasClientSecret: clientSecretSealed !== null,
});

const notFound = (id: string) =>
  new AppError('ERR_UPSTREAM_NOT_FOUND', `upstream ${id} does not exist`, { status: 404 });
const audited = (u: UpstreamSettings | UpstreamView) => {
  const { clientSecret: _secret, ...rest } = u as UpstreamSettings;
  return rest;
};

/** The feed topic of upstream changes: every instance's login-page list is dropped. */
const TOPIC = 'upstreams';
const changed = (feed: ChangeFeed | undefined) => feed?.publish(TOPIC).catch(() => undefined);

export const createUpstreamService = ({
  knex,
  secretBox,
  feed,
}: {
  knex: Knex;
  secretBox: SecretBox;
  /** Where changes are published (and, on a server, heard): see store/change-feed.ts. */
  feed?: ChangeFeed | undefined;
}) => ({
  /** Registers an upstream (active at once). */
  async add(
    input: unknown,
    actor: string,
    context: UpstreamChangeContext = {},
  ): Promise<UpstreamView> {
    const settings = parseUpstream(input);
    await knex.transaction(async (trx) => {
      if (await findUpstream(trx, settings.id))
        throw new AppError('ERR_UPSTREAM_EXISTS', `id: ${settings.id} is already registered`, {
          status: 409,
          details: { field: 'id' },
        });
      if (await findUpstreamByIssuer(trx, settings.issuer))
        throw new AppError(
          'ERR_UPSTREAM_EXISTS',
          `issuer: ${settings.issuer} is already registered`,
          { status: 409, details: { field: 'issuer' } },
        );
      await insertUpstream(trx, {
        ...settings,
        clientSecretSealed: settings.clientSecret ? secretBox.seal(settings.clientSecret) : null,
        logoUri: settings.logoUri ?? null,
      });
      await appendAudit(trx, {
        action: 'federation.upstream.created',
        actor,
        subject: `upstream:${settings.id}`,
        ip: context.ip,
        details: { ...(context.via && { via: context.via }), after: audited(settings) },
      });
    });
    await changed(feed);
    return toUpstreamView((await findUpstream(knex, settings.id))!);
  },

  /**
   * Replaces an upstream's settings (the same rules; `id` cannot change). Without
   * `client_secret` the stored secret is kept (unless the method becomes `none`).
   */
  async update(
    id: string,
    input: unknown,
    actor: string,
    context: UpstreamChangeContext = {},
  ): Promise<UpstreamView> {
    const body: Record<string, unknown> =
      input && typeof input === 'object' && !Array.isArray(input)
        ? { ...(input as Record<string, unknown>), id }
        : { id };
    await knex.transaction(async (trx) => {
      const existing = await findUpstream(trx, id);
      if (!existing) throw notFound(id);
      // No client_secret given: the stored one stays (validated as if given), unless the method is now `none`.
      const keepSecret =
        !('client_secret' in body) &&
        existing.clientSecretSealed !== null &&
        body.token_endpoint_auth_method !== 'none';
      const settings = parseUpstream(
        keepSecret
          ? { ...body, client_secret: secretBox.open(existing.clientSecretSealed!) }
          : body,
      );
      const other = await findUpstreamByIssuer(trx, settings.issuer);
      if (other && other.id !== id)
        throw new AppError(
          'ERR_UPSTREAM_EXISTS',
          `issuer: ${settings.issuer} is already registered as ${other.id}`,
          { status: 409, details: { field: 'issuer' } },
        );
      const sealed = keepSecret
        ? existing.clientSecretSealed
        : settings.clientSecret
          ? secretBox.seal(settings.clientSecret)
          : null;
      await updateUpstream(trx, {
        ...settings,
        clientSecretSealed: sealed,
        logoUri: settings.logoUri ?? null,
      });
      await appendAudit(trx, {
        action: 'federation.upstream.updated',
        actor,
        subject: `upstream:${id}`,
        ip: context.ip,
        details: {
          ...(context.via && { via: context.via }),
          before: audited(toUpstreamView(existing)),
          after: audited(settings),
          secretChanged: !keepSecret,
        },
      });
    });
    await changed(feed);
    return toUpstreamView((await findUpstream(knex, id))!);
  },

  /** Enables or disables an upstream; a disabled one leaves the sign-in page and signs nobody in. Returns the status before. */
  async setStatus(
    id: string,
    status: UpstreamStatus,
    actor: string,
    context: UpstreamChangeContext = {},
  ): Promise<UpstreamStatus> {
    const before = await knex.transaction(async (trx) => {
      const existing = await findUpstream(trx, id);
      if (!existing) throw notFound(id);
      if (existing.status === status) return status;
      await setUpstreamStatus(trx, id, status);
      await appendAudit(trx, {
        action:
          status === 'active' ? 'federation.upstream.enabled' : 'federation.upstream.disabled',
        actor,
        subject: `upstream:${id}`,
        ip: context.ip,
        details: {
          ...(context.via && { via: context.via }),
          before: { status: existing.status },
          after: { status },
        },
      });
      return existing.status;
    });
    if (before !== status) await changed(feed);
    return before;
  },

  /** The active upstreams the login page offers: kept in process while the feed is live. */
  activeForLogin: cachedByFeed(feed, TOPIC, async () =>
    (await listUpstreams(knex, 'active')).map(toUpstreamView),
  ),

  /** Upstreams by id (all, or a keyset page: ids after `page.after`, at most `page.limit`). */
  list: async (
    status?: UpstreamStatus,
    page: { after?: string | undefined; limit?: number | undefined } = {},
  ): Promise<UpstreamView[]> => (await listUpstreams(knex, status, page)).map(toUpstreamView),
  find: async (id: string): Promise<UpstreamView | undefined> => {
    const record = await findUpstream(knex, id);
    return record && toUpstreamView(record);
  },

  /** An active upstream with its secret opened: for the sign-in itself, never for display. */
  async active(
    id: string,
  ): Promise<(UpstreamRecord & { clientSecret: string | undefined }) | undefined> {
    const record = /^[a-z0-9][a-z0-9-]{1,62}$/.test(id) ? await findUpstream(knex, id) : undefined;
    if (!record || record.status !== 'active') return undefined;
    return {
      ...record,
      clientSecret: record.clientSecretSealed
        ? secretBox.open(record.clientSecretSealed)
        : undefined,
    };
  },
});

export type UpstreamService = ReturnType<typeof createUpstreamService>;
