// Token signing keys: ES256 (default) and RS256, generated on first start, private parts sealed
// in the database. Rotation adds a new active key per algorithm and keeps the old ones published
// (retired) so tokens already issued still verify; the engine signs with the first key per alg.
// Revocation (a leaked key) removes one key from the set at once and tells every instance.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Knex } from 'knex';
import { appendAudit } from '../../audit/index.ts';
import { AppError, type Clock, type SecretBox } from '../../shared/index.ts';
import type { ChangeFeed } from '../../store/index.ts';
import {
  deleteRetiredKeys,
  deleteSigningKey,
  dropPendingKeys,
  findSigningKey,
  insertSigningKey,
  latestKeyChange,
  listSigningKeys,
  promoteDueKeys,
  retireActiveKeys,
  type SigningKeyRow,
} from './signing-key-repo.ts';

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;
type SigningAlg = (typeof SIGNING_ALGS)[number];
const isSigningAlg = (alg: string): alg is SigningAlg =>
  (SIGNING_ALGS as readonly string[]).includes(alg);

/**
 * The change-feed topic of key changes every instance must see at once (a revoked key): each
 * instance reloads its engine on it (oidc-module.ts) rather than at its next poll.
 */
export const SIGNING_KEYS_TOPIC = 'signing-keys';

/** What `revoke` did: the kid and algorithm removed, and the key that signs in its place. */
export type KeyRevocation = {
  kid: string;
  alg: string;
  /** The status the key had: `active` means it was signing. */
  status: SigningKeyRow['status'];
  /** The new key of the same algorithm, signing at once (only when the revoked key was signing). */
  replacement: string | undefined;
  /** True when every instance was told through the change feed; false: they find it on their poll. */
  announced: boolean;
};

const newKey = async (alg: SigningAlg, secretBox: SecretBox) => {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' && { modulusLength: 2048 }),
  });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const { d, p, q, dp, dq, qi, ...publicJwk } = jwk;
  return {
    kid,
    alg,
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    privateJwkSealed: secretBox.seal(JSON.stringify({ ...jwk, kid, alg, use: 'sig' })),
    status: 'active' as const,
  };
};

type Deps = {
  knex: Knex;
  secretBox: SecretBox;
  clock: Clock;
  /** How long a rotated key is published before it signs (relying parties refresh their JWKS caches). */
  activationDelaySeconds: number;
  /** Where a revocation is announced to every instance (store/change-feed.ts); none: their poll. */
  feed?: ChangeFeed | undefined;
};

