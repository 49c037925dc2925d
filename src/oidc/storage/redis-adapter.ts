// Redis storage for oidc-provider models, for standalone Redis, Sentinel and ioredis Cluster.
//
// Key layout (every key starts with the factory's prefix, default "oidc:"):
//   {Model}:{id}                   hash: `payload` (the JSON as given) and `consumed` (epoch s)
//   uid:{Model}:{uid}              string: id, same TTL as the record (findByUid)
//   userCode:{Model}:{userCode}    string: id, same TTL as the record (findByUserCode)
//   grant:{grantId}                sorted set: record keys scored by expiry (epoch ms)
//   account-sessions:{accountId}   sorted set: Session ids scored by expiry (epoch ms)
// Records and lookups expire with the engine's `expiresIn` (no TTL when it is undefined).
// Each index expires with its longest-lived member and drops expired members on every write,
// so neither grows without bound. Expiry scores use the Redis server clock (TIME), the same
// clock as the key TTLs. Requires Redis >= 5 (scripts replicated by effects). No KEYS or SCAN.
//
// One round trip per engine call on a single node (standalone or Sentinel): an upsert writes
// the record, its TTL, its grant or account index and its lookups in one script; findByUid and
// findByUserCode follow the lookup to the record in one script; revokeByGrantId reads the index
// and deletes its records in one script. Every engine request waits on each of these in turn,
// so round trips, not Redis work, are what a token or userinfo request pays for (see
// docs/performance.md). The last two read keys named by data (the record a lookup points at, the
// records an index lists), which a single node allows and a cluster does not.
//
// Cluster: every script and MULTI touches a single key. Operations spanning a record and its
// indexes (upsert, destroy, revokeByGrantId) cannot share a slot, because a record is found
// by its id alone and the index by a grant or account id, so no hash tag can bring them
// together; they run as separate, individually atomic commands (an upsert's sent together)
// arranged so that a failure leaves a harmless dangling index entry, never an unindexed token. A prefix holding a hash
// tag (e.g. "oidc:{one-id}:") pins every key to one slot instead, trading sharding for the
// standalone behaviour.
import type { Cluster, Redis } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { indexRefs, ttlSeconds } from './memory-adapter.ts';
import type { IndexRefs, OidcAdapterStore } from './memory-adapter.ts';
import { createRequestMemo } from './request-memo.ts';
import { redisScript, runScript } from '../../store/index.ts';

export type RedisClient = Redis | Cluster;

export interface RedisAdapterOptions {
  /** Prepended to every key; default "oidc:". */
  prefix?: string;
  /**
   * Whether one script may touch several keys (the one-round-trip paths above). Default: yes on
   * a single node, no on a Cluster; tests set it to run the per-key paths on a single node.
   */
  multiKey?: boolean;
}

export const DEFAULT_REDIS_PREFIX = 'oidc:';

/** The key names of the layout above, e.g. for operational tooling and tests. */
export const redisKeys = (prefix: string = DEFAULT_REDIS_PREFIX) => ({
  record: (model: string, id: string) => `${prefix}${model}:${id}`,
  uid: (model: string, uid: string) => `${prefix}uid:${model}:${uid}`,
  userCode: (model: string, userCode: string) => `${prefix}userCode:${model}:${userCode}`,
  grant: (grantId: string) => `${prefix}grant:${grantId}`,
  accountSessions: (accountId: string) => `${prefix}account-sessions:${accountId}`,
});
export type RedisKeys = ReturnType<typeof redisKeys>;

const SERVER_NOW_MS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

// Replaces a record whole (dropping `consumed`, as the engine's own adapters do) and returns
// the previous payload so stale index entries can be removed.
// KEYS[1] record; ARGV[1] payload JSON; ARGV[2] TTL in seconds, '' for none.
const UPSERT = redisScript(`
local previous = redis.call('HGET', KEYS[1], 'payload')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
if ARGV[2] ~= '' then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return previous
`);

