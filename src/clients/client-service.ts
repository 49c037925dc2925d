// Agency systems (relying parties): registration with validated metadata, and the lookup the
// OIDC engine uses. Secrets are random, shown once, and stored sealed (the engine needs the
// plaintext to compare client_secret_basic credentials, so a one-way hash cannot be used).
import type { Knex } from 'knex';
import { appendAudit } from '../audit/index.ts';
import { AppError, randomToken, type SecretBox } from '../shared/index.ts';
import { parseClientMetadata, usesSecret, type ClaimAllowance } from './client-metadata.ts';
import { clientExists, findClient, insertClient, listAllowances, listClients, replaceAllowances, type AllowanceRow, type ClientRecord } from './client-repo.ts';

const toRows = (list: ClaimAllowance[]): AllowanceRow[] => list.map((a) => ({ claim: a.claim, purpose: a.purpose, required: a.required, retentionDays: a.retention_days }));

type Deps = {
  knex: Knex;
  secretBox: SecretBox;
  /** Claim names in the catalogue: allowances may only name these. */
  knownClaims: () => Promise<Set<string>>;
};

export const createClientService = ({ knex, secretBox, knownClaims }: Deps) => {
  const checkClaims = async (list: ClaimAllowance[]) => {
    const known = await knownClaims();
    const unknown = list.map((a) => a.claim).filter((c) => !known.has(c));
    if (unknown.length) {
      throw new AppError('ERR_INVALID_CLIENT_METADATA', `allowed_claims: ${unknown.join(', ')} not in the claims catalogue`, { details: { problems: [`allowed_claims: unknown claim ${unknown.join(', ')}`] } });
    }
  };

  return {
    /** Registers a client; returns its id and, for secret-based methods, the secret (shown once). */
    async addClient(input: unknown, actor: string): Promise<{ clientId: string; clientSecret?: string; metadata: Record<string, unknown> }> {
      const { agency, client_id: requestedId, allowed_claims: allowances, ...metadata } = parseClientMetadata(input);
      await checkClaims(allowances);
      const clientId = requestedId ?? `${randomToken(12)}`;
      const clientSecret = usesSecret(metadata) ? randomToken(32) : undefined;
      const engineMetadata = { ...metadata, subject_type: 'pairwise' };
      await knex.transaction(async (trx) => {
        if (await clientExists(trx, clientId)) {
          throw new AppError('ERR_CLIENT_EXISTS', `client_id: ${clientId} is already registered`, { status: 409, details: { field: 'client_id' } });
        }
        await insertClient(trx, { clientId, agency, metadata: engineMetadata, secretSealed: clientSecret ? secretBox.seal(clientSecret) : null });
        await replaceAllowances(trx, clientId, toRows(allowances));
        await appendAudit(trx, { action: 'clients.created', actor, subject: `client:${clientId}`, details: { agency, after: engineMetadata, allowedClaims: allowances } });
      });
      return { clientId, ...(clientSecret && { clientSecret }), metadata: { client_id: clientId, agency, ...engineMetadata } };
    },

    /**
     * Registers or refreshes One-ID's own first-party clients (e.g. the My One-ID page) at start.
     * They are public clients (PKCE, no secret) whose redirect URIs live on the issuer itself.
     */
    async ensureFirstPartyClient(clientId: string, metadata: { client_name: string; redirect_uris: string[]; post_logout_redirect_uris?: string[] }): Promise<void> {
      const engineMetadata = { ...metadata, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none', subject_type: 'pairwise' };
      await knex.transaction(async (trx) => {
        const existing = await findClient(trx, clientId);
        if (existing && JSON.stringify(existing.metadata) === JSON.stringify(engineMetadata)) return;
        if (existing) await trx('clients').where({ client_id: clientId }).update({ metadata: JSON.stringify(engineMetadata), updated_at: trx.fn.now() });
        else await insertClient(trx, { clientId, agency: 'One-ID', metadata: engineMetadata, secretSealed: null });
        await appendAudit(trx, { action: existing ? 'clients.updated' : 'clients.created', actor: 'system', subject: `client:${clientId}`, details: { after: engineMetadata, firstParty: true } });
      });
    },

    /** The claims a client may ask for, with purpose, required flag and retention. */
    allowances: (clientId: string) => listAllowances(knex, clientId),

    /** Replaces a client's allowances (audited with before/after); consent for added claims is asked again. */
    async setAllowances(clientId: string, list: ClaimAllowance[], actor: string): Promise<void> {
      await checkClaims(list);
      await knex.transaction(async (trx) => {
        if (!(await findClient(trx, clientId))) throw new AppError('ERR_CLIENT_UNKNOWN', `client ${clientId} does not exist`, { status: 404 });
        const before = await listAllowances(trx, clientId);
        await replaceAllowances(trx, clientId, toRows(list));
        await appendAudit(trx, { action: 'clients.allowances.updated', actor, subject: `client:${clientId}`, details: { before, after: list } });
      });
    },

    list: (options: { after?: string; limit?: number } = {}) => listClients(knex, { after: options.after, limit: Math.min(options.limit ?? 100, 1000) }),

    find: (clientId: string): Promise<ClientRecord | undefined> => findClient(knex, clientId),

    /** The metadata the engine sees, or undefined when the client is unknown, disabled or deleted. */
    async engineMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
      const record = await findClient(knex, clientId);
      if (!record || record.status !== 'active') return undefined;
      return {
        ...record.metadata,
        client_id: record.clientId,
        ...(record.secretSealed && { client_secret: secretBox.open(record.secretSealed) }),
      };
    },
  };
};

export type ClientService = ReturnType<typeof createClientService>;
