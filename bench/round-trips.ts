// Counts what one request of each kind costs in Redis: commands (top level and run inside Lua
// scripts, from MONITOR) and round trips (the server's read events), against a private
// redis-server, with One-ID started as the bench starts it (on a fresh PostgreSQL database).
// The numbers in docs/performance.md come from here. (PostgreSQL's own statistics are flushed
// too lazily to count per request; test code counts SQL with knex's query event instead.)
//   npx tsx bench/round-trips.ts [--verbose]        (needs redis-server on PATH and PostgreSQL)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { Redis } from 'ioredis';
import { seedKeyPair, seededAccount } from '../src/cli/seed-accounts.ts';
import { basic, signInFlow, targetOf } from './flows.ts';
import { createHttp } from './http.ts';
import { freePort, startTarget, stopTarget } from './targets.ts';

const ADMIN_URL =
  process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const verbose = process.argv.includes('--verbose');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const startRedis = async () => {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i += 1) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      probe.disconnect();
      return { url, stop: () => child.kill('SIGTERM') };
    } catch {
      probe.disconnect();
      await sleep(100);
    }
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start');
};

const main = async () => {
  const redis = await startRedis();
  const admin = knexFactory({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
  const database = `oneid_trips_${process.pid}`;
  await admin.raw(`CREATE DATABASE ${database}`);
  const databaseUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${database}` }).toString();
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
  const server = await startTarget('postgres', 'server.ts', {
    ...secrets,
    ...limits,
    BENCH_SEED_ACCOUNTS: '5',
    BENCH_SEED: 'trips',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
  });
  const monitor = new Redis(redis.url);
  const stats = new Redis(redis.url);
  const http = createHttp(server.port, 4);
  try {
    const target = targetOf(server, 'one-id');
    const signer = (n: number) => {
      const account = seededAccount(server.seed!, n);
      return {
        credentialId: account.credentialId,
        privateKey: seedKeyPair(server.seed!, account.keyIndex).privateKey,
      };
    };
    // Each citizen's first sign-in (consent, first use of the client) is not the steady state.
    const tokens = await signInFlow(http, target, signer(0));
    await signInFlow(http, target, signer(1));
    const watch = await monitor.monitor();
    let seen: string[] = [];
    watch.on('monitor', (_time: string, args: string[], source: string) =>
      seen.push(
        `${source === 'lua' ? '  (lua) ' : ''}${args.map((a) => (a.length > 60 ? `${a.slice(0, 25)}…` : a)).join(' ')}`,
      ),
    );
    const reads = async () =>
      Number(/total_reads_processed:(\d+)/.exec(await stats.info('stats'))![1]);
    const form = {
      authorization: basic(target),
      'content-type': 'application/x-www-form-urlencoded',
    };
    const rows: string[] = [];
    const measure = async (name: string, send: () => Promise<unknown>) => {
      await sleep(400);
      const r0 = await reads();
      seen = [];
      await send();
      await sleep(400);
      const r1 = await reads();
      const commands = seen.filter((c) => !c.startsWith('info'));
      const inside = commands.filter((c) => c.startsWith('  (lua)')).length;
      // The second INFO is itself one read event.
      rows.push(`| ${name} | ${commands.length - inside} + ${inside} | ${r1 - r0 - 1} |`);
      if (verbose) console.log(`\n=== ${name}\n${commands.map((c) => `    ${c}`).join('\n')}`);
    };
    let refresh = tokens.refresh_token!;
    await measure('client credentials', () =>
      http.send(`${server.issuer}/token`, {
        method: 'POST',
        headers: form,
        body: 'grant_type=client_credentials',
      }),
    );
    await measure('refresh (rotation)', async () => {
      const reply = await http.send(`${server.issuer}/token`, {
        method: 'POST',
        headers: form,
        body: `grant_type=refresh_token&refresh_token=${refresh}`,
      });
      refresh = (JSON.parse(reply.body) as { refresh_token: string }).refresh_token;
    });
    await measure('userinfo', () =>
      http.send(`${server.issuer}/me`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      }),
    );
    await measure('introspection', () =>
      http.send(`${server.issuer}/token/introspection`, {
        method: 'POST',
        headers: form,
        body: `token=${tokens.access_token}`,
      }),
    );
    await measure('whole passkey sign-in (6 requests, code exchange included)', () =>
      signInFlow(http, target, signer(1)),
    );
    console.log(
      '| request | Redis commands (top level + inside scripts) | Redis round trips |\n| --- | ---: | ---: |',
    );
    console.log(rows.join('\n'));
    watch.disconnect();
  } finally {
    http.close();
    monitor.disconnect();
    stats.disconnect();
    await stopTarget(server);
    await admin.raw(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.destroy();
    redis.stop();
  }
};

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