// Atomic, never creates a key for an unknown or expired id, and keeps the first consumption
// time so a replayed code reports when it was first used. KEYS[1] record; ARGV[1] epoch s.
const CONSUME = redisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])
`);

// Deletes a record and returns its payload. KEYS[1] record.
const TAKE = redisScript(`
local previous = redis.call('HGET', KEYS[1], 'payload')
redis.call('DEL', KEYS[1])
return previous
`);

// Deletes a lookup only while it still points at this id: after a Session's id is rotated,
// the new id owns the uid. KEYS[1] lookup; ARGV[1] id.
const UNLINK_LOOKUP = redisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

// Adds or removes an index member, prunes expired members and sets the key to expire with
// its longest-lived member. ttlMs: a number of ms, 'inf' for none, '' to remove the member.
const INDEX_FUNCTION = `
local function index(key, member, ttlMs, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now))
  if ttlMs == '' then
    redis.call('ZREM', key, member)
  elseif ttlMs == 'inf' then
    redis.call('ZADD', key, 'inf', member)
  else
    redis.call('ZADD', key, string.format('%.0f', now + tonumber(ttlMs)), member)
  end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] == nil then return 0 end
  if last[2] == 'inf' then redis.call('PERSIST', key) else redis.call('PEXPIREAT', key, last[2]) end
  return 1
end
`;

// KEYS[1] index; ARGV[1] member; ARGV[2] TTL in ms, 'inf' for none, '' to remove the member.
const INDEX = redisScript(`${SERVER_NOW_MS}${INDEX_FUNCTION}
return index(KEYS[1], ARGV[1], ARGV[2], now)
`);

// UPSERT and the index and lookup writes of addIndexes, in one atomic script (single node only).
// KEYS[1] record, KEYS[2..n] its indexes and lookups; ARGV[1] payload JSON; ARGV[2] TTL in
// seconds, '' for none; ARGV[3] one letter per KEYS[2..n]: 'i' sorted-set index, 'l' lookup;
// ARGV[4..] the index member or lookup value for each of KEYS[2..n]. Returns the previous payload.
const UPSERT_INDEXED = redisScript(`${SERVER_NOW_MS}${INDEX_FUNCTION}
local ttl = ARGV[2]
for i = 2, #KEYS do
  local value = ARGV[i + 2]
  if string.sub(ARGV[3], i - 1, i - 1) == 'l' then
    if ttl == '' then redis.call('SET', KEYS[i], value) else redis.call('SET', KEYS[i], value, 'EX', ttl) end
  else
    index(KEYS[i], value, ttl == '' and 'inf' or tostring(tonumber(ttl) * 1000), now)
  end
end
local previous = redis.call('HGET', KEYS[1], 'payload')
if previous then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
if ttl ~= '' then redis.call('EXPIRE', KEYS[1], ttl) end
return previous
`);

// findByUid / findByUserCode in one round trip (single node only): the record the lookup points
// at, as HGETALL's flat list, or nil. KEYS[1] lookup; ARGV[1] the model's record key prefix.
const FIND_BY_LOOKUP = redisScript(`
local id = redis.call('GET', KEYS[1])
if not id then return nil end
return redis.call('HGETALL', ARGV[1] .. id)
`);

// Tokens, each grant-bound one with its Grant and its Session, in one round trip (single node
// only): the engine reads them one after another at userinfo, introspection, refresh and code
// exchange, and introspection and revocation look the presented token up under three models in
// the same tick (findTogether below). The engine reads the Session only for a token that expires
// with it (oidc-provider's checkSessionBinding): other tokens' sessions are not read (nor sent,
// nor parsed). KEYS: token records; ARGV[1] the key prefix; ARGV[2] one letter per key, 'r' to
// read that token's Grant and Session. Returns, per key, {token, grant, session} as HGETALL lists
// (empty when missing or not read).
const FIND_TOKENS = redisScript(`
local found = {}
for i = 1, #KEYS do
  local token = redis.call('HGETALL', KEYS[i])
  local grant, session = {}, {}
  if #token > 0 and string.sub(ARGV[2], i, i) == 'r' then
    local payload
    for j = 1, #token, 2 do if token[j] == 'payload' then payload = token[j + 1] end end
    local ok, p = pcall(cjson.decode, payload or '')
    if ok and type(p) == 'table' then
      if type(p.grantId) == 'string' and p.grantId ~= '' then
        grant = redis.call('HGETALL', ARGV[1] .. 'Grant:' .. p.grantId)
      end
      if p.expiresWithSession == true and type(p.sessionUid) == 'string' and p.sessionUid ~= '' then
        local id = redis.call('GET', ARGV[1] .. 'uid:Session:' .. p.sessionUid)
        if id then session = redis.call('HGETALL', ARGV[1] .. 'Session:' .. id) end
      end
    end
  end
  found[i] = {token, grant, session}