export const createSigningKeyService = ({
  knex,
  secretBox,
  clock,
  activationDelaySeconds,
  feed,
}: Deps) => {
  /**
   * Tells every instance the keys changed (the change feed), so each reloads at once instead of
   * on its poll; false when there is no feed or it failed (they find the change on their poll).
   */
  const announce = (): Promise<boolean> =>
    feed
      ? feed.publish(SIGNING_KEYS_TOPIC).then(
          () => true,
          () => false,
        )
      : Promise.resolve(false);
  return {
    /** Generates the first key of each algorithm if none is active. Safe to run on every start. */
    async ensureKeys(): Promise<string[]> {
      return knex.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(?)', [0x6b657973]);
        const active = new Set(
          (await listSigningKeys(trx)).filter((k) => k.status === 'active').map((k) => k.alg),
        );
        const created: string[] = [];
        for (const alg of SIGNING_ALGS) {
          if (active.has(alg)) continue;
          const key = await newKey(alg, secretBox);
          await insertSigningKey(trx, key);
          await appendAudit(trx, {
            action: 'keys.generated',
            actor: 'system',
            subject: `key:${key.kid}`,
            details: { alg },
          });
          created.push(key.kid);
        }
        return created;
      });
    },

    /**
     * Private JWKS for the engine: active keys first (the engine signs with the first key of an
     * algorithm), then keys about to become active and retired ones (published, verify only).
     */
    async engineJwks(): Promise<{ keys: JWK[] }> {
      const rows = await listSigningKeys(knex);
      const ordered = (['active', 'next', 'retired'] as const).flatMap((status) =>
        rows.filter((k) => k.status === status),
      );
      return { keys: ordered.map((k) => JSON.parse(secretBox.open(k.privateJwkSealed)) as JWK) };
    },

    /**
     * Rotates every algorithm's key. The new keys are published at once and sign after
     * `activateAfterSeconds` (default: the configured activation delay; 0 signs at once); the
     * previous keys stay published, for verification, until pruned.
     */
    async rotate(
      actor: string,
      options: { activateAfterSeconds?: number } = {},
    ): Promise<string[]> {
      const delay = options.activateAfterSeconds ?? activationDelaySeconds;
      const now = clock.now();
      const kids = await knex.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(?)', [0x6b657973]);
        const kids: string[] = [];
        for (const alg of SIGNING_ALGS) {
          await dropPendingKeys(trx, alg);
          if (delay === 0) await retireActiveKeys(trx, alg, now);
          const key = await newKey(alg, secretBox);
          await insertSigningKey(
            trx,
            delay === 0
              ? key
              : { ...key, status: 'next', activateAt: new Date(now.getTime() + delay * 1000) },
          );
          kids.push(key.kid);
        }
        await appendAudit(trx, {
          action: 'keys.rotated',
          actor,
          details: { kids, activateAfterSeconds: delay },
        });
        return kids;
      });
      // Published on every instance at once (with --now, signing at once everywhere too).
      await announce();
      return kids;
    },

    /** Makes due `next` keys active (every instance runs this on its reload poll). */
    async activateDue(): Promise<string[]> {
      return knex.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(?)', [0x6b657973]);
        const kids = await promoteDueKeys(trx, clock.now());
        if (kids.length)
          await appendAudit(trx, { action: 'keys.activated', actor: 'system', details: { kids } });
        return kids;
      });
    },

    /** Removes retired keys retired longer ago than `olderThanSeconds` (use at least the longest token TTL). */
    async prune(actor: string, olderThanSeconds: number): Promise<number> {
      const removed = await knex.transaction(async (trx) => {
        const count = await deleteRetiredKeys(
          trx,
          new Date(clock.now().getTime() - olderThanSeconds * 1000),
        );
        await appendAudit(trx, { action: 'keys.pruned', actor, details: { removed: count } });
        return count;
      });
      if (removed) await announce();
      return removed;
    },

    /**
     * Revokes one key (a leak): it is deleted, so it leaves every instance's JWKS at once (announced
     * on the change feed after the commit; instances that miss it find it on their poll) and nothing
     * it signed verifies any more. A key that was signing is replaced, in the same transaction, by a
     * new key of its algorithm that signs at once: an algorithm is never left without a signer, and
     * an algorithm One-ID cannot make keys for is refused. Audited with the kid, never the key.
     */
    async revoke(actor: string, kid: string): Promise<KeyRevocation> {
      const revoked = await knex.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(?)', [0x6b657973]);
        const key = await findSigningKey(trx, kid);
        if (!key)
          throw new AppError(
            'ERR_SIGNING_KEY_UNKNOWN',
            `no signing key ${kid} (already revoked or pruned?); keys list shows the published keys`,
            { status: 404 },
          );
        let replacement: string | undefined;
        if (key.status === 'active') {
          if (!isSigningAlg(key.alg))
            throw new AppError(
              'ERR_SIGNING_KEY_IRREPLACEABLE',
              `${kid} is the ${key.alg} key that signs, and One-ID makes no ${key.alg} keys (only ${SIGNING_ALGS.join(', ')}): revoking it would leave ${key.alg} with no key; nothing was changed`,
              { status: 409 },
            );
          const next = await newKey(key.alg, secretBox);
          await insertSigningKey(trx, next);
          replacement = next.kid;
        }
        await deleteSigningKey(trx, kid);
        await appendAudit(trx, {
          action: 'keys.revoked',
          actor,
          subject: `key:${kid}`,
          details: { kid, alg: key.alg, status: key.status, replacement: replacement ?? null },
        });
        return { kid, alg: key.alg, status: key.status, replacement };
      });
      return { ...revoked, announced: await announce() };
    },

    list: () =>
      listSigningKeys(knex).then((rows) =>
        rows.map(({ privateJwkSealed: _sealed, ...rest }) => rest),
      ),

    /** A value that changes whenever keys are added, retired or removed (instances poll it). */
    version: () => latestKeyChange(knex),
  };
};

export type SigningKeyService = ReturnType<typeof createSigningKeyService>;
