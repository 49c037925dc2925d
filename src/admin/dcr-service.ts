// OAuth Dynamic Client Registration (RFC 7591/7592) for agencies that automate. A platform
// administrator issues an initial access token per agency (`dcr issue-token`, the API); what it
// registers lands in that agency, through the client service (same rules, same audit).
//
// Policy (docs/admin.md): a registered client is ACTIVE BUT LIMITED. Issuing the token is the
// platform review of that agency's automation, so its systems can sign citizens in at once, but
// with nothing beyond the pairwise `sub`: `allowed_claims` (personal data) is refused here and
// set by an administrator after review, and `client_credentials` (machine access with no
// citizen) is refused. The agency is the token's; a body naming another agency is refused.
import type { Knex } from 'knex';
import { appendAudit } from '../audit/index.ts';
import type { ClientService } from '../clients/index.ts';
import { AppError, randomToken, sha256, type Clock } from '../shared/index.ts';
import {
  deleteDcrToken,
  findDcrToken,
  insertDcrToken,
  listDcrTokens,
  revokeDcrToken,
  findDcrTokenById,
  type DcrTokenRecord,
} from './dcr-repo.ts';
import { decodeCursor, MAX_LIMIT, toPage, type Page, type PageRequest } from './pagination.ts';
import type { Guard, Principal } from './roles.ts';

/** The engine policy every One-ID initial access token carries. */
export const DCR_POLICY = 'one-id-agency';

type Deps = {
  knex: Knex;
  clients: ClientService;
  guard: Guard;
  clock: Clock;
  agencyExists: (name: string) => Promise<boolean>;
  onClientDisabled?: ((clientId: string, actor: string) => Promise<void>) | undefined;
};

const refuse = (field: string, message: string) =>
  new AppError('ERR_INVALID_CLIENT_METADATA', `${field}: ${message}`, {
    details: { problems: [`${field}: ${message}`] },
  });

export type DcrTokenView = Omit<DcrTokenRecord, 'payload' | 'clientId' | 'kind'>;
const tokenView = ({
  payload: _p,
  clientId: _c,
  kind: _k,
  ...rest
}: DcrTokenRecord): DcrTokenView => rest;