end
return found
`);

// Deletes the records a grant index lists, then the index (single node only; atomic, so nothing
// can be indexed in between). KEYS[1] grant index. Deletes in batches: Lua's unpack is bounded.
const REVOKE = redisScript(`
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #members, 500 do
  redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
end
redis.call('DEL', KEYS[1])
return #members
`);

// KEYS[1] account-sessions index.
const LIST_LIVE = redisScript(`${SERVER_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
return redis.call('ZRANGE', KEYS[1], 0, -1)
`);

/**
 * Ids of the account's live sessions, soonest expiry first, pruning expired ones. Ids only:
 * before acting on one, load it with `find` and check its `accountId`.
 */
export const listSessionIds = async (
  redis: RedisClient,
  prefix: string,
  accountId: string,
): Promise<string[]> =>
  (await runScript(
    redis,
    LIST_LIVE,
    [redisKeys(prefix).accountSessions(accountId)],
    [],
  )) as string[];

// HGETALL's reply as returned by a script: a flat [field, value, ...] list.
const fromPairs = (list: unknown): Record<string, string> => {
  const record: Record<string, string> = {};
  if (!Array.isArray(list)) return record;
  for (let i = 0; i + 1 < list.length; i += 2) record[String(list[i])] = String(list[i + 1]);
  return record;
};

const parseRecord = (record: Record<string, string>): AdapterPayload | undefined => {
  if (record.payload === undefined) return undefined;
  const payload = JSON.parse(record.payload) as AdapterPayload;
  if (record.consumed !== undefined) payload.consumed = Number(record.consumed);
  return payload;
};

// Grant-bound tokens whose find reads their Grant and Session ahead (FIND_TOKENS).
const READS_AHEAD: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);
// Tokens found through FIND_TOKENS: those above, and client credentials (introspected with them).
const FOUND_TOGETHER: ReadonlySet<string> = new Set([...READS_AHEAD, 'ClientCredentials']);
/** Most token records one FIND_TOKENS reads; more in the same tick go in another. */
const MAX_FOUND_TOGETHER = 64;

const throwOnError = (results: [Error | null, unknown][] | null) => {
  if (results === null) throw new Error('Redis transaction was aborted');
  for (const [error] of results) if (error) throw error;
};

/**
 * Creates the adapter over a connection the caller owns (and quits). Factories with
 * different prefixes on one Redis never see each other's data.
 */
export const createRedisAdapter = (
  redis: RedisClient,
  { prefix = DEFAULT_REDIS_PREFIX, multiKey = !redis.isCluster }: RedisAdapterOptions = {},
): OidcAdapterStore => {
  const keys = redisKeys(prefix);
  const memo = createRequestMemo();

  // Token finds of one tick (introspection's three, concurrent requests' own) sent as one
  // FIND_TOKENS once the tick's callers have all asked. Each caller gets its own key's reply
  // and handles it in its own request (the reads ahead stay with the request that made them).
  type Find = {
    key: string;
    refs: boolean;
    resolve: (reply: unknown[]) => void;
    reject: (error: unknown) => void;
  };
  let finds: Find[] | undefined;
  const findTogether = (key: string, refs: boolean) =>
    new Promise<unknown[]>((resolve, reject) => {
      if (!finds || finds.length >= MAX_FOUND_TOGETHER) {
        const batch: Find[] = (finds = []);
        process.nextTick(() => {
          if (finds === batch) finds = undefined;
          const flags = batch.map((find) => (find.refs ? 'r' : '-')).join('');
          runScript(
            redis,
            FIND_TOKENS,
            batch.map((find) => find.key),
            [prefix, flags],
          ).then(
            (replies) =>
              batch.forEach((find, i) => find.resolve((replies as unknown[][])[i] ?? [])),
            (error: unknown) => batch.forEach((find) => find.reject(error)),
          );
        });
      }
      finds.push({ key, refs, resolve, reject });
    });

  // One script: the record, its TTL, its indexes and lookups (see UPSERT_INDEXED).
  const upsertIndexed = (
    model: string,
    id: string,
    payload: string,
    refs: IndexRefs,
    ttl: number | undefined,
  ) => {
    const scriptKeys = [keys.record(model, id)];
    const values: string[] = [];
    let kinds = '';
    const add = (kind: 'i' | 'l', key: string, value: string) => {
      scriptKeys.push(key);
      values.push(value);
      kinds += kind;
    };
    if (refs.grantId) add('i', keys.grant(refs.grantId), keys.record(model, id));
    if (refs.accountId) add('i', keys.accountSessions(refs.accountId), id);
    if (refs.uid) add('l', keys.uid(model, refs.uid), id);
    if (refs.userCode) add('l', keys.userCode(model, refs.userCode), id);
    return runScript(redis, UPSERT_INDEXED, scriptKeys, [payload, ttl ?? '', kinds, ...values]);
  };

  const findByLookup = async (
    model: string,
    lookupKey: string,
  ): Promise<AdapterPayload | undefined> => {
    if (multiKey)
      return parseRecord(
        fromPairs(await runScript(redis, FIND_BY_LOOKUP, [lookupKey], [keys.record(model, '')])),
      );
    const id = await redis.get(lookupKey);
    return id === null ? undefined : parseRecord(await redis.hgetall(keys.record(model, id)));
  };

  const revoking = new Map<string, Promise<void>>();
  const revokeGrant = async (grantId: string): Promise<void> => {
    const grantKey = keys.grant(grantId);
    if (multiKey) {
      await runScript(redis, REVOKE, [grantKey], []);
      return;
    }
    const members = await redis.zrange(grantKey, 0, -1);
    if (members.length === 0) return;
    if (redis.isCluster) {
      // The records hash to other slots than the index: delete them one by one, and
      // unindex them only once they are gone, so a failed revocation can be retried.
      await Promise.all(members.map((member) => redis.del(member)));
      await redis.zrem(grantKey, ...members);
      return;
    }
    throwOnError(
      await redis
        .multi()
        .del(...members)
        .zrem(grantKey, ...members)
        .exec(),
    );
  };

  const setLookup = (key: string, id: string, ttl: number | undefined) =>
    ttl === undefined ? redis.set(key, id) : redis.set(key, id, 'EX', ttl);

  const addIndexes = (model: string, id: string, refs: IndexRefs, ttl: number | undefined) => {
    const ttlMs = ttl === undefined ? 'inf' : ttl * 1000;
    const writes: Promise<unknown>[] = [];
    if (refs.grantId)
      writes.push(
        runScript(redis, INDEX, [keys.grant(refs.grantId)], [keys.record(model, id), ttlMs]),
      );
    if (refs.accountId)
      writes.push(runScript(redis, INDEX, [keys.accountSessions(refs.accountId)], [id, ttlMs]));
    if (refs.uid) writes.push(setLookup(keys.uid(model, refs.uid), id, ttl));
    if (refs.userCode) writes.push(setLookup(keys.userCode(model, refs.userCode), id, ttl));
    return Promise.all(writes);
  };

  const removeIndexes = (
    model: string,
    id: string,
    previous: IndexRefs,
    next: Partial<IndexRefs> = {},
  ) => {
    const removals: Promise<unknown>[] = [];
    if (previous.grantId && previous.grantId !== next.grantId) {
      removals.push(
        runScript(redis, INDEX, [keys.grant(previous.grantId)], [keys.record(model, id), '']),
      );
    }
    if (previous.accountId && previous.accountId !== next.accountId) {
      removals.push(runScript(redis, INDEX, [keys.accountSessions(previous.accountId)], [id, '']));
    }
    if (previous.uid && previous.uid !== next.uid) {
      removals.push(runScript(redis, UNLINK_LOOKUP, [keys.uid(model, previous.uid)], [id]));
    }
    if (previous.userCode && previous.userCode !== next.userCode) {
      removals.push(
        runScript(redis, UNLINK_LOOKUP, [keys.userCode(model, previous.userCode)], [id]),
      );
    }
    return Promise.all(removals);
  };

  class RedisAdapter implements Adapter {
    readonly #model: string;

    constructor(model: string) {
      this.#model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      memo.clear();
      const ttl = ttlSeconds(expiresIn);
      const refs = indexRefs(this.#model, payload);
      let previous: unknown;
      if (multiKey) {
        previous = await upsertIndexed(this.#model, id, JSON.stringify(payload), refs, ttl);
      } else {
        // Indexes and record in the same round trip (their keys are on other slots, so not
        // atomically). A record written while one of its index writes failed is taken out again:
        // a token missing from its grant's index would survive revocation; an index entry
        // without its record dangles harmlessly.
        const record = keys.record(this.#model, id);
        const [indexed, written] = await Promise.allSettled([
          addIndexes(this.#model, id, refs, ttl),
          runScript(redis, UPSERT, [record], [JSON.stringify(payload), ttl ?? '']),
        ]);
        if (indexed.status === 'rejected') {
          if (written.status === 'fulfilled') await runScript(redis, TAKE, [record], []);
          throw indexed.reason;
        }
        if (written.status === 'rejected') throw written.reason;
        previous = written.value;
      }
      // Entries of indexes the record no longer belongs to (rare: a Session changing account).
      if (typeof previous === 'string') {
        await removeIndexes(
          this.#model,
          id,
          indexRefs(this.#model, JSON.parse(previous) as AdapterPayload),
          refs,
        );
      }
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const key = keys.record(this.#model, id);
      if (multiKey && FOUND_TOGETHER.has(this.#model) && memo.active()) {
        const reads = READS_AHEAD.has(this.#model);
        const reply = await findTogether(key, reads);
        const payload = parseRecord(fromPairs(reply[0]));
        if (!reads) return payload;
        if (typeof payload?.grantId === 'string')
          memo.put(keys.record('Grant', payload.grantId), parseRecord(fromPairs(reply[1])));
        if (payload?.expiresWithSession === true && typeof payload.sessionUid === 'string')
          memo.put(keys.uid('Session', payload.sessionUid), parseRecord(fromPairs(reply[2])));
        return payload;
      }
      const kept = memo.take(key);
      if (kept) return kept.value;
      const record = await redis.hgetall(key);
      // The sign-in pages read an interaction, and the engine reads it again in the same request
      // to record its result: served from here (a copy: the engine changes what it is given).
      const payload = parseRecord(record);
      if (payload && this.#model === 'Interaction') memo.put(key, parseRecord(record));
      return payload;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const key = keys.uid(this.#model, uid);
      const kept = memo.take(key);
      return kept ? kept.value : findByLookup(this.#model, key);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return findByLookup(this.#model, keys.userCode(this.#model, userCode));
    }

    async consume(id: string): Promise<void> {
      await this.consumeOnce(id);
    }

    /** Marks the record consumed; true only for the one call that did (atomic: HSETNX). */
    async consumeOnce(id: string): Promise<boolean> {
      memo.clear();
      return (
        (await runScript(
          redis,
          CONSUME,
          [keys.record(this.#model, id)],
          [Math.floor(Date.now() / 1000)],
        )) === 1
      );
    }

    async destroy(id: string): Promise<void> {
      memo.clear();
      const previous = await runScript(redis, TAKE, [keys.record(this.#model, id)], []);
      if (typeof previous === 'string') {
        await removeIndexes(
          this.#model,
          id,
          indexRefs(this.#model, JSON.parse(previous) as AdapterPayload),
        );
      }
    }

    // Only the members read are removed from the index, so a token indexed concurrently
    // stays indexed for the next revocation. Lookups of revoked records (a DeviceCode's
    // user code) are left to expire: they point at nothing and find returns undefined.
    // The engine revokes a grant once per grant-bound model, concurrently; every call deletes
    // all of the grant's records, so the calls of one tick share one revocation.
    async revokeByGrantId(grantId: string): Promise<void> {
      memo.clear();
      let pending = revoking.get(grantId);
      if (!pending) {
        pending = revokeGrant(grantId);
        revoking.set(grantId, pending);
        // Joined only by calls of this tick, made before the revocation reaches Redis: a later
        // call starts its own, so a token indexed after this one ran is still revoked.
        process.nextTick(() => revoking.delete(grantId));
      }
      return pending;
    }
  }

  return {
    Adapter: RedisAdapter,
    listSessionIds: (accountId) => listSessionIds(redis, prefix, accountId),
  };
};

/**
 * The engine's store of one deployment: its keys under REDIS_KEY_PREFIX then `oidc:`. The
 * servers (engine-adapter.ts) and the CLI (ending sessions) both open it here.
 */
export const createEngineRedisStore = (redis: RedisClient, redisKeyPrefix: string) =>
  createRedisAdapter(redis, { prefix: `${redisKeyPrefix}oidc:` });
