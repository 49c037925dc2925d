// `npx tsx bench/scale.ts [--accounts 14000000] [--small 1000] [--seconds 8] [--keep]`
//
// Does sign-in and token latency hold with a national-size account table? On a fresh PostgreSQL
// database (and Redis DB 12): One-ID with `--small` seeded citizens is measured (sign-in flows,
// client-credentials and refresh tokens, userinfo; 10 and 50 connections), then the database is
// grown to `--accounts` citizens (each with a passkey and a consent: `seed accounts` with COPY),
// analysed, and One-ID is measured again with citizens drawn uniformly from all of them. Also
// measured: bytes per account in PostgreSQL (pg_total_relation_size / rows) and Redis bytes per
// active session (MEMORY USAGE on real session keys, and the dataset's growth per sign-in).
// Writes bench/results/scale.json; drops the database unless --keep.
import { randomBytes, randomInt } from 'node:crypto';
import { loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import { Redis } from 'ioredis';
import { seedAccounts, seededAccount, seedKeyPair } from '../src/cli/seed-accounts.ts';
import { createHttp } from './http.ts';
import { runFlows, signInFlow, type Signer, type Target, type Tokens } from './flows.ts';
import { measure, type Measurement } from './scenarios.ts';
import { startTarget, stopTarget } from './targets.ts';

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '14000000' },
    small: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '10,50' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/scale.json' },
  },
});
const total = Number(values.accounts);
const small = Number(values.small);
const seconds = Number(values.seconds);
const connectionCounts = values.connections!.split(',').map(Number);
const adminUrl =
  process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_SCALE_REDIS_URL ?? 'redis://127.0.0.1:6379/12';
const seed = `scale${Date.now()}`;
const secrets = {
  COOKIE_KEYS: randomBytes(32).toString('base64url'),
  KEY_ENCRYPTION_KEYS: randomBytes(32).toString('base64url'),
  PAIRWISE_SALT: randomBytes(32).toString('base64url'),
  AUDIT_KEYS: randomBytes(32).toString('base64url'),
};
const limits = {
  RATE_LIMIT_SIGNIN_PER_MINUTE: '1000000',
  RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
  RATE_LIMIT_ACCOUNT_PER_MINUTE: '1000000',
};
const log = (line: string) => process.stderr.write(`${line}\n`);

const sizes = async (knex: Knex) => {
  const rows =
    await knex.raw(`select c.relname as table, pg_total_relation_size(c.oid)::bigint as bytes, c.reltuples::bigint as rows
    from pg_class c where c.relname in ('accounts', 'passkey_credentials', 'consents') order by c.relname`);
  return Object.fromEntries(
    (rows.rows as { table: string; bytes: string; rows: string }[]).map((r) => [
      r.table,
      {
        bytes: Number(r.bytes),
        rows: Number(r.rows),
        bytesPerRow: Math.round(Number(r.bytes) / Math.max(1, Number(r.rows))),
      },
    ]),
  );
};

type Server = Awaited<ReturnType<typeof startTarget>>;

const targetOf = (server: Server): Target => ({
  issuer: server.issuer,
  clientId: server.clientId,
  clientSecret: server.clientSecret,
  redirectUri: server.redirectUri,
  kind: 'one-id',
});

// Citizens drawn uniformly from the whole table: index pages cold as in real life.
const signerOver = (accounts: number) => (): Signer => {
  const a = seededAccount(seed, randomInt(accounts));
  return { credentialId: a.credentialId, privateKey: seedKeyPair(seed, a.keyIndex).privateKey };
};

const mint = async (http: ReturnType<typeof createHttp>, server: Server, signer: () => Signer) => {
  const minted: Tokens[] = [];
  for (let i = 0; i < Math.max(...connectionCounts) + 20; i += 1)
    minted.push(await signInFlow(http, targetOf(server), signer()));
  return {
    refresh: minted.map((t) => t.refresh_token!),
    access: minted.map((t) => t.access_token),
  };
};

const usedMemory = async (redis: Redis) =>
  Number((await redis.info('memory')).match(/used_memory:(\d+)/)![1]);

/** MEMORY USAGE of up to 200 real keys matching `pattern` (SCAN: this Redis DB is the bench's own). */
const keyBytes = async (redis: Redis, pattern: string) => {
  const sizes: number[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys.slice(0, 200 - sizes.length))
      sizes.push((await redis.memory('USAGE', key)) ?? 0);
  } while (cursor !== '0' && sizes.length < 200);
  return {
    mean: Math.round(sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length)),
    sampled: sizes.length,
  };
};

