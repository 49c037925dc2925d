// Administrators and agencies: roles granted to One-ID accounts (an administrator signs in like
// any citizen, with a passkey or a certificate), and the agencies clients belong to.
import type { Knex } from 'knex';
import { z } from 'zod';
import { findAccountNames, searchAccounts, type AccountService } from '../accounts/index.ts';
import { displayNameProblem } from '../clients/index.ts';
import { appendAudit } from '../audit/index.ts';
import { AppError, type ErrorCode } from '../shared/index.ts';
import {
  countPlatformAdmins,
  deleteGrant,
  findAgency,
  findGrant,
  findGrantById,
  grantsOf,
  insertAgency,
  insertGrant,
  listAgencies,
  listGrants,
  updateAgency,
  type AdminGrantRecord,
  type AgencyRecord,
} from './admin-repo.ts';
import { decodeCursor, MAX_LIMIT, toPage, type Page, type PageRequest } from './pagination.ts';
import { readableAgencies, ROLES, type Guard, type Principal, type Role } from './roles.ts';

type Deps = { knex: Knex; accounts: AccountService; guard: Guard };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const fieldError = (
  field: string,
  message: string,
  status = 400,
  code: ErrorCode = 'ERR_INVALID_ADMIN_INPUT',
) => new AppError(code, `${field}: ${message}`, { status, details: { field } });

/** Agency names appear on consent pages: no reserved names, no control characters. */
const citizenReadable = (value: string, ctx: z.RefinementCtx) => {
  const problem = displayNameProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
};

const agencySchema = z
  .object({
    name: z.string().trim().min(1, 'is required').max(200).superRefine(citizenReadable),
    name_en: z.string().trim().max(200).superRefine(citizenReadable).optional(),
    contact: z.email().optional(),
  })
  .strict();

/** Parses agency input, naming the first bad field. */
export const parseAgency = (input: unknown) => {
  const parsed = agencySchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.length
    ? issue.path.join('.')
    : ((issue as { keys?: string[] }).keys?.join(', ') ?? 'agency');
  throw fieldError(field, issue.message);
};

export type AgencyInput = z.input<typeof agencySchema>;

