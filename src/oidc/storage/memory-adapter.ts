// In-process storage for oidc-provider models: the embedded single-process default.
// It is also the reference for the semantics the Redis adapter must match.
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';

/** What both storage factories return. */
export interface OidcAdapterStore {
  /** Pass as `adapter` in the oidc-provider configuration. */
  readonly Adapter: AdapterConstructor;
  /**
   * Ids of the account's live sessions, soonest expiry first. Ids only: before acting on
   * one (e.g. ending it from the "active sessions" page), load it with
   * `new Adapter('Session').find(id)` and check its `accountId`.
   */
  listSessionIds(accountId: string): Promise<string[]>;
}

export interface MemoryAdapterStore extends OidcAdapterStore {
  /** Entries held, expired ones included until the next sweep: for metrics and tests. */
  size(): number;
  /** Every key, value and index member held, as text: for tests of what must never be stored. */
  dump(): string;
}

export interface MemoryAdapterOptions {
  /** Clock in epoch milliseconds; inject one in tests. */
  now?: () => number;
  /** Minimum time between two full sweeps of expired entries, run lazily on upsert. */
  sweepIntervalMs?: number;
}

// The models oidc-provider revokes together by grant (its own memory adapter uses the same
// list). Interaction and Session also carry a grantId but must survive a grant revocation.
const GRANTABLE: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/** The secondary indexes a stored payload belongs to. */
export interface IndexRefs {
  grantId: string | undefined;
  /** Only for Session: the account whose session listing holds it. */
  accountId: string | undefined;
  uid: string | undefined;
  userCode: string | undefined;
}

const nonEmpty = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

export const indexRefs = (model: string, payload: AdapterPayload): IndexRefs => ({
  grantId: GRANTABLE.has(model) ? nonEmpty(payload.grantId) : undefined,
  accountId: model === 'Session' ? nonEmpty(payload.accountId) : undefined,
  uid: nonEmpty(payload.uid),
  userCode: nonEmpty(payload.userCode),
});

/**
 * The engine's `expiresIn` as whole seconds, or undefined for "never expires". A zero or
 * negative value (possible when the engine saves right at `exp`) becomes one second rather
 * than an immediate delete, so a just-written model is at least readable back.
 */
export const ttlSeconds = (expiresIn: number | undefined): number | undefined =>
  expiresIn === undefined ? undefined : Math.max(1, Math.ceil(expiresIn));

interface StoredRecord {
  payload: string;
  refs: IndexRefs;
  consumed: number | undefined;
  expiresAt: number;
}

interface StoredLookup {
  id: string;
  expiresAt: number;
}

const isLive = (entry: { expiresAt: number }, now: number): boolean => entry.expiresAt > now;

/**
 * Creates an isolated in-process store (nothing is module-global, so several providers or
 * tests in one process never share state). Expired entries are dropped when read and by a
 * full sweep run at most every `sweepIntervalMs` on upsert, so memory stays bounded by the
 * live data plus what expired since the last sweep. Nothing survives a restart.
 */
