// Citizens' accounts and the counter-issued enrolment links that let a citizen create a first passkey.
import type { Knex } from 'knex';
import { z } from 'zod';
import { appendAudit } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import { AppError, newId, randomToken, sha256, type Clock } from '../shared/index.ts';
import type { ChangeFeed } from '../store/index.ts';
import { createAccountCache } from './account-cache.ts';
import { findAccountById, insertAccount, type Account } from './account-repo.ts';
import {
  findEnrolmentLink,
  insertEnrolmentLink,
  markEnrolmentLinkUsed,
  type EnrolmentLink,
} from './enrolment-repo.ts';

const citizenSchema = z.object({
  name: z.string().trim().min(1, 'is required').max(200),
  birthdate: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
    .refine(
      (v) =>
        !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) &&
        new Date(`${v}T00:00:00Z`).toISOString().startsWith(v),
      'is not a real date',
    ),
  email: z.email('must be an email address').max(320).optional(),
  phone: z
    .string()
    .transform((v) => v.replace(/[\s-]/g, ''))
    .pipe(z.string().regex(/^\+?\d{8,15}$/, 'must be a phone number (8 to 15 digits, optional +)'))
    .optional(),
});

export type CitizenInput = z.input<typeof citizenSchema>;

const parseCitizen = (input: CitizenInput) => {
  const parsed = citizenSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('ERR_INVALID_CITIZEN', `${issue.path.join('.')}: ${issue.message}`, {
      details: { field: issue.path.join('.') },
    });
  }
  return parsed.data;
};

/** A new active account for a checked citizen, with its own WebAuthn user handle. */
const newAccount = (citizen: ReturnType<typeof parseCitizen>) => ({
  id: newId(),
  name: citizen.name,
  birthdate: citizen.birthdate,
  email: citizen.email ?? null,
  phoneNumber: citizen.phone ?? null,
  status: 'active' as const,
  webauthnUserId: randomToken(32),
});

export const createAccountService = ({
  knex,
  clock,
  config,
  issuer,
  feed,
}: {
  knex: Knex;
  clock: Clock;
  /** ENROLMENT_TTL_SECONDS: how long an enrolment link stays valid. */
  config: Pick<Config, 'enrolmentTtlSeconds'>;
  issuer: string;
  /** Drops the token paths' kept accounts when an import changes one (account-cache.ts). */
  feed?: ChangeFeed | undefined;
}) => {
  const findForTokens = createAccountCache((id) => findAccountById(knex, id), feed);
  const enrolmentUrl = (token: string) => `${issuer}/enrol/${token}`;

  return {
    findById: (id: string) => findAccountById(knex, id),

    /** findById for the token paths (ID tokens, userinfo, refresh): kept in process while live. */
    findForTokens,

    /**
     * Creates an active citizen without an enrolment link, inside the caller's transaction (for
     * identities proven otherwise, e.g. a qualified certificate). The caller audits the creation
     * and links the credential that proved the identity in the same transaction.
     */
    async createCitizen(trx: Knex.Transaction, input: CitizenInput): Promise<Account> {
      const citizen = parseCitizen(input);
      const account = newAccount(citizen);
      await insertAccount(trx, account);
      return { ...account, createdAt: clock.now() };
    },

    /**
     * Creates a citizen whose identity an operator has checked, and a single-use enrolment
     * link. The link's token is returned once and only its hash is stored.
     */
    async enrolCitizen(
      input: CitizenInput,
      issuedBy: string,
    ): Promise<{ account: Account; url: string; expiresAt: Date }> {
      const citizen = parseCitizen(input);
      const token = randomToken();
      const expiresAt = new Date(clock.now().getTime() + config.enrolmentTtlSeconds * 1000);
      const account = newAccount(citizen);
      await knex.transaction(async (trx) => {
        await insertAccount(trx, account);
        await insertEnrolmentLink(trx, {
          id: newId(),
          accountId: account.id,
          tokenHash: sha256(token),
          expiresAt,
          issuedBy,
        });
        await appendAudit(trx, {
          action: 'accounts.enrolment.issued',
          actor: issuedBy,
          subject: `account:${account.id}`,
          details: { expiresAt: expiresAt.toISOString() },
        });
      });
      return {
        account: { ...account, createdAt: clock.now() },
        url: enrolmentUrl(token),
        expiresAt,
      };
    },

    /** Resolves an enrolment token to its usable link and account, or throws a readable error. */
    async openEnrolment(token: string): Promise<{ link: EnrolmentLink; account: Account }> {
      const link = /^[\w-]{20,100}$/.test(token)
        ? await findEnrolmentLink(knex, sha256(token))
        : undefined;
      if (!link)
        throw new AppError('ERR_ENROLMENT_UNKNOWN', 'This enrolment link is not valid.', {
          status: 404,
        });
      if (link.usedAt)
        throw new AppError('ERR_ENROLMENT_USED', 'This enrolment link has already been used.', {
          status: 410,
        });
      if (link.expiresAt <= clock.now())
        throw new AppError('ERR_ENROLMENT_EXPIRED', 'This enrolment link has expired.', {
          status: 410,
        });
      const account = await findAccountById(knex, link.accountId);
      if (!account || account.status !== 'active')
        throw new AppError('ERR_ENROLMENT_UNKNOWN', 'This enrolment link is not valid.', {
          status: 404,
        });
      return { link, account };
    },

    /** Consumes the link inside the caller's transaction (with the credential it enrols). */
    async consumeEnrolment(trx: Knex.Transaction, link: EnrolmentLink): Promise<void> {
      if (!(await markEnrolmentLinkUsed(trx, link.id, clock.now()))) {
        throw new AppError('ERR_ENROLMENT_USED', 'This enrolment link has already been used.', {
          status: 410,
        });
      }
    },
  };
};

export type AccountService = ReturnType<typeof createAccountService>;
