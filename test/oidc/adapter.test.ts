// One contract suite for both oidc-provider storage adapters (in-process and Redis), plus the
// few checks only one backend can answer (Redis TTLs and key cleanup, memory sweeping).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { AdapterConstructor, AdapterPayload } from 'oidc-provider';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createMemoryAdapter } from '../../src/oidc/storage/memory-adapter.ts';
import type { OidcAdapterStore } from '../../src/oidc/storage/memory-adapter.ts';
import { createRedisAdapter, redisKeys } from '../../src/oidc/storage/redis-adapter.ts';
import { withinRequest } from '../../src/oidc/storage/request-memo.ts';

// CI sets REDIS_URL and must fail loudly without Redis; locally the suite falls back to the
// default port and skips the Redis backend when nothing listens there.
const connectRedis = async (): Promise<Redis | undefined> => {
  const required = process.env.REDIS_URL !== undefined;
  const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  // The rejected connect() carries the error; keep ioredis from also logging it as unhandled.
  const ignore = () => {};
  client.on('error', ignore);
  try {
    await client.connect();
    return client;
  } catch (error) {
    client.disconnect();
    if (required) throw error;
    return undefined;
  } finally {
    client.off('error', ignore);
  }
};

const redis = await connectRedis();
const runPrefix = `one-id-test:${randomUUID()}:`;
let factories = 0;
// Every key a test may have made, deleted in afterAll (no KEYS or SCAN).
const createdKeys = new Set<string>();

afterAll(async () => {
  if (redis === undefined) return;
  if (createdKeys.size > 0) await redis.del(...createdKeys);
  await redis.quit();
});

