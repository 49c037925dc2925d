// Upstream identity providers (table upstream_providers). Functions take the handle first.
import type { Knex } from 'knex';
import type { UpstreamSettings } from './upstream-metadata.ts';

export type UpstreamStatus = 'active' | 'disabled';

/** A registration as stored: its settings, the client secret sealed, and its status. */
export type UpstreamRecord = Omit<UpstreamSettings, 'clientSecret' | 'logoUri'> & {
  clientSecretSealed: string | null;
  logoUri: string | null;
  status: UpstreamStatus;
  createdAt: Date;
  updatedAt: Date;
};

type Row = Record<string, any>;

const toRecord = (r: Row): UpstreamRecord => ({
  id: r.id,
  issuer: r.issuer,
  clientId: r.client_id,
  clientSecretSealed: r.client_secret_sealed ?? null,
  tokenEndpointAuthMethod: r.token_endpoint_auth_method,
  scopes: r.scopes,
  claimMapping: r.claim_mapping,
  acr: r.acr,
  matchRule: r.match_rule,
  enrolment: r.enrolment,
  displayName: { ko: r.display_name_ko, en: r.display_name_en },
  logoUri: r.logo_uri ?? null,
  status: r.status,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

const toRow = (u: Omit<UpstreamRecord, 'createdAt' | 'updatedAt' | 'status'>) => ({
  id: u.id,
  issuer: u.issuer,
  client_id: u.clientId,
  client_secret_sealed: u.clientSecretSealed,
  token_endpoint_auth_method: u.tokenEndpointAuthMethod,
  scopes: JSON.stringify(u.scopes),
  claim_mapping: JSON.stringify(u.claimMapping),
  acr: u.acr,
  match_rule: JSON.stringify(u.matchRule),
  enrolment: u.enrolment,
  display_name_ko: u.displayName.ko,
  display_name_en: u.displayName.en,
  logo_uri: u.logoUri,
});

export const findUpstream = async (db: Knex, id: string): Promise<UpstreamRecord | undefined> => {
  const row = await db('upstream_providers').where({ id }).first();
  return row ? toRecord(row) : undefined;
};

export const findUpstreamByIssuer = async (
  db: Knex,
  issuer: string,
): Promise<UpstreamRecord | undefined> => {
  const row = await db('upstream_providers').where({ issuer }).first();
  return row ? toRecord(row) : undefined;
};

/** Upstreams by id; `after` and `limit` give a keyset page (ids after `after`, at most `limit`). */
export const listUpstreams = async (
  db: Knex,
  status?: UpstreamStatus,
  page: { after?: string | undefined; limit?: number | undefined } = {},
): Promise<UpstreamRecord[]> =>
  (
    await db('upstream_providers')
      .modify((q) => {
        if (status) q.where({ status });
        if (page.after !== undefined) q.where('id', '>', page.after);
        if (page.limit !== undefined) q.limit(page.limit);
      })
      .orderBy('id')
  ).map(toRecord);

export const insertUpstream = async (
  db: Knex,
  u: Omit<UpstreamRecord, 'createdAt' | 'updatedAt' | 'status'>,
): Promise<void> => {
  await db('upstream_providers').insert({ ...toRow(u), status: 'active' });
};

export const updateUpstream = async (
  db: Knex,
  u: Omit<UpstreamRecord, 'createdAt' | 'updatedAt' | 'status'>,
): Promise<void> => {
  await db('upstream_providers')
    .where({ id: u.id })
    .update({ ...toRow(u), updated_at: db.fn.now() });
};

export const setUpstreamStatus = async (
  db: Knex,
  id: string,
  status: UpstreamStatus,
): Promise<void> => {
  await db('upstream_providers').where({ id }).update({ status, updated_at: db.fn.now() });
};