const main = async () => {
  const startedAt = new Date();
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  const stamp = Date.now();
  const names = { small: `oneid_scale_${stamp}_small`, big: `oneid_scale_${stamp}_big` };
  const urlOf = (name: string) =>
    Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  const redisOf = (n: number) => Object.assign(new URL(redisUrl), { pathname: `/${n}` }).toString();
  const redisDbs = {
    small: Number(new URL(redisUrl).pathname.slice(1) || 12),
    big: Number(new URL(redisUrl).pathname.slice(1) || 12) - 1,
  };
  const redis = {
    small: new Redis(redisOf(redisDbs.small), { maxRetriesPerRequest: 1 }),
    big: new Redis(redisOf(redisDbs.big), { maxRetriesPerRequest: 1 }),
  };
  await Promise.all([redis.small.flushdb(), redis.big.flushdb()]);
  for (const name of Object.values(names)) await admin.raw(`CREATE DATABASE ${name}`);
  const knex = {
    small: knexFactory({ client: 'pg', connection: urlOf(names.small), pool: { min: 0, max: 4 } }),
    big: knexFactory({ client: 'pg', connection: urlOf(names.big), pool: { min: 0, max: 4 } }),
  };
  const servers: Server[] = [];
  try {
    // Both databases start alike (the bench client, `small` citizens); then the big one grows.
    const env = (which: 'small' | 'big') => ({
      ...secrets,
      ...limits,
      BENCH_SEED_ACCOUNTS: String(small),
      BENCH_SEED: seed,
      DATABASE_URL: urlOf(names[which]),
      REDIS_URL: redisOf(redisDbs[which]),
    });
    const small1 = await startTarget('small', 'server.ts', env('small'));
    const big1 = await startTarget('big', 'server.ts', env('big'));
    servers.push(small1, big1);
    log(
      `seeding ${(total - small).toLocaleString('en')} more accounts (passkey + consent each) into ${names.big}...`,
    );
    let shown = 0;
    const seeded = await seedAccounts(knex.big, {
      count: total - small,
      start: small,
      seed,
      withPasskeys: true,
      consentClient: 'bench-rp',
      copy: true,
      onProgress: (done) => {
        if (done - shown >= 1_000_000) {
          shown = done;
          log(
            `  ${done.toLocaleString('en')} seeded (${Math.round(done / ((Date.now() - startedAt.getTime()) / 1000))}/s)`,
          );
        }
      },
    });
    log(
      `seeded ${seeded.accounts.toLocaleString('en')} in ${seeded.seconds.toFixed(0)} s (${seeded.perSecond}/s); analysing`,
    );
    await knex.big.raw('ANALYZE');
    await knex.small.raw('ANALYZE');
    const postgres = { small: await sizes(knex.small), big: await sizes(knex.big) };
    const runs = [
      { label: 'small', accounts: small, server: small1, redis: redis.small },
      { label: 'big', accounts: total, server: big1, redis: redis.big },
    ];
    const https = runs.map((r) => createHttp(r.server.port, Math.max(...connectionCounts)));
    for (const [i, r] of runs.entries()) await mint(https[i]!, r.server, signerOver(r.accounts)); // warm-up
    const results: Measurement[] = [];
    const memory = runs.map(() => ({ before: 0, signIns: 0, keysBefore: 0 }));
    for (const [i, r] of runs.entries())
      memory[i] = {
        before: await usedMemory(r.redis),
        signIns: 0,
        keysBefore: await r.redis.dbsize(),
      };
    // Measured back to back, small then big, so load elsewhere on the machine skews both alike.
    for (const connections of connectionCounts) {
      for (const [i, r] of runs.entries()) {
        const f = await runFlows(
          https[i]!,
          targetOf(r.server),
          connections,
          seconds,
          signerOver(r.accounts),
        );
        memory[i]!.signIns += f.flows;
        results.push({
          scenario: 'signin',
          target: r.label,
          connections,
          perSecond: f.perSecond,
          p50: f.p50,
          p99: f.p99,
          total: f.flows,
          errors: f.errors,
          ...(f.firstError && { firstError: f.firstError }),
        });
        log(
          `${r.label} signin ${connections} conn: ${f.perSecond.toFixed(0)}/s p50 ${f.p50.toFixed(1)} p99 ${f.p99.toFixed(1)} errors ${f.errors}`,
        );
      }
    }
    const redisReport = [];
    for (const [i, r] of runs.entries()) {
      const session = await keyBytes(r.redis, 'oidc:Session:*');
      const uid = await keyBytes(r.redis, 'oidc:uid:Session:*');
      redisReport.push({
        label: r.label,
        sessionKeyBytes: session.mean,
        sessionUidKeyBytes: uid.mean,
        sampledKeys: session.sampled,
        signIns: memory[i]!.signIns,
        keysPerSignIn: +(
          ((await r.redis.dbsize()) - memory[i]!.keysBefore) /
          memory[i]!.signIns
        ).toFixed(1),
        usedMemoryGrowthPerSignIn: Math.round(
          ((await usedMemory(r.redis)) - memory[i]!.before) / memory[i]!.signIns,
        ),
      });
    }
    for (const connections of connectionCounts) {
      const pools = [];
      for (const [i, r] of runs.entries())
        pools.push(await mint(https[i]!, r.server, signerOver(r.accounts)));
      for (const scenario of ['token_cc', 'token_refresh', 'userinfo'] as const) {
        for (const [i, r] of runs.entries()) {
          const m = {
            ...(await measure(
              scenario,
              {
                port: r.server.port,
                issuer: r.server.issuer,
                clientId: r.server.clientId,
                clientSecret: r.server.clientSecret,
              },
              pools[i]!,
              connections,
              seconds,
            )),
            target: r.label,
          };
          results.push(m);
          log(
            `${r.label} ${scenario} ${connections} conn: ${m.perSecond.toFixed(0)}/s p50 ${m.p50} p99 ${m.p99} errors ${m.errors}`,
          );
        }
      }
    }
    for (const h of https) h.close();
    const comparison = results
      .filter((r) => r.target === 'small')
      .map((s) => {
        const b = results.find(
          (r) => r.target === 'big' && r.scenario === s.scenario && r.connections === s.connections,
        )!;
        return {
          scenario: s.scenario,
          connections: s.connections,
          small: { perSecond: s.perSecond, p50: s.p50, p99: s.p99 },
          big: { perSecond: b.perSecond, p50: b.p50, p99: b.p99 },
          p50Change: b.p50 / s.p50 - 1,
          p99Change: b.p99 / s.p99 - 1,
          throughputChange: b.perSecond / s.perSecond - 1,
        };
      });
    const perAccount =
      ['accounts', 'passkey_credentials', 'consents'].reduce(
        (n, t) => n + (postgres.big[t]?.bytes ?? 0),
        0,
      ) / total;
    const big = redisReport[1]!;
    const sessionBytes = big.sessionKeyBytes + big.sessionUidKeyBytes;
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: `npx tsx bench/scale.ts ${process.argv.slice(2).join(' ')}`.trim(),
      load: loadavg(),
      accounts: { small, big: total },
      seeding: seeded,
      postgres: { ...postgres, bytesPerAccountAllTables: Math.round(perAccount) },
      redis: {
        perTarget: redisReport,
        bytesPerSessionKeys: sessionBytes,
        millionSessionsGiB: +((sessionBytes * 1e6) / 2 ** 30).toFixed(2),
        millionSignInsAllKeysGiB: +((big.usedMemoryGrowthPerSignIn * 1e6) / 2 ** 30).toFixed(2),
      },
      comparison,
      results,
    };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(values.out!, `${JSON.stringify(report, null, 2)}\n`);
    for (const c of comparison)
      log(
        `${c.scenario.padEnd(14)} ${String(c.connections).padStart(3)} conn  ${small}: ${c.small.perSecond.toFixed(0)}/s p50 ${c.small.p50.toFixed(1)} p99 ${c.small.p99.toFixed(1)}  ${total}: ${c.big.perSecond.toFixed(0)}/s p50 ${c.big.p50.toFixed(1)} p99 ${c.big.p99.toFixed(1)}  p50 ${(c.p50Change * 100).toFixed(0)}%`,
      );
    log(`written to ${values.out}`);
  } finally {
    await Promise.all(servers.map((s) => stopTarget(s)));
    await knex.small.destroy();
    await knex.big.destroy();
    for (const r of Object.values(redis)) {
      await r.flushdb().catch(() => undefined);
      r.disconnect();
    }
    if (!values.keep)
      for (const name of Object.values(names))
        await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    else log(`kept databases ${Object.values(names).join(', ')}`);
    await admin.destroy();
  }
};

main().catch((error) => {
  process.stderr.write(
    `scale bench failed: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
