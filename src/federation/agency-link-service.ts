// Agency account links: an agency system whose members existed before One-ID records that its
// own member id belongs to the citizen it knows by its pairwise `sub`. Each link is the
// writing client's alone: read, changed and removed only by it, released only to it (as the
// `agency_member_id` claim). The sub is resolved within the caller's own sector, so a sub
// issued to another agency never resolves, and no identifier crosses agencies.
import type { Knex } from 'knex';
import { appendAudit } from '../audit/index.ts';
import type { ClientService } from '../clients/index.ts';
import { AppError, createRecentlyUsed } from '../shared/index.ts';
import {
  deleteLink,
  findLink,
  findLinkByLocalId,
  insertLink,
  listLinksForAccount,
  updateLocalId,
  type AgencyLink,
} from './agency-link-repo.ts';
import { findAccountIdBySubject, recordSubject } from './pairwise-subject-repo.ts';

/** The claim (and scope) carrying an agency's own member id back to that agency. */
export const AGENCY_MEMBER_CLAIM = 'agency_member_id';

// Subjects already indexed by this process (bounded): the engine computes a sub on every token.
const SEEN_LIMIT = 50_000;

type Caller = { clientId: string; sector: string; ip?: string | undefined };

const invalid = (message: string) =>
  new AppError('ERR_INVALID_AGENCY_LINK', message, { status: 400 });
const unknownSubject = () =>
  new AppError(
    'ERR_AGENCY_SUBJECT_UNKNOWN',
    'No citizen is known to your system by this sub (a sub is known once One-ID has issued it to your system).',
    { status: 404 },
  );
const notFound = () =>
  new AppError('ERR_AGENCY_LINK_NOT_FOUND', 'Your system has recorded no member id for this sub.', {
    status: 404,
  });

const checkSub = (sub: unknown): string => {
  if (typeof sub !== 'string' || !/^[\w-]{1,255}$/.test(sub))
    throw invalid('sub: must be the pairwise sub One-ID issued to your system');
  return sub;
};
const checkLocalId = (localId: unknown): string => {
  if (
    typeof localId !== 'string' ||
    localId.trim() !== localId ||
    !/^\P{Cc}{1,128}$/u.test(localId)
  )
    throw invalid(
      'local_id: must be 1 to 128 characters, no control characters or surrounding spaces',
    );
  return localId;
};

export type AgencyLinkView = {
  sub: string;
  local_id: string;
  created_at: string;
  updated_at: string;
};
const view = (sub: string, link: AgencyLink): AgencyLinkView => ({
  sub,
  local_id: link.localId,
  created_at: link.createdAt.toISOString(),
  updated_at: link.updatedAt.toISOString(),
});

export const createAgencyLinkService = ({
  knex,
  clients,
}: {
  knex: Knex;
  clients: ClientService;
}) => {
  const seen = createRecentlyUsed<string, true>(SEEN_LIMIT);

  const resolve = async (
    caller: Caller,
    sub: unknown,
  ): Promise<{ sub: string; accountId: string }> => {
    const checked = checkSub(sub);
    const accountId = await findAccountIdBySubject(knex, caller.sector, checked);
    if (!accountId) throw unknownSubject();
    return { sub: checked, accountId };
  };

  return {
    /** Indexes a sub the engine issued (idempotent). The engine awaits it before the sub leaves. */
    async subjectIssued(sector: string, sub: string, accountId: string): Promise<void> {
      const key = `${sector}\u0000${sub}`;
      if (seen.get(key)) return;
      await recordSubject(knex, sector, sub, accountId);
      seen.set(key, true);
    },

    /** Only a client allowed the `agency_member_id` claim keeps links (it is what they are for). */
    async assertMayLink(clientId: string): Promise<void> {
      if (!(await clients.allowances(clientId)).some((a) => a.claim === AGENCY_MEMBER_CLAIM)) {
        throw new AppError(
          'ERR_AGENCY_LINK_NOT_ALLOWED',
          `${clientId} may not keep member ids: add ${AGENCY_MEMBER_CLAIM} to its allowed_claims`,
          { status: 403 },
        );
      }
    },

    /** Records (or changes) the caller's member id for the citizen it knows as `sub`. */
    async put(
      caller: Caller,
      input: { sub?: unknown; local_id?: unknown },
    ): Promise<{ created: boolean; link: AgencyLinkView }> {
      const localId = checkLocalId(input.local_id);
      const { sub, accountId } = await resolve(caller, input.sub);
      return knex.transaction(async (trx) => {
        const holder = await findLinkByLocalId(trx, caller.clientId, localId);
        if (holder && holder.accountId !== accountId)
          throw new AppError(
            'ERR_AGENCY_LINK_CONFLICT',
            `local_id: ${localId} is already linked to another citizen at your system`,
            { status: 409 },
          );
        const existing = await findLink(trx, caller.clientId, accountId);
        if (existing?.localId === localId) return { created: false, link: view(sub, existing) };
        if (existing) await updateLocalId(trx, caller.clientId, accountId, localId);
        else await insertLink(trx, { clientId: caller.clientId, accountId, localId });
        await appendAudit(trx, {
          action: existing ? 'agency.link.updated' : 'agency.link.recorded',
          actor: `client:${caller.clientId}`,
          subject: `account:${accountId}`,
          ip: caller.ip,
          details: { clientId: caller.clientId },
        });
        return {
          created: !existing,
          link: view(sub, (await findLink(trx, caller.clientId, accountId))!),
        };
      });
    },

    async get(caller: Caller, sub: unknown): Promise<AgencyLinkView> {
      const resolved = await resolve(caller, sub);
      const link = await findLink(knex, caller.clientId, resolved.accountId);
      if (!link) throw notFound();
      return view(resolved.sub, link);
    },

    async remove(caller: Caller, sub: unknown): Promise<void> {
      const { accountId } = await resolve(caller, sub);
      await knex.transaction(async (trx) => {
        if (!(await deleteLink(trx, caller.clientId, accountId))) throw notFound();
        await appendAudit(trx, {
          action: 'agency.link.removed',
          actor: `client:${caller.clientId}`,
          subject: `account:${accountId}`,
          ip: caller.ip,
          details: { clientId: caller.clientId },
        });
      });
    },

    /** The member id `clientId` linked to the citizen: for that client's tokens only. */
    memberId: async (clientId: string, accountId: string): Promise<string | undefined> =>
      (await findLink(knex, clientId, accountId))?.localId,

    /** The citizen's links, for My One-ID ("linked to your account at ..."). */
    async listForAccount(accountId: string) {
      const links = await listLinksForAccount(knex, accountId);
      return Promise.all(
        links.map(async (l) => {
          const client = await clients.find(l.clientId);
          return {
            clientId: l.clientId,
            name: String(client?.metadata.client_name ?? l.clientId),
            agency: client?.agency ?? '',
            localId: l.localId,
            createdAt: l.createdAt,
          };
        }),
      );
    },
  };
};

export type AgencyLinkService = ReturnType<typeof createAgencyLinkService>;