interface Harness {
  store: OidcAdapterStore;
  /** Upserts through the adapter, recording the Redis keys it may create. */
  save(model: string, id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  prefix: string;
}

const harness = (store: OidcAdapterStore, prefix = ''): Harness => ({
  store,
  prefix,
  async save(model, id, payload, expiresIn) {
    if (prefix !== '') {
      const keys = redisKeys(prefix);
      createdKeys.add(keys.record(model, id));
      if (payload.uid) createdKeys.add(keys.uid(model, payload.uid));
      if (payload.userCode) createdKeys.add(keys.userCode(model, payload.userCode));
      if (payload.grantId) createdKeys.add(keys.grant(payload.grantId));
      if (payload.accountId) createdKeys.add(keys.accountSessions(payload.accountId));
    }
    await new store.Adapter(model).upsert(id, payload, expiresIn);
  },
});

const backends: { name: string; create: () => Harness }[] = [
  { name: 'memory', create: () => harness(createMemoryAdapter()) },
];
if (redis !== undefined) {
  backends.push({
    name: 'redis',
    create: () => {
      const prefix = `${runPrefix}${++factories}:`;
      return harness(createRedisAdapter(redis, { prefix }), prefix);
    },
  });
  // The per-key commands a Redis Cluster gets, run here on a single node.
  backends.push({
    name: 'redis (per-key, as on a Cluster)',
    create: () => {
      const prefix = `${runPrefix}${++factories}:`;
      return harness(createRedisAdapter(redis, { prefix, multiKey: false }), prefix);
    },
  });
}

const id = () => randomUUID();
const nowSeconds = () => Math.floor(Date.now() / 1000);

const token = (
  kind: string,
  grantId: string,
  extra: Partial<AdapterPayload> = {},
): AdapterPayload => ({
  jti: id(),
  kind,
  grantId,
  accountId: 'citizen-1',
  clientId: 'agency-tax',
  iat: nowSeconds(),
  exp: nowSeconds() + 600,
  ...extra,
});

const session = (accountId: string, extra: Partial<AdapterPayload> = {}): AdapterPayload => ({
  jti: id(),
  kind: 'Session',
  uid: id(),
  accountId,
  loginTs: nowSeconds(),
  authorizations: { 'agency-tax': { sid: id(), grantId: id() } },
  ...extra,
});

describe.each(backends)('$name adapter', ({ create }) => {
  it('is an oidc-provider adapter constructor', () => {
    const Adapter: AdapterConstructor = create().store.Adapter;
    expect(typeof new Adapter('AccessToken').upsert).toBe('function');
  });

  it('round-trips a payload exactly, as a fresh object on every read', async () => {
    const { store, save } = create();
    const payload = token('AccessToken', id(), {
      scope: 'openid profile',
      aud: ['https://tax.example.gov', 'https://health.example.gov'],
      amr: [],
      claims: {
        id_token: { email: null, acr: { essential: true, values: ['urn:one-id:loa:high'] } },
      },
      extra: {
        nested: {
          emptyObject: {},
          emptyArray: [],
          big: 2 ** 53 - 1,
          float: 0.1 + 0.2,
          text: 'Ærøskøbing ✓',
        },
      },
      expiresWithSession: false,
    });
    await save('AccessToken', payload.jti!, payload, 60);

    const Adapter = new store.Adapter('AccessToken');
    const found = await Adapter.find(payload.jti!);
    expect(found).toStrictEqual(payload);
    (found as AdapterPayload).scope = 'changed';
    expect(await Adapter.find(payload.jti!)).toStrictEqual(payload);
  });

  it('keeps models apart and replaces a payload whole on upsert', async () => {
    const { store, save } = create();
    const shared = id();
    await save('AccessToken', shared, { kind: 'AccessToken', scope: 'openid' }, 60);
    await save('RefreshToken', shared, { kind: 'RefreshToken', scope: 'openid email' }, 60);
    await save('AccessToken', shared, { kind: 'AccessToken' }, 60);

    expect(await new store.Adapter('AccessToken').find(shared)).toStrictEqual({
      kind: 'AccessToken',
    });
    expect(await new store.Adapter('RefreshToken').find(shared)).toStrictEqual({
      kind: 'RefreshToken',
      scope: 'openid email',
    });
  });

  it('answers undefined for unknown ids and ignores operations on them', async () => {
    const { store } = create();
    const Adapter = new store.Adapter('AuthorizationCode');
    const unknown = id();
    await Adapter.consume(unknown);
    await Adapter.destroy(unknown);
    await Adapter.revokeByGrantId(unknown);
    expect(await Adapter.find(unknown)).toBeUndefined();
    expect(await Adapter.findByUid(unknown)).toBeUndefined();
    expect(await Adapter.findByUserCode(unknown)).toBeUndefined();
    expect(await store.listSessionIds(unknown)).toStrictEqual([]);
  });

  it('expires every record, lookup and index entry with its TTL', async () => {
    const { store, save } = create();
    const grantId = id();
    const shortToken = token('AccessToken', grantId);
    const longToken = token('RefreshToken', grantId);
    const forever = token('AccessToken', id());
    const device = token('DeviceCode', grantId, { userCode: 'WDJB-MJHT' });
    const shortSession = session('citizen-ttl');
    const longSession = session('citizen-ttl');
    await Promise.all([
      save('AccessToken', shortToken.jti!, shortToken, 1),
      save('RefreshToken', longToken.jti!, longToken, 60),
      save('AccessToken', forever.jti!, forever),
      save('DeviceCode', device.jti!, device, 1),
      save('Session', shortSession.jti!, shortSession, 1),
      save('Session', longSession.jti!, longSession, 60),
    ]);
    expect(await store.listSessionIds('citizen-ttl')).toHaveLength(2);

    await sleep(1_100);

    const Session = new store.Adapter('Session');
    expect(await new store.Adapter('AccessToken').find(shortToken.jti!)).toBeUndefined();
    expect(await new store.Adapter('DeviceCode').findByUserCode('WDJB-MJHT')).toBeUndefined();
    expect(await Session.find(shortSession.jti!)).toBeUndefined();
    expect(await Session.findByUid(shortSession.uid!)).toBeUndefined();
    expect(await store.listSessionIds('citizen-ttl')).toStrictEqual([longSession.jti]);

    expect(await new store.Adapter('RefreshToken').find(longToken.jti!)).toStrictEqual(longToken);
    expect(await new store.Adapter('AccessToken').find(forever.jti!)).toStrictEqual(forever);
    expect(await Session.findByUid(longSession.uid!)).toStrictEqual(longSession);
  });

  it('consume sets `consumed` to epoch seconds, once, even when raced', async () => {
    const { store, save } = create();
    const code = token('AuthorizationCode', id());
    await save('AuthorizationCode', code.jti!, code, 60);
    const Adapter = new store.Adapter('AuthorizationCode');

    const before = nowSeconds();
    await Promise.all(Array.from({ length: 10 }, () => Adapter.consume(code.jti!)));
    const found = await Adapter.find(code.jti!);

    expect(typeof found?.consumed).toBe('number');
    expect(found?.consumed).toBeGreaterThanOrEqual(before);
    expect(found?.consumed).toBeLessThanOrEqual(nowSeconds());
    expect({ ...found, consumed: undefined }).toStrictEqual({ ...code, consumed: undefined });

    await Adapter.consume(code.jti!);
    expect((await Adapter.find(code.jti!))?.consumed).toBe(found?.consumed);
  });

  it('destroy removes the record, its lookups and its session listing', async () => {
    const { store, save } = create();
    const citizen = session('citizen-destroy');
    await save('Session', citizen.jti!, citizen, 60);
    const Session = new store.Adapter('Session');

    await Session.destroy(citizen.jti!);

    expect(await Session.find(citizen.jti!)).toBeUndefined();
    expect(await Session.findByUid(citizen.uid!)).toBeUndefined();
    expect(await store.listSessionIds('citizen-destroy')).toStrictEqual([]);
  });

  it('findByUid follows a session across id rotation', async () => {
    const { store, save } = create();
    const first = session('citizen-rotate');
    const rotated = { ...first, jti: id() };
    const Session = new store.Adapter('Session');
    await save('Session', first.jti!, first, 60);
    expect(await Session.findByUid(first.uid!)).toStrictEqual(first);

    // The engine saves the new id, then destroys the old one.
    await save('Session', rotated.jti!, rotated, 60);
    await Session.destroy(first.jti!);

    expect(await Session.findByUid(first.uid!)).toStrictEqual(rotated);
    expect(await store.listSessionIds('citizen-rotate')).toStrictEqual([rotated.jti]);
    // Lookups are per model: an uid on another model is not a Session's.
    expect(await new store.Adapter('Interaction').findByUid(first.uid!)).toBeUndefined();
  });

  it('findByUserCode finds a device code until it is destroyed', async () => {
    const { store, save } = create();
    const device = token('DeviceCode', id(), {
      userCode: 'BDWP-HQPK',
      params: { client_id: 'kiosk' },
    });
    await save('DeviceCode', device.jti!, device, 60);
    const DeviceCode = new store.Adapter('DeviceCode');

    expect(await DeviceCode.findByUserCode('BDWP-HQPK')).toStrictEqual(device);
    await DeviceCode.destroy(device.jti!);
    expect(await DeviceCode.findByUserCode('BDWP-HQPK')).toBeUndefined();
  });

  it('revokeByGrantId removes the tokens of that grant only', async () => {
    const { store, save } = create();
    const grantId = id();
    const otherGrant = id();
    const revoked = [
      ['AccessToken', token('AccessToken', grantId)],
      ['RefreshToken', token('RefreshToken', grantId)],
      ['AuthorizationCode', token('AuthorizationCode', grantId)],
      ['DeviceCode', token('DeviceCode', grantId, { userCode: 'XKCD-GRNT' })],
    ] as const;
    const kept = [
      ['AccessToken', token('AccessToken', otherGrant)],
      ['RefreshToken', token('RefreshToken', otherGrant)],
      // Not grant-bound models, even when their payload names the grant.
      ['Interaction', token('Interaction', grantId)],
      ['Session', session('citizen-grant', { grantId })],
    ] as const;
    for (const [model, payload] of [...revoked, ...kept])
      await save(model, payload.jti!, payload, 60);

    await new store.Adapter('AccessToken').revokeByGrantId(grantId);

    for (const [model, payload] of revoked) {
      expect(await new store.Adapter(model).find(payload.jti!), model).toBeUndefined();
    }
    expect(await new store.Adapter('DeviceCode').findByUserCode('XKCD-GRNT')).toBeUndefined();
    for (const [model, payload] of kept) {
      expect(await new store.Adapter(model).find(payload.jti!), model).toStrictEqual(payload);
    }

    // A token issued for the grant afterwards is indexed again.
    const late = token('AccessToken', grantId);
    await save('AccessToken', late.jti!, late, 60);
    await new store.Adapter('RefreshToken').revokeByGrantId(grantId);
    expect(await new store.Adapter('AccessToken').find(late.jti!)).toBeUndefined();
  });

  it('lists live sessions per account and follows an account change', async () => {
    const { store, save } = create();
    const soon = session('citizen-a');
    const later = session('citizen-a');
    const forever = session('citizen-a');
    const other = session('citizen-b');
    await save('Session', later.jti!, later, 120);
    await save('Session', soon.jti!, soon, 60);
    await save('Session', forever.jti!, forever);
    await save('Session', other.jti!, other, 60);

    expect(await store.listSessionIds('citizen-a')).toStrictEqual([
      soon.jti,
      later.jti,
      forever.jti,
    ]);
    expect(await store.listSessionIds('citizen-b')).toStrictEqual([other.jti]);

    const switched = { ...soon, accountId: 'citizen-b' };
    await save('Session', switched.jti!, switched, 60);
    expect(await store.listSessionIds('citizen-a')).toStrictEqual([later.jti, forever.jti]);
    expect((await store.listSessionIds('citizen-b')).sort()).toStrictEqual(
      [other.jti, soon.jti].sort(),
    );

    // Only Session payloads index an account.
    await save('AccessToken', id(), token('AccessToken', id(), { accountId: 'citizen-c' }), 60);
    expect(await store.listSessionIds('citizen-c')).toStrictEqual([]);
  });

  it('keeps two factories isolated', async () => {
    const one = create();
    const two = create();
    const grantId = id();
    const access = token('AccessToken', grantId);
    const citizen = session('citizen-isolated');
    await one.save('AccessToken', access.jti!, access, 60);
    await one.save('Session', citizen.jti!, citizen, 60);

    expect(await new two.store.Adapter('AccessToken').find(access.jti!)).toBeUndefined();
    expect(await new two.store.Adapter('Session').findByUid(citizen.uid!)).toBeUndefined();
    expect(await two.store.listSessionIds('citizen-isolated')).toStrictEqual([]);

    await new two.store.Adapter('AccessToken').revokeByGrantId(grantId);
    expect(await new one.store.Adapter('AccessToken').find(access.jti!)).toStrictEqual(access);
    expect(await one.store.listSessionIds('citizen-isolated')).toStrictEqual([citizen.jti]);
  });
});

describe.skipIf(redis === undefined)('redis adapter key layout', () => {
  const create = () => backends.find(({ name }) => name === 'redis')!.create();

  it('gives records and lookups the engine TTL, and none without expiresIn', async () => {
    const { save, prefix } = create();
    const keys = redisKeys(prefix);
    const device = token('DeviceCode', id(), { userCode: 'TTLS-TEST' });
    const forever = token('AccessToken', id());
    await save('DeviceCode', device.jti!, device, 300);
    await save('AccessToken', forever.jti!, forever);

    for (const key of [
      keys.record('DeviceCode', device.jti!),
      keys.userCode('DeviceCode', 'TTLS-TEST'),
    ]) {
      expect(await redis!.ttl(key)).toBeGreaterThan(295);
      expect(await redis!.ttl(key)).toBeLessThanOrEqual(300);
    }
    expect(await redis!.ttl(keys.record('AccessToken', forever.jti!))).toBe(-1);
  });

  it('extends a grant index to its longest-lived member and never shortens it', async () => {
    const { save, prefix } = create();
    const grantId = id();
    const grantKey = redisKeys(prefix).grant(grantId);
    await save('AccessToken', id(), token('AccessToken', grantId), 60);
    expect(await redis!.ttl(grantKey)).toBeGreaterThan(55);
    await save('RefreshToken', id(), token('RefreshToken', grantId), 3_600);
    await save('AccessToken', id(), token('AccessToken', grantId), 60);
    expect(await redis!.ttl(grantKey)).toBeGreaterThan(3_590);
    await save('RefreshToken', id(), token('RefreshToken', grantId));
    expect(await redis!.ttl(grantKey)).toBe(-1);
  });

  it('makes one round trip per engine call on a single node', async () => {
    const { store, save } = create();
    const grantId = id();
    const citizen = session('citizen-trips');
    const tokens = [
      token('AccessToken', grantId),
      token('RefreshToken', grantId),
      token('AccessToken', grantId),
    ];
    const Session = new store.Adapter('Session');
    const AccessToken = new store.Adapter('AccessToken');
    // Once first, so that every script is loaded (a NOSCRIPT retry is a second command).
    await save('Session', citizen.jti!, citizen, 60);
    await Session.findByUid(citizen.uid!);
    await AccessToken.revokeByGrantId(id());
    const sent = vi.spyOn(redis!, 'sendCommand');
    try {
      const trips = async (operation: () => Promise<unknown>) => {
        sent.mockClear();
        await operation();
        return sent.mock.calls.length;
      };
      for (const payload of tokens)
        expect(await trips(() => save(payload.kind as string, payload.jti!, payload, 60))).toBe(1);
      expect(
        await trips(() => save('Session', citizen.jti!, { ...citizen, loginTs: nowSeconds() }, 60)),
      ).toBe(1);
      expect(await trips(() => Session.findByUid(citizen.uid!))).toBe(1);
      expect(await trips(() => new store.Adapter('RefreshToken').consume(tokens[1]!.jti!))).toBe(1);
      expect(await trips(() => AccessToken.revokeByGrantId(grantId))).toBe(1);
    } finally {
      sent.mockRestore();
    }
    for (const payload of tokens)
      expect(await new store.Adapter(payload.kind as string).find(payload.jti!)).toBeUndefined();
    expect(await Session.findByUid(citizen.uid!)).toMatchObject({ jti: citizen.jti });
  });

  it("serves an interaction read to the same request's next read of it, once, until a write", async () => {
    const { store, save } = create();
    const Interaction = new store.Adapter('Interaction');
    const uid = id();
    const interaction = { jti: uid, kind: 'Interaction', exp: nowSeconds() + 600 };
    await save('Interaction', uid, interaction, 600);
    const sent = vi.spyOn(redis!, 'sendCommand');
    try {
      const reads = async (operation: () => Promise<unknown>) => {
        sent.mockClear();
        const value = await operation();
        return { value, trips: sent.mock.calls.length };
      };
      // Outside a request nothing is kept: each read goes to Redis.
      expect((await reads(() => Interaction.find(uid))).trips).toBe(1);
      expect((await reads(() => Interaction.find(uid))).trips).toBe(1);
      await withinRequest({}, async () => {
        const first = await reads(() => Interaction.find(uid));
        expect(first).toMatchObject({ value: interaction, trips: 1 });
        // The engine's second read in the request: served, as a copy of its own.
        const second = await reads(() => Interaction.find(uid));
        expect(second).toMatchObject({ value: interaction, trips: 0 });
        expect(second.value).not.toBe(first.value);
        // Once only.
        expect((await reads(() => Interaction.find(uid))).trips).toBe(1);
        // A write drops what was kept: the next read sees the write.
        await Interaction.upsert(
          uid,
          { ...interaction, result: { login: { accountId: 'a' } } },
          600,
        );
        expect(await reads(() => Interaction.find(uid))).toMatchObject({
          value: { result: { login: { accountId: 'a' } } },
          trips: 1,
        });
      });
      // Another request does not see this one's reads.
      await withinRequest({}, async () => {
        expect((await reads(() => Interaction.find(uid))).trips).toBe(1);
      });
    } finally {
      sent.mockRestore();
    }
  });

  it("reads a token's Grant ahead, and its Session only when the token expires with it", async () => {
    const { store, save } = create();
    const grantId = id();
    const grant = { jti: grantId, kind: 'Grant', accountId: 'citizen-1', clientId: 'agency-tax' };
    const citizen = session('citizen-1');
    await save('Grant', grantId, grant, 600);
    await save('Session', citizen.jti!, citizen, 600);
    const bound = token('AccessToken', grantId, {
      sessionUid: citizen.uid,
      expiresWithSession: true,
    });
    const offline = token('AccessToken', grantId, {
      sessionUid: citizen.uid,
      expiresWithSession: false,
    });
    await save('AccessToken', bound.jti!, bound, 600);
    await save('AccessToken', offline.jti!, offline, 600);
    const [AccessToken, Grant, Session] = ['AccessToken', 'Grant', 'Session'].map(
      (model) => new store.Adapter(model),
    );
    const sent = vi.spyOn(redis!, 'sendCommand');
    const trips = async (operation: () => Promise<unknown>) => {
      sent.mockClear();
      const value = await operation();
      return { value, trips: sent.mock.calls.length };
    };
    try {
      // oidc-provider's checkSessionBinding reads the Session of a token expiring with it only.
      await withinRequest({}, async () => {
        await AccessToken!.find(bound.jti!);
        expect(await trips(() => Grant!.find(grantId))).toMatchObject({ value: grant, trips: 0 });
        expect(await trips(() => Session!.findByUid(citizen.uid!))).toMatchObject({
          value: citizen,
          trips: 0,
        });
      });
      await withinRequest({}, async () => {
        await AccessToken!.find(offline.jti!);
        expect(await trips(() => Grant!.find(grantId))).toMatchObject({ value: grant, trips: 0 });
        // Not read ahead: asked for anyway, it comes from Redis as it is now.
        const read = await trips(() => Session!.findByUid(citizen.uid!));
        expect(read.value).toStrictEqual(citizen);
        expect(read.trips).toBeGreaterThan(0);
      });
    } finally {
      sent.mockRestore();
    }
  });

  it('finds a token under several models in the same tick with one command', async () => {
    const { store, save } = create();
    const grantId = id();
    const grant = { jti: grantId, kind: 'Grant', accountId: 'citizen-1', clientId: 'agency-tax' };
    await save('Grant', grantId, grant, 600);
    const access = token('AccessToken', grantId);
    const credentials = { jti: id(), kind: 'ClientCredentials', clientId: 'agency-tax' };
    await save('AccessToken', access.jti!, access, 600);
    await save('ClientCredentials', credentials.jti, credentials, 600);
    const models = ['AccessToken', 'ClientCredentials', 'RefreshToken'];
    const [AccessToken, ClientCredentials, RefreshToken, Grant] = [...models, 'Grant'].map(
      (model) => new store.Adapter(model),
    );
    // Scripts loaded first, so each find below is one command.
    await withinRequest({}, () => AccessToken!.find(access.jti!));
    const sent = vi.spyOn(redis!, 'sendCommand');
    try {
      // Introspection (oidc-provider's findToken): the presented value under each model at once.
      await withinRequest({}, async () => {
        sent.mockClear();
        const found = await Promise.all([
          AccessToken!.find(access.jti!),
          ClientCredentials!.find(access.jti!),
          RefreshToken!.find(access.jti!),
        ]);
        expect(found).toStrictEqual([access, undefined, undefined]);
        expect(sent.mock.calls).toHaveLength(1);
        expect(await Grant!.find(grantId)).toStrictEqual(grant);
        expect(sent.mock.calls).toHaveLength(1);
      });
      // Concurrent requests' finds share the command; each keeps its own reads ahead.
      sent.mockClear();
      const [first, second] = await Promise.all([
        withinRequest({}, async () => [
          await ClientCredentials!.find(credentials.jti),
          await Grant!.find(grantId).then(() => sent.mock.calls.length),
        ]),
        withinRequest({}, () => AccessToken!.find(access.jti!)),
      ]);
      // The first request read no Grant ahead: it asks Redis (the second command).
      expect(first).toStrictEqual([credentials, 2]);
      expect(second).toStrictEqual(access);
      expect(sent.mock.calls).toHaveLength(2);
    } finally {
      sent.mockRestore();
    }
  });

  it('leaves no key behind once everything is destroyed or consumed away', async () => {
    const { store, save, prefix } = create();
    const keys = redisKeys(prefix);
    const grantId = id();
    const access = token('AccessToken', grantId);
    const citizen = session('citizen-clean');
    const unknown = id();
    await save('AccessToken', access.jti!, access, 60);
    await save('Session', citizen.jti!, citizen, 60);
    await new store.Adapter('AuthorizationCode').consume(unknown);

    await new store.Adapter('AccessToken').destroy(access.jti!);
    await new store.Adapter('Session').destroy(citizen.jti!);

    expect(
      await redis!.exists(
        keys.record('AccessToken', access.jti!),
        keys.grant(grantId),
        keys.record('Session', citizen.jti!),
        keys.uid('Session', citizen.uid!),
        keys.accountSessions('citizen-clean'),
        keys.record('AuthorizationCode', unknown),
      ),
    ).toBe(0);
  });
});

if (redis === undefined) {
  describe('redis adapter', () => {
    it.skip('needs Redis: set REDIS_URL or start one on 127.0.0.1:6379', () => {});
  });
}

describe('memory adapter sweeping', () => {
  it('drops expired entries on the next upsert after the sweep interval', async () => {
    let clock = 1_000_000;
    const store = createMemoryAdapter({ now: () => clock, sweepIntervalMs: 10_000 });
    const Session = new store.Adapter('Session');
    for (let n = 0; n < 100; n += 1) {
      const citizen = session(`citizen-${n}`);
      await Session.upsert(citizen.jti!, citizen, 1);
    }
    expect(store.size()).toBe(300); // record, uid lookup and account index member each

    clock += 5_000;
    await Session.upsert('kept', session('citizen-kept'), 60);
    expect(store.size()).toBe(303); // expired, but not swept yet

    clock += 5_000;
    await Session.upsert('kept', session('citizen-kept'), 60);
    expect(store.size()).toBe(3);
  });
});
