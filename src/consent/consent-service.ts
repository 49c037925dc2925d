// Consent for cross-agency data sharing. A citizen's decision is kept per client: which claims
// were granted, which optional ones declined, for what purposes, until when. The engine's grants
// are derived from it on every authorization (see src/oidc/claims/consent-grants.ts), so the database
// record is the single source of truth and withdrawal takes effect at once.
import type { Knex } from 'knex';
import { appendAudit } from '../audit/index.ts';
import type { ClientService } from '../clients/index.ts';
import { AppError, newId, type Clock } from '../shared/index.ts';
import type { CatalogueItem } from './catalogue-repo.ts';
import type { CatalogueService } from './catalogue-service.ts';
import {
  removeGrantIds,
  findActiveConsent,
  findConsentById,
  insertConsent,
  listActiveConsents,
  listConsentIds,
  listSignIns,
  lockExpiredConsents,
  markWithdrawn,
  updateConsent,
  withdrawConsent,
  type ConsentRecord,
  type ConsentSnapshot,
  type Purpose,
} from './consent-repo.ts';

/** Claims that travel with another and need no consent of their own. */
const COMPANIONS: Record<string, string[]> = {
  email: ['email_verified'],
  phone_number: ['phone_number_verified'],
};
/** Scopes that carry no personal data item. */
const NEUTRAL_SCOPES = new Set(['openid', 'offline_access']);
/** Grant ids kept on a consent before the ended ones are looked for and dropped (pruneGrants). */
const PRUNE_AT = 32;

export type PendingItem = {
  claim: string;
  label: { ko: string; en: string };
  description: { ko: string; en: string };
  sensitivity: CatalogueItem['sensitivity'];
  purpose: { ko: string; en: string };
  required: boolean;
  retentionDays: number;
  sourceAgency: string | undefined;
};

export type Evaluation = {
  consentId: string | undefined;
  /** Scopes whose every allowed, requested item is decided: safe to put in the grant. */
  grantScopes: string[];
  grantClaims: string[];
  /** Declined optional items and items beyond the client's allowance: never released. */
  rejectedClaims: string[];
  /** Items the citizen still has to decide on (the consent screen shows exactly these). */
  pending: PendingItem[];
  /** The consent holds enough grant ids that the ended ones should be dropped (pruneGrants). */
  pruneDue: boolean;
};

type Deps = {
  knex: Knex;
  clock: Clock;
  clients: ClientService;
  catalogue: CatalogueService;
  maxAgeDays: number;
};

