// Administrators' use cases on agency systems, scoped by role: the console, the API and the
// manifest all go through here, and everything here goes through the client service (which
// keeps the metadata rules, the status rules and the audit). Onboarding: an agency
// administrator's new system is a `draft` (unknown to the engine) until a platform
// administrator enables it.
import type {
  ClaimAllowance,
  ClientRecord,
  ClientService,
  ClientStatus,
} from '../clients/index.ts';
import { parseClientMetadata } from '../clients/index.ts';
import { AppError } from '../shared/index.ts';
import { decodeCursor, MAX_LIMIT, toPage, type Page, type PageRequest } from './pagination.ts';
import {
  canRead,
  canWrite,
  isPlatform,
  readableAgencies,
  writableAgencies,
  type Guard,
  type Principal,
} from './roles.ts';

export type ClientView = {
  client_id: string;
  agency: string;
  status: ClientStatus;
  metadata: Record<string, unknown>;
  allowed_claims?: ClaimAllowance[];
  has_secret: boolean;
  previous_secret_valid_until: string | null;
  registered_via: string | null;
  created_at: string;
  updated_at: string;
};

type Deps = {
  clients: ClientService;
  guard: Guard;
  /** Called after a client is disabled or deleted: sign it out of every citizen's session. */
  onClientDisabled?: ((clientId: string, actor: string) => Promise<void>) | undefined;
};

const unknownClient = (clientId: string) =>
  new AppError('ERR_CLIENT_UNKNOWN', `client ${clientId} does not exist`, { status: 404 });
const fieldError = (field: string, message: string, status = 403) =>
  new AppError('ERR_ADMIN_FORBIDDEN', `${field}: ${message}`, { status, details: { field } });