export const createDcrService = ({
  knex,
  clients,
  guard,
  clock,
  agencyExists,
  onClientDisabled,
}: Deps) => ({
  /** Issues an initial access token for `agency` (shown once; only its hash is kept). */
  async issueInitialToken(
    p: Principal,
    input: { agency: string; days?: number | undefined },
  ): Promise<{ token: string; id: string; agency: string; expiresAt: Date }> {
    guard.platform(p);
    const days = input.days ?? 30;
    if (!Number.isInteger(days) || days < 1 || days > 365)
      throw new AppError('ERR_INVALID_ADMIN_INPUT', 'days: must be a whole number from 1 to 365', {
        details: { field: 'days' },
      });
    if (!input.agency || !(await agencyExists(input.agency)))
      throw new AppError('ERR_AGENCY_UNKNOWN', `agency: no agency ${input.agency}`, {
        status: 404,
        details: { field: 'agency' },
      });
    const token = randomToken(32);
    const expiresAt = new Date(clock.now().getTime() + days * 86400_000);
    const record = await knex.transaction(async (trx) => {
      const saved = await insertDcrToken(trx, {
        kind: 'initial',
        tokenHash: sha256(token),
        agency: input.agency,
        createdBy: p.actor,
        expiresAt,
      });
      await appendAudit(trx, {
        action: 'dcr.token.issued',
        actor: p.actor,
        subject: `dcr-token:${saved.id}`,
        ip: p.ip,
        details: { agency: input.agency, expiresAt: expiresAt.toISOString(), via: p.via },
      });
      return saved;
    });
    return { token, id: record.id, agency: input.agency, expiresAt };
  },

  async listInitialTokens(
    p: Principal,
    o: PageRequest & { agency?: string | undefined } = {},
  ): Promise<Page<DcrTokenView>> {
    guard.platform(p, false);
    const limit = Math.min(o.limit ?? 50, MAX_LIMIT);
    const rows = await listDcrTokens(knex, {
      kind: 'initial',
      after: decodeCursor(o.after),
      limit: limit + 1,
      agency: o.agency,
    });
    return toPage(rows, limit, (r) => r.id, tokenView);
  },

  async revokeInitialToken(p: Principal, id: string): Promise<boolean> {
    guard.platform(p);
    if (!/^\d{1,19}$/.test(id)) return false;
    return knex.transaction(async (trx) => {
      const record = await findDcrTokenById(trx, id);
      if (!record || record.kind !== 'initial' || record.revokedAt) return false;
      await revokeDcrToken(trx, id, clock.now());
      await appendAudit(trx, {
        action: 'dcr.token.revoked',
        actor: p.actor,
        subject: `dcr-token:${id}`,
        ip: p.ip,
        details: { agency: record.agency, via: p.via },
      });
      return true;
    });
  },

  // --- What the engine's registration endpoint uses (src/oidc/clients/admin-engine.ts) ---

  initialToken: (value: string) => findDcrToken(knex, 'initial', sha256(value), clock.now()),
  registrationToken: (value: string) =>
    findDcrToken(knex, 'registration', sha256(value), clock.now()),

  /** Keeps a registration access token the engine issued (bound to its client and agency). */
  async saveRegistrationToken(value: string, payload: Record<string, unknown>): Promise<void> {
    const clientId = String(payload.clientId);
    const client = await clients.find(clientId);
    if (!client) {
      const message = `registration access token for unknown client ${clientId}`;
      throw new AppError('ERR_INTERNAL', message, { status: 500 });
    }
    const { jti: _secret, ...rest } = payload;
    const exp = typeof payload.exp === 'number' ? new Date(payload.exp * 1000) : null;
    await insertDcrToken(knex, {
      kind: 'registration',
      tokenHash: sha256(value),
      agency: client.agency,
      clientId,
      payload: rest,
      createdBy: `client:${clientId}`,
      expiresAt: exp,
    });
  },

  deleteRegistrationToken: (value: string) => deleteDcrToken(knex, 'registration', sha256(value)),

  /**
   * Applies the DCR policy to a registration (or RFC 7592 update) body and the same metadata
   * rules as every other registration; throws naming the field. Returns the client service input.
   */
  async checkRequest(
    agency: string,
    body: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const { client_secret: _s, ...input } = body;
    if ('agency' in input && input.agency !== agency)
      throw refuse('agency', `this token registers systems of ${agency} only`);
    if ('allowed_claims' in input)
      throw refuse(
        'allowed_claims',
        'personal data is allowed by an administrator after review, not by dynamic registration',
      );
    if (Array.isArray(input.grant_types) && input.grant_types.includes('client_credentials'))
      throw refuse(
        'grant_types',
        'client_credentials is not available through dynamic registration',
      );
    // RFC 7591 §2: unknown metadata is ignored, and front-channel logout dropped (3.2.1).
    const { allowed_claims: _none, ...normalised } = await clients.validate(
      { ...input, agency },
      { dynamic: true },
    );
    return { ...normalised, agency };
  },

  /** Stores a client the engine registered with an initial access token. */
  async register(
    token: DcrTokenRecord,
    input: Record<string, unknown>,
    o: { clientSecret?: string | undefined; ip?: string | undefined },
  ): Promise<void> {
    await clients.addClient({ ...input, agency: token.agency }, `dcr-token:${token.id}`, {
      status: 'active',
      via: 'dcr',
      clientSecret: o.clientSecret,
      ip: o.ip,
    });
  },

  /** RFC 7592 update: metadata only (allowances stay an administrator's decision). */
  async update(
    clientId: string,
    input: Record<string, unknown>,
    o: { clientSecret?: string | undefined; ip?: string | undefined },
  ): Promise<void> {
    await clients.updateClient(clientId, input, `client:${clientId}`, {
      allowances: 'keep',
      via: 'dcr',
      clientSecret: o.clientSecret,
      ip: o.ip,
    });
  },

  /** RFC 7592 delete: a soft delete, like an administrator's. */
  async remove(clientId: string, o: { ip?: string | undefined }): Promise<void> {
    await clients.removeClient(clientId, `client:${clientId}`, { via: 'dcr', ip: o.ip });
    await onClientDisabled?.(clientId, `client:${clientId}`);
  },

  agencyOf: async (clientId: string) => (await clients.find(clientId))?.agency,
});

export type DcrService = ReturnType<typeof createDcrService>;