export const createConsentService = ({ knex, clock, clients, catalogue, maxAgeDays }: Deps) => {
  const usable = (c: ConsentRecord | undefined) => (c && c.expiresAt > clock.now() ? c : undefined);
  /**
   * The usable (unexpired) active consent, as far as evaluate reads it: from `known` (a snapshot
   * read earlier in this sign-in) when it is this citizen's for this client, else from the database.
   */
  const decided = async (accountId: string, clientId: string, known?: ConsentSnapshot) => {
    if (known?.accountId === accountId && known.clientId === clientId)
      return new Date(known.expiresAt) > clock.now() ? known : undefined;
    const record = usable(await findActiveConsent(knex, accountId, clientId));
    return record && { ...record, grantCount: record.grantIds.length };
  };

  /**
   * What a request for `scopes` (+ `claims` from the claims parameter) may release now. `known`:
   * the active consent as read earlier in this sign-in (instead of reading it again); whoever
   * records a grant made from it must check that it is still active then (session-repo.ts).
   */
  const evaluate = async (
    accountId: string,
    clientId: string,
    requested: { scopes: string[]; claims: string[] },
    known?: ConsentSnapshot,
  ): Promise<Evaluation> => {
    const [items, allowances, consent] = await Promise.all([
      catalogue.list(),
      clients.allowances(clientId),
      decided(accountId, clientId, known),
    ]);
    const allowed = new Map(allowances.map((a) => [a.claim, a]));
    const byName = new Map(items.map((i) => [i.name, i]));
    const scopeClaims = (scope: string) =>
      items.filter((i) => i.scopes.includes(scope)).map((i) => i.name);
    const wanted = new Set([
      ...requested.scopes.flatMap(scopeClaims),
      ...requested.claims.filter((c) => byName.has(c)),
    ]);
    const granted = new Set(consent?.grantedClaims ?? []);
    const declined = new Set(consent?.declinedClaims ?? []);
    const pending: PendingItem[] = [];
    const grantClaims: string[] = [];
    const rejected = new Set<string>();
    for (const claim of wanted) {
      const allowance = allowed.get(claim);
      if (!allowance) rejected.add(claim);
      else if (granted.has(claim)) grantClaims.push(claim);
      // A declined item asked again as required must be decided again.
      else if (declined.has(claim) && !allowance.required) rejected.add(claim);
      else {
        const item = byName.get(claim)!;
        pending.push({
          claim,
          label: item.label,
          description: item.description,
          sensitivity: item.sensitivity,
          purpose: allowance.purpose,
          required: allowance.required,
          retentionDays: allowance.retentionDays,
          sourceAgency: item.sourceAgency,
        });
      }
    }
    const pendingNames = new Set(pending.map((p) => p.claim));
    const grantScopes = requested.scopes.filter(
      (s) =>
        NEUTRAL_SCOPES.has(s) ||
        (scopeClaims(s).length > 0 && !scopeClaims(s).some((c) => pendingNames.has(c))),
    );
    // Everything a granted scope would carry that was not granted stays out.
    for (const scope of grantScopes)
      for (const claim of scopeClaims(scope))
        if (!granted.has(claim) || !allowed.has(claim)) rejected.add(claim);
    for (const [base, companions] of Object.entries(COMPANIONS)) {
      if (grantClaims.includes(base)) grantClaims.push(...companions);
      else if (rejected.has(base)) for (const companion of companions) rejected.add(companion);
    }
    return {
      consentId: consent?.id,
      grantScopes,
      grantClaims,
      rejectedClaims: [...rejected],
      pending: pending.sort((a, b) => Number(b.required) - Number(a.required)),
      pruneDue: (consent?.grantCount ?? 0) > PRUNE_AT,
    };
  };

  return {
    evaluate,

    /**
     * Records the citizen's decision on the pending items: `accepted` must include every required
     * one (else nothing is recorded); unchecked optional items are recorded as declined.
     */
    async decide(
      accountId: string,
      clientId: string,
      requested: { scopes: string[]; claims: string[] },
      accepted: string[],
      context: { ip?: string } = {},
    ): Promise<void> {
      const { pending } = await evaluate(accountId, clientId, requested);
      const acceptedSet = new Set(accepted);
      const missingRequired = pending.filter((p) => p.required && !acceptedSet.has(p.claim));
      if (missingRequired.length)
        throw new AppError(
          'ERR_CONSENT_REQUIRED',
          'Required items must be agreed to, or the request declined.',
          { details: { claims: missingRequired.map((p) => p.claim) } },
        );
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + maxAgeDays * 86400_000);
      const grantedNow = pending.filter((p) => acceptedSet.has(p.claim)).map((p) => p.claim);
      const declinedNow = pending.filter((p) => !acceptedSet.has(p.claim)).map((p) => p.claim);
      const purposes: Record<string, Purpose> = Object.fromEntries(
        pending.map((p) => [
          p.claim,
          {
            ko: p.purpose.ko,
            en: p.purpose.en,
            required: p.required,
            retentionDays: p.retentionDays,
          },
        ]),
      );
      await knex.transaction(async (trx) => {
        const existing = usable(await findActiveConsent(trx, accountId, clientId));
        if (existing) {
          const record: ConsentRecord = {
            ...existing,
            grantedClaims: [...new Set([...existing.grantedClaims, ...grantedNow])],
            declinedClaims: [
              ...new Set([
                ...existing.declinedClaims.filter((c) => !grantedNow.includes(c)),
                ...declinedNow,
              ]),
            ],
            scopes: [...new Set([...existing.scopes, ...requested.scopes])],
            purposes: { ...existing.purposes, ...purposes },
            updatedAt: now,
            expiresAt,
          };
          await updateConsent(trx, record);
          // The decision renews the whole consent's validity: the trail says until when, as for a grant.
          await appendAudit(trx, {
            action: 'consent.extended',
            actor: `account:${accountId}`,
            subject: `consent:${existing.id}`,
            ip: context.ip,
            details: {
              clientId,
              granted: grantedNow,
              declined: declinedNow,
              expiresAt: expiresAt.toISOString(),
            },
          });
        } else {
          const stale = await findActiveConsent(trx, accountId, clientId);
          // Marked and audited only if still active: the expiry sweep may have ended it since
          // the read (one `consent.expired` per consent, whoever ends it).
          if (stale && (await markWithdrawn(trx, stale.id, now))) {
            await appendAudit(trx, {
              action: 'consent.expired',
              actor: 'system',
              subject: `consent:${stale.id}`,
              details: { clientId },
            });
          }
          const id = newId();
          await insertConsent(trx, {
            id,
            accountId,
            clientId,
            grantedClaims: grantedNow,
            declinedClaims: declinedNow,
            scopes: requested.scopes,
            purposes,
            grantIds: [],
            grantedAt: now,
            updatedAt: now,
            expiresAt,
          });
          await appendAudit(trx, {
            action: 'consent.granted',
            actor: `account:${accountId}`,
            subject: `consent:${id}`,
            ip: context.ip,
            details: {
              clientId,
              granted: grantedNow,
              declined: declinedNow,
              expiresAt: expiresAt.toISOString(),
            },
          });
        }
      });
    },

    /**
     * Drops the grant ids of a consent that the store no longer holds (ended or expired: `alive`
     * says). Every new session's sign-in records one (session-repo.ts), so once evaluate says
     * pruneDue the list is cut back to the grants that can still act. Ids recorded meanwhile stay.
     */
    async pruneGrants(consentId: string, alive: (grantId: string) => Promise<boolean>) {
      const record = await findConsentById(knex, consentId);
      const dead: string[] = [];
      for (const id of record?.grantIds ?? []) if (!(await alive(id))) dead.push(id);
      await removeGrantIds(knex, consentId, dead);
    },

    /**
     * Withdraws a consent of this citizen. Returns the record so the caller can revoke its grants
     * and notify the client; undefined when there is nothing (left) to withdraw.
     */
    async withdraw(
      accountId: string,
      consentId: string,
      actor: string,
      context: { ip?: string } = {},
    ): Promise<ConsentRecord | undefined> {
      return knex.transaction(async (trx) => {
        const record = await withdrawConsent(trx, consentId, accountId, clock.now());
        if (!record) return undefined;
        await appendAudit(trx, {
          action: 'consent.withdrawn',
          actor,
          subject: `consent:${record.id}`,
          ip: context.ip,
          details: {
            clientId: record.clientId,
            claims: record.grantedClaims,
            grantIds: record.grantIds,
          },
        });
        return record;
      });
    },

    /**
     * Closes consents past their expiry (a batch at a time, safe on every instance at once), as
     * `consent.expired`: the caller then revokes their grants and tells their systems, as for a
     * withdrawal, so an expired consent stops the data at once rather than at the next sign-in.
     */
    async expireDue(limit = 100): Promise<ConsentRecord[]> {
      const now = clock.now();
      return knex.transaction(async (trx) => {
        const due = await lockExpiredConsents(trx, now, limit);
        const ended: ConsentRecord[] = [];
        for (const record of due) {
          if (!(await markWithdrawn(trx, record.id, now))) continue;
          ended.push(record);
          await appendAudit(trx, {
            action: 'consent.expired',
            actor: 'system',
            subject: `consent:${record.id}`,
            details: {
              clientId: record.clientId,
              expiresAt: record.expiresAt.toISOString(),
              grantIds: record.grantIds,
            },
          });
        }
        return ended;
      });
    },

    /** The ids of a citizen's latest consents, in any state (for their activity on My One-ID). */
    consentIds: (accountId: string) => listConsentIds(knex, accountId, 50),

    /** Active consents with what each client received, for My One-ID. */
    listForAccount: (accountId: string) => listActiveConsents(knex, accountId),
    signIns: (accountId: string) => listSignIns(knex, accountId),
  };
};

export type ConsentService = ReturnType<typeof createConsentService>;
