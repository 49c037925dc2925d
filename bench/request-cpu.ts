// `npm run bench:cpu [-- --targets baseline,postgres] [--flows 300] [--requests 2000] [--top 8]
//   [--out bench/results/request-cpu.json]`
//
// Where each request's CPU goes, path by path. Each target runs under `node --cpu-prof` and
// records when every request started and ended (bench/request-spans.ts); this process then
// sends the requests one at a time (one connection, so they never overlap): `--flows` whole
// passkey sign-ins, then `--requests` each of userinfo, introspection, refresh, client
// credentials, discovery and JWKS. Every profile sample taken while a request was being answered
// is charged to that request's kind. Prints, per kind, the busy CPU per request for One-ID and
// the bare engine and One-ID's largest modules; writes the same as JSON. Timings come from the
// profiler (which adds its own cost) at one connection: use them to compare paths and modules,
// and `npm run bench` for rates.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { seedKeyPair, seededAccount } from '../src/cli/seed-accounts.ts';
import { basic, signInFlow, targetOf, type Target } from './flows.ts';
import { createHttp } from './http.ts';
import { cpuByRequest, mainProfile, type RequestCpu } from './profile.ts';
import { freshBackends, startTarget, stopTarget } from './targets.ts';

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: 'baseline,postgres' },
    flows: { type: 'string', default: '300' },
    requests: { type: 'string', default: '2000' },
    top: { type: 'string', default: '8' },
    out: { type: 'string', default: 'bench/results/request-cpu.json' },
  },
});
const flows = Number(values.flows);
const requests = Number(values.requests);
const accounts = 200;
const adminUrl =
  process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/13';
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const log = (line: string) => process.stderr.write(`${line}\n`);

const oneIdEnv = {
  COOKIE_KEYS: randomBytes(32).toString('base64url'),
  KEY_ENCRYPTION_KEYS: randomBytes(32).toString('base64url'),
  PAIRWISE_SALT: randomBytes(32).toString('base64url'),
  AUDIT_KEYS: randomBytes(32).toString('base64url'),
  RATE_LIMIT_SIGNIN_PER_MINUTE: '1000000',
  RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
  RATE_LIMIT_ACCOUNT_PER_MINUTE: '1000000',
  BENCH_SEED_ACCOUNTS: String(accounts),
};

/** The requests, one at a time, after a warm-up; returns when the measured part began (µs). */
const drive = async (target: Target, port: number, seed: string | undefined) => {
  const http = createHttp(port, 1);
  const signer = (n: number) => {
    if (!seed) return undefined;
    const a = seededAccount(seed, n % accounts);
    return { credentialId: a.credentialId, privateKey: seedKeyPair(seed, a.keyIndex).privateKey };
  };
  const send = (kind: string, path: string, init: Parameters<typeof http.send>[1] = {}) =>
    http.send(`${target.issuer}${path}`, {
      ...init,
      headers: { ...init.headers, 'x-bench-kind': kind },
    });
  const client = {
    authorization: basic(target),
    'content-type': 'application/x-www-form-urlencoded',
  };
  for (let i = 0; i < 50; i += 1) await signInFlow(http, target, signer(i));
  const began = nowUs();
  for (let i = 0; i < flows; i += 1) await signInFlow(http, target, signer(i));
  const tokens = await signInFlow(http, target, signer(0));
  for (let i = 0; i < requests; i += 1)
    await send('GET /me', '/me', { headers: { authorization: `Bearer ${tokens.access_token}` } });
  for (let i = 0; i < requests; i += 1)
    await send('POST /token/introspection', '/token/introspection', {
      method: 'POST',
      headers: client,
      body: `token=${tokens.access_token}`,
    });
  let refresh = tokens.refresh_token;
  for (let i = 0; i < requests && refresh; i += 1) {
    const reply = await send('POST /token (refresh_token)', '/token', {
      method: 'POST',
      headers: client,
      body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(refresh)}`,
    });
    refresh =
      reply.status === 200
        ? (JSON.parse(reply.body) as { refresh_token?: string }).refresh_token
        : undefined;
  }
  for (let i = 0; i < requests; i += 1)
    await send('POST /token (client_credentials)', '/token', {
      method: 'POST',
      headers: client,
      body: 'grant_type=client_credentials',
    });
  for (let i = 0; i < requests; i += 1) await send('GET /jwks', '/jwks');
  for (let i = 0; i < requests; i += 1)
    await send('GET discovery', '/.well-known/openid-configuration');
  http.close();
  return began;
};

const main = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oneid-request-cpu-'));
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  const byTarget: Record<string, RequestCpu[]> = {};
  try {
    for (const [i, spec] of values.targets!.split(',').entries()) {
      // `postgres@<dir>`: One-ID from another checkout (a before/after comparison), as in run.ts.
      const [name, root] = spec.split('@') as [string, string | undefined];
      const label = root ? `${name}@${root.split('/').filter(Boolean).pop()}` : name;
      const spans = join(dir, `spans-${label}.json`);
      const backends =
        name === 'postgres'
          ? await freshBackends(admin, adminUrl, redisUrl, `oneid_cpu_${Date.now()}`, 13 - i)
          : undefined;
      const env =
        name === 'baseline'
          ? { BENCH_SPANS: spans }
          : name === 'postgres'
            ? { ...oneIdEnv, ...backends!.env, BENCH_SPANS: spans, BENCH_SEED: `cpu${Date.now()}` }
            : {
                ...oneIdEnv,
                DATA_DIR: mkdtempSync(join(dir, 'data-')),
                DATABASE_URL: '',
                REDIS_URL: '',
                BENCH_SPANS: spans,
                BENCH_SEED: `cpu${Date.now()}`,
              };
      const started = await startTarget(
        name,
        name === 'baseline' ? 'baseline.ts' : 'server.ts',
        env,
        { profileDir: dir, profileIntervalUs: 200, root },
      );
      try {
        const target = targetOf(started, name === 'baseline' ? 'baseline' : 'one-id');
        const began = await drive(target, started.port, started.seed);
        await stopTarget(started);
        const measured = (
          JSON.parse(readFileSync(spans, 'utf8')) as [string, number, number][]
        ).filter((s) => s[1] >= began);
        byTarget[label] = cpuByRequest(
          mainProfile(dir, started.child.pid ?? 0)!,
          measured,
          Number(values.top),
        );
        log(`measured ${label}`);
      } finally {
        await stopTarget(started);
        await backends?.drop();
      }
    }
  } finally {
    await admin.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  const kinds = [...new Set(Object.values(byTarget).flatMap((rows) => rows.map((r) => r.kind)))];
  const names = Object.keys(byTarget);
  const lines = kinds.map((kind) => {
    const cells = names.map((n) => byTarget[n]!.find((r) => r.kind === kind));
    const oneId = cells[names.findIndex((n) => n !== 'baseline')];
    return [
      kind.padEnd(46),
      ...cells.map((c) => (c ? `${c.msPerRequest.toFixed(3)} ms` : '-').padStart(10)),
      '  ',
      (oneId?.modules ?? []).map((m) => `${m.module} ${m.usPerRequest}`).join(', '),
    ].join(' ');
  });
  process.stdout.write(
    `${['request (one at a time)'.padEnd(46), ...names.map((n) => n.padStart(10)), '   largest modules (µs/request)'].join(' ')}\n${lines.join('\n')}\n`,
  );
  writeFileSync(
    values.out!,
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, flows, requests, byTarget }, null, 2)}\n`,
  );
  log(`written to ${values.out}`);
};

main().catch((error) => {
  process.stderr.write(
    `bench:cpu failed: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