export const createMemoryAdapter = ({
  now = Date.now,
  sweepIntervalMs = 60_000,
}: MemoryAdapterOptions = {}): MemoryAdapterStore => {
  // Key names mirror the Redis layout, minus the prefix.
  const records = new Map<string, StoredRecord>();
  const lookups = new Map<string, StoredLookup>();
  // index key -> member -> expiresAt (epoch ms, Infinity for none)
  const indexes = new Map<string, Map<string, number>>();
  let lastSweep = now();

  const recordKey = (model: string, id: string) => `${model}:${id}`;
  const uidKey = (model: string, uid: string) => `uid:${model}:${uid}`;
  const userCodeKey = (model: string, userCode: string) => `userCode:${model}:${userCode}`;
  const grantKey = (grantId: string) => `grant:${grantId}`;
  const accountKey = (accountId: string) => `account-sessions:${accountId}`;

  const liveEntry = <T extends { expiresAt: number }>(map: Map<string, T>, key: string) => {
    const entry = map.get(key);
    if (entry === undefined) return undefined;
    if (isLive(entry, now())) return entry;
    map.delete(key);
    return undefined;
  };

  const pruneIndex = (key: string, members: Map<string, number>, at: number) => {
    for (const [member, expiresAt] of members) {
      if (expiresAt <= at) members.delete(member);
    }
    if (members.size === 0) indexes.delete(key);
  };

  const sweep = (at: number) => {
    for (const map of [records, lookups] as Map<string, { expiresAt: number }>[]) {
      for (const [key, entry] of map) {
        if (!isLive(entry, at)) map.delete(key);
      }
    }
    for (const [key, members] of indexes) pruneIndex(key, members, at);
    lastSweep = at;
  };

  const indexAdd = (key: string, member: string, expiresAt: number) => {
    const members = indexes.get(key) ?? new Map<string, number>();
    members.set(member, expiresAt);
    indexes.set(key, members);
  };

  const indexRemove = (key: string, member: string) => {
    const members = indexes.get(key);
    if (members === undefined) return;
    members.delete(member);
    if (members.size === 0) indexes.delete(key);
  };

  // A lookup is only removed while it still points at this id: after a Session's id is
  // rotated, the new id owns the uid and destroying the old one must not unlink it.
  const lookupRemove = (key: string, id: string) => {
    if (lookups.get(key)?.id === id) lookups.delete(key);
  };

  const removeIndexes = (
    model: string,
    id: string,
    previous: IndexRefs,
    next: Partial<IndexRefs> = {},
  ) => {
    const key = recordKey(model, id);
    if (previous.grantId && previous.grantId !== next.grantId)
      indexRemove(grantKey(previous.grantId), key);
    if (previous.accountId && previous.accountId !== next.accountId) {
      indexRemove(accountKey(previous.accountId), id);
    }
    if (previous.uid && previous.uid !== next.uid) lookupRemove(uidKey(model, previous.uid), id);
    if (previous.userCode && previous.userCode !== next.userCode) {
      lookupRemove(userCodeKey(model, previous.userCode), id);
    }
  };

  const parse = (record: StoredRecord | undefined): AdapterPayload | undefined => {
    if (record === undefined) return undefined;
    // A fresh object per read, as from Redis: callers may mutate what they get.
    const payload = JSON.parse(record.payload) as AdapterPayload;
    if (record.consumed !== undefined) payload.consumed = record.consumed;
    return payload;
  };

  class MemoryAdapter implements Adapter {
    readonly #model: string;

    constructor(model: string) {
      this.#model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const at = now();
      if (at - lastSweep >= sweepIntervalMs) sweep(at);

      const ttl = ttlSeconds(expiresIn);
      const expiresAt = ttl === undefined ? Infinity : at + ttl * 1000;
      const key = recordKey(this.#model, id);
      const refs = indexRefs(this.#model, payload);
      const previous = records.get(key);
      if (previous !== undefined) removeIndexes(this.#model, id, previous.refs, refs);

      if (refs.grantId) indexAdd(grantKey(refs.grantId), key, expiresAt);
      if (refs.accountId) indexAdd(accountKey(refs.accountId), id, expiresAt);
      if (refs.uid) lookups.set(uidKey(this.#model, refs.uid), { id, expiresAt });
      if (refs.userCode) lookups.set(userCodeKey(this.#model, refs.userCode), { id, expiresAt });
      // Like the engine's own adapters, an upsert replaces the whole model, `consumed` included.
      records.set(key, { payload: JSON.stringify(payload), refs, consumed: undefined, expiresAt });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return parse(liveEntry(records, recordKey(this.#model, id)));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const lookup = liveEntry(lookups, uidKey(this.#model, uid));
      return lookup === undefined ? undefined : this.find(lookup.id);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const lookup = liveEntry(lookups, userCodeKey(this.#model, userCode));
      return lookup === undefined ? undefined : this.find(lookup.id);
    }

    // Keeps the first consumption time: a replayed code reports when it was first used.
    async consume(id: string): Promise<void> {
      await this.consumeOnce(id);
    }

    /** Marks the record consumed; true only for the one call that did. */
    async consumeOnce(id: string): Promise<boolean> {
      const record = liveEntry(records, recordKey(this.#model, id));
      if (record === undefined || record.consumed !== undefined) return false;
      record.consumed = Math.floor(now() / 1000);
      return true;
    }

    async destroy(id: string): Promise<void> {
      const key = recordKey(this.#model, id);
      const previous = records.get(key);
      if (previous === undefined) return;
      records.delete(key);
      removeIndexes(this.#model, id, previous.refs);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const members = indexes.get(grantKey(grantId));
      if (members === undefined) return;
      indexes.delete(grantKey(grantId));
      for (const member of members.keys()) {
        const record = records.get(member);
        if (record === undefined) continue;
        records.delete(member);
        const separator = member.indexOf(':');
        removeIndexes(member.slice(0, separator), member.slice(separator + 1), record.refs);
      }
    }
  }

  return {
    Adapter: MemoryAdapter,
    async listSessionIds(accountId) {
      const key = accountKey(accountId);
      const members = indexes.get(key);
      if (members === undefined) return [];
      pruneIndex(key, members, now());
      // Same order as Redis ZRANGE: by expiry, then by id.
      return [...members]
        .sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0))
        .map(([id]) => id);
    },
    dump: () =>
      JSON.stringify([
        ...records,
        ...lookups,
        ...[...indexes].map(([key, members]) => [key, [...members.keys()]]),
      ]),
    size: () =>
      records.size +
      lookups.size +
      [...indexes.values()].reduce((total, members) => total + members.size, 0),
  };
};