const view = (r: ClientRecord, allowances?: ClaimAllowance[]): ClientView => {
  const { subject_type: _pairwise, ...metadata } = r.metadata;
  return {
    client_id: r.clientId,
    agency: r.agency,
    status: r.status,
    metadata,
    ...(allowances && { allowed_claims: allowances }),
    has_secret: Boolean(r.secretSealed),
    previous_secret_valid_until:
      r.previousSecretExpiresAt && r.previousSecretExpiresAt > new Date()
        ? r.previousSecretExpiresAt.toISOString()
        : null,
    registered_via: r.registeredVia,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
};

/**
 * Splits the non-metadata `status` off an API body (`draft` or `active` at creation). A body in
 * the shape GET answers (metadata nested under `metadata`) is flattened, so GET then PUT round-trips.
 */
const splitStatus = (input: unknown): { status: unknown; metadata: unknown } => {
  if (!input || typeof input !== 'object' || Array.isArray(input))
    return { status: undefined, metadata: input };
  const { status, metadata: nested, ...metadata } = input as Record<string, unknown>;
  if (nested && typeof nested === 'object' && !Array.isArray(nested))
    return { status, metadata: { ...nested, ...metadata } };
  return { status, metadata: nested === undefined ? metadata : { ...metadata, metadata: nested } };
};

export const createRegistryService = ({ clients, guard, onClientDisabled }: Deps) => {
  const context = (p: Principal) => ({ ip: p.ip, via: p.via });

  /** A client `p` may see; others' are reported as unknown, not forbidden (no probing). */
  const visible = async (p: Principal, clientId: string) => {
    guard.read(p);
    const record = await clients.find(clientId);
    if (!record || !canRead(p, record.agency)) throw unknownClient(clientId);
    return record;
  };

  const writable = async (p: Principal, clientId: string) => {
    guard.change(p);
    const record = await clients.find(clientId);
    if (!record || !canRead(p, record.agency)) throw unknownClient(clientId);
    if (!canWrite(p, record.agency))
      throw new AppError('ERR_ADMIN_FORBIDDEN', `you may not change ${clientId}`, { status: 403 });
    return record;
  };

  /** The agency a new or edited client may name: an agency administrator only their own. */
  const checkAgency = (p: Principal, metadata: unknown) => {
    const agencies = writableAgencies(p);
    const agency = (metadata as { agency?: unknown } | undefined)?.agency;
    if (!agencies || typeof agency !== 'string') return;
    if (!agencies.includes(agency.trim()))
      throw fieldError(
        'agency',
        `you administer ${agencies.join(', ') || 'no agency'}; ${agency} is not yours`,
      );
  };

  const disabled = async (clientId: string, p: Principal) => {
    await onClientDisabled?.(clientId, p.actor);
  };

  return {
    async list(
      p: Principal,
      o: PageRequest & { agency?: string | undefined; status?: ClientStatus | undefined } = {},
    ): Promise<Page<ClientView>> {
      guard.read(p);
      const limit = Math.min(o.limit ?? 50, MAX_LIMIT);
      let agencies = readableAgencies(p);
      if (o.agency) agencies = !agencies || agencies.includes(o.agency) ? [o.agency] : [];
      if (agencies && !agencies.length) return { items: [], next: null };
      const rows = await clients.list({
        after: decodeCursor(o.after),
        limit: limit + 1,
        agencies,
        status: o.status,
      });
      return toPage(
        rows,
        limit,
        (r) => r.clientId,
        (r) => view(r),
      );
    },

    async get(p: Principal, clientId: string): Promise<ClientView> {
      const record = await visible(p, clientId);
      const allowances = (await clients.allowances(clientId)).map((a) => ({
        claim: a.claim,
        purpose: a.purpose,
        required: a.required,
        retention_days: a.retentionDays,
      }));
      return view(record, allowances);
    },

    /**
     * Registers a system. A platform administrator's is active unless `status: "draft"`; an agency
     * administrator's is always a draft for a platform administrator to review and enable.
     */
    async create(
      p: Principal,
      input: unknown,
    ): Promise<{ client: ClientView; clientSecret?: string; ignored: string[] }> {
      guard.change(p);
      const { status, metadata } = splitStatus(input);
      if (status !== undefined && status !== 'draft' && status !== 'active')
        throw new AppError('ERR_INVALID_CLIENT_METADATA', 'status: must be draft or active', {
          details: { problems: ['status: must be draft or active'] },
        });
      if (status === 'active' && !isPlatform(p))
        throw fieldError('status', 'only a platform administrator enables a system (after review)');
      const agencies = writableAgencies(p);
      // An agency administrator of one agency need not name it.
      const withAgency =
        agencies?.length === 1 &&
        metadata &&
        typeof metadata === 'object' &&
        !('agency' in metadata)
          ? { ...metadata, agency: agencies[0] }
          : metadata;
      checkAgency(p, withAgency);
      const created = await clients.addClient(withAgency, p.actor, {
        ...context(p),
        status: isPlatform(p) ? ((status as 'draft' | 'active' | undefined) ?? 'active') : 'draft',
      });
      return {
        client: await this.get(p, created.clientId),
        ...(created.clientSecret && { clientSecret: created.clientSecret }),
        ignored: created.ignored,
      };
    },

    /** Replaces a system's metadata and allowances (full representation, as PUT). */
    async update(
      p: Principal,
      clientId: string,
      input: unknown,
    ): Promise<{ client: ClientView; clientSecret?: string; ignored: string[] }> {
      const record = await writable(p, clientId);
      const { metadata } = splitStatus(input);
      const withAgency =
        metadata && typeof metadata === 'object' && !('agency' in metadata)
          ? { ...metadata, agency: record.agency }
          : metadata;
      checkAgency(p, withAgency);
      const updated = await clients.updateClient(clientId, withAgency, p.actor, context(p));
      return {
        client: await this.get(p, clientId),
        ...(updated.clientSecret && { clientSecret: updated.clientSecret }),
        ignored: updated.ignored,
      };
    },

    async setAllowances(p: Principal, clientId: string, list: unknown): Promise<ClientView> {
      await writable(p, clientId);
      if (!Array.isArray(list))
        throw new AppError('ERR_INVALID_CLIENT_METADATA', 'allowed_claims: must be an array', {
          details: { problems: ['allowed_claims: must be an array'] },
        });
      const parsed = parseClientMetadata({
        client_name: 'x',
        agency: 'x',
        redirect_uris: ['https://x.example/cb'],
        allowed_claims: list,
      }).allowed_claims;
      await clients.setAllowances(clientId, parsed, p.actor, context(p));
      return this.get(p, clientId);
    },

    /** Disables at once: the engine refuses the client's requests and its sessions are signed out. */
    async disable(p: Principal, clientId: string): Promise<ClientView> {
      await writable(p, clientId);
      const before = await clients.setStatus(clientId, 'disabled', p.actor, context(p));
      if (before === 'active') await disabled(clientId, p);
      return this.get(p, clientId);
    },

    /** Enabling is the review: only a platform administrator lets a system reach the engine. */
    async enable(p: Principal, clientId: string): Promise<ClientView> {
      await writable(p, clientId);
      if (!isPlatform(p))
        throw new AppError(
          'ERR_ADMIN_FORBIDDEN',
          'only a platform administrator enables a system (after review)',
          { status: 403 },
        );
      await clients.setStatus(clientId, 'active', p.actor, context(p));
      return this.get(p, clientId);
    },

    /**
     * The review's other outcome: a platform administrator returns a draft to its agency with a
     * reason (1-1000 characters) the agency administrator reads on the system's page.
     */
    async returnDraft(p: Principal, clientId: string, reason: string): Promise<ClientView> {
      await writable(p, clientId);
      if (!isPlatform(p))
        throw new AppError(
          'ERR_ADMIN_FORBIDDEN',
          'only a platform administrator reviews a system',
          { status: 403 },
        );
      const text = typeof reason === 'string' ? reason.trim() : '';
      if (!text || text.length > 1000)
        throw new AppError('ERR_INVALID_ADMIN_INPUT', 'reason: 1 to 1000 characters', {
          details: { field: 'reason' },
        });
      await clients.returnDraft(clientId, text, p.actor, context(p));
      return this.get(p, clientId);
    },

    async remove(p: Principal, clientId: string): Promise<void> {
      const record = await writable(p, clientId);
      await clients.removeClient(clientId, p.actor, context(p));
      if (record.status === 'active') await disabled(clientId, p);
    },

    async rotateSecret(
      p: Principal,
      clientId: string,
    ): Promise<{ clientSecret: string; previousValidUntil: Date | null }> {
      await writable(p, clientId);
      return clients.rotateSecret(clientId, p.actor, context(p));
    },
  };
};

export type RegistryService = ReturnType<typeof createRegistryService>;