export const createAdminService = ({ knex, accounts, guard }: Deps) => {
  const parseGrant = async (input: {
    accountId: string;
    role: string;
    agency?: string | null | undefined;
  }) => {
    if (!UUID.test(input.accountId) || !(await accounts.findById(input.accountId)))
      throw fieldError('account', `no account ${input.accountId}`, 404, 'ERR_ACCOUNT_UNKNOWN');
    if (!(ROLES as readonly string[]).includes(input.role))
      throw fieldError('role', `must be one of ${ROLES.join(', ')}`);
    const role = input.role as Role;
    const agency = input.agency || null;
    if (role === 'agency' && !agency)
      throw fieldError('agency', 'is required for an agency administrator');
    if (role === 'platform' && agency)
      throw fieldError('agency', 'a platform administrator is not tied to an agency');
    if (agency && !(await findAgency(knex, agency)))
      throw fieldError('agency', `no agency ${agency}`, 404, 'ERR_AGENCY_UNKNOWN');
    return { accountId: input.accountId, role, agency };
  };

  return {
    /** The principal of a signed-in account, or undefined when it holds no administrator role. */
    async principalFor(
      accountId: string,
      request: Omit<Principal, 'actor' | 'accountId' | 'grants'>,
    ): Promise<Principal | undefined> {
      const grants = await grantsOf(knex, accountId);
      if (!grants.length) return undefined;
      return {
        ...request,
        actor: `admin:${accountId}`,
        accountId,
        grants: grants.map((g) => ({ role: g.role, agency: g.agency })),
      };
    },

    /** The admin API scopes an account's roles allow in a token: read for any role, write for platform and agency administrators. */
    async apiScopesFor(accountId: string): Promise<string[]> {
      const roles = (await grantsOf(knex, accountId)).map((g) => g.role);
      if (!roles.length) return [];
      return roles.some((r) => r !== 'auditor') ? ['admin:read', 'admin:write'] : ['admin:read'];
    },

    /** Grants a role (idempotent: granting what is held changes nothing). */
    async grant(
      p: Principal,
      input: { accountId: string; role: string; agency?: string | null | undefined },
    ): Promise<AdminGrantRecord> {
      guard.platform(p);
      const g = await parseGrant(input);
      return knex.transaction(async (trx) => {
        const existing = await findGrant(trx, g);
        if (existing) return existing;
        const record = await insertGrant(trx, { ...g, grantedBy: p.actor });
        await appendAudit(trx, {
          action: 'admin.role.granted',
          actor: p.actor,
          subject: `account:${g.accountId}`,
          ip: p.ip,
          details: { role: g.role, ...(g.agency && { agency: g.agency }), via: p.via },
        });
        return record;
      });
    },

    /** Revokes a role; the last platform administrator cannot be removed (nobody could grant again but the CLI). */
    async revoke(
      p: Principal,
      input: { accountId: string; role: string; agency?: string | null | undefined },
    ): Promise<boolean> {
      guard.platform(p);
      const g = await parseGrant(input);
      return knex.transaction(async (trx) => {
        const existing = await findGrant(trx, g);
        if (!existing) return false;
        if (g.role === 'platform' && p.via !== 'cli' && (await countPlatformAdmins(trx)) <= 1) {
          throw fieldError(
            'role',
            'the last platform administrator cannot be revoked (grant another one first)',
            409,
            'ERR_LAST_PLATFORM_ADMIN',
          );
        }
        await deleteGrant(trx, existing.id);
        await appendAudit(trx, {
          action: 'admin.role.revoked',
          actor: p.actor,
          subject: `account:${g.accountId}`,
          ip: p.ip,
          details: { role: g.role, ...(g.agency && { agency: g.agency }), via: p.via },
        });
        return true;
      });
    },

    /** Revokes one grant by its id (the API's DELETE /admins/{id}). */
    async revokeGrant(p: Principal, id: string): Promise<boolean> {
      guard.platform(p);
      const grant = /^\d{1,19}$/.test(id) ? await findGrantById(knex, id) : undefined;
      return grant ? this.revoke(p, grant) : false;
    },

    async listGrants(
      p: Principal,
      page: PageRequest & { accountId?: string | undefined } = {},
    ): Promise<Page<AdminGrantRecord>> {
      guard.global(p);
      const limit = Math.min(page.limit ?? 50, MAX_LIMIT);
      const rows = await listGrants(knex, {
        after: decodeCursor(page.after),
        limit: limit + 1,
        accountId: page.accountId && UUID.test(page.accountId) ? page.accountId : undefined,
      });
      return toPage(
        rows,
        limit,
        (r) => r.id,
        (r) => r,
      );
    },

    async listAgencies(p: Principal, page: PageRequest = {}): Promise<Page<AgencyRecord>> {
      guard.read(p);
      const limit = Math.min(page.limit ?? 50, MAX_LIMIT);
      const rows = await listAgencies(knex, {
        after: decodeCursor(page.after),
        limit: limit + 1,
        names: readableAgencies(p),
      });
      return toPage(
        rows,
        limit,
        (r) => r.name,
        (r) => r,
      );
    },

    async findAgency(p: Principal, name: string): Promise<AgencyRecord | undefined> {
      guard.read(p);
      const agencies = readableAgencies(p);
      if (agencies && !agencies.includes(name)) return undefined;
      return findAgency(knex, name);
    },

    /** Creates an agency, or (when it exists) updates its English name and contact. Audited with before/after. */
    async putAgency(
      p: Principal,
      input: unknown,
    ): Promise<{ agency: AgencyRecord; created: boolean }> {
      guard.platform(p);
      const a = parseAgency(input);
      const values = { nameEn: a.name_en ?? null, contact: a.contact ?? null };
      return knex.transaction(async (trx) => {
        const before = await findAgency(trx, a.name);
        if (before && before.nameEn === values.nameEn && before.contact === values.contact)
          return { agency: before, created: false };
        if (before) await updateAgency(trx, a.name, values);
        else await insertAgency(trx, { name: a.name, ...values });
        await appendAudit(trx, {
          action: before ? 'agencies.updated' : 'agencies.created',
          actor: p.actor,
          subject: `agency:${a.name}`,
          ip: p.ip,
          details: {
            agency: a.name,
            via: p.via,
            ...(before && { before: { name_en: before.nameEn, contact: before.contact } }),
            after: { name_en: values.nameEn, contact: values.contact },
          },
        });
        return { agency: (await findAgency(trx, a.name))!, created: !before };
      });
    },

    /**
     * Names for the ids an administrator's page shows: administrators' for anyone who reads;
     * other accounts' (citizens) only for platform administrators and unscoped auditors, who
     * see every record anyway. Ids not found are left out (the page shows the id).
     */
    async accountNames(
      p: Principal,
      ids: { admins: string[]; accounts: string[] },
    ): Promise<Map<string, string>> {
      guard.read(p);
      const wanted =
        readableAgencies(p) === undefined ? [...ids.admins, ...ids.accounts] : ids.admins;
      return findAccountNames(knex, wanted);
    },

    /** Accounts to grant a role to, found by name or email (platform administrators only). */
    async findAccounts(
      p: Principal,
      text: string,
    ): Promise<{ id: string; name: string; email: string | null; birthdate: string | null }[]> {
      guard.platform(p, false);
      if (text.trim().length > 320) throw fieldError('q', 'is too long');
      return (await searchAccounts(knex, text, 20)).map((a) => ({
        id: a.id,
        name: a.name,
        email: a.email,
        birthdate: a.birthdate,
      }));
    },

    agencyExists: async (name: string) => Boolean(await findAgency(knex, name)),
    /** An agency by name, unscoped (for other admin services, which check the principal themselves). */
    agency: (name: string) => findAgency(knex, name),
  };
};

export type AdminService = ReturnType<typeof createAdminService>;
