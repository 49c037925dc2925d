// `npm run bench [-- --seconds 5] [--connections 1,10,50] [--targets baseline,postgres,embedded]
//   [--scenarios discovery,jwks,...] [--tool autocannon,wrk] [--repeat 1] [--profile]
//   [--out bench/results/latest.json]`
//
// Starts the bare engine (bench/baseline.ts), One-ID on PostgreSQL + Redis (a fresh database,
// dropped at the end, and Redis DB 13, flushed before and after) and One-ID on the embedded
// default (a temporary DATA_DIR), each in its own process; then, for every scenario and
// connection count, measures each target back to back (so a burst of load elsewhere on the
// machine skews all three alike). All traffic goes to 127.0.0.1. Prints a table and writes
// the same as JSON. --profile runs the children under `node --cpu-prof` (slower).
// Single-request scenarios run once per load generator (--tool: autocannon, in this process, by
// default; wrk in its own process; `--tool autocannon,wrk` for both), each tool's targets back to
// back.
// --repeat N measures each group of targets N times in turn and reports the medians (a shared
// machine's bursts of load then skew one round, not the result).
import { cpus, freemem, loadavg, totalmem, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { seedKeyPair, seededAccount } from '../src/cli/seed-accounts.ts';
import { createHttp } from './http.ts';
import { runFlows, signInFlow, targetOf, type Signer, type Target, type Tokens } from './flows.ts';
import {
  measure,
  SCENARIOS,
  type Measurement,
  type Pools,
  type ScenarioName,
} from './scenarios.ts';
import { freshBackends, startTarget, stopTarget, type Started } from './targets.ts';
import { measureWithWrk, wrkAvailable } from './wrk.ts';
import { mainProfile, summariseProfile } from './profile.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '5' },
    connections: { type: 'string', default: '1,10,50' },
    targets: { type: 'string', default: 'baseline,postgres,embedded' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    accounts: { type: 'string', default: '1000' },
    tool: { type: 'string', default: 'autocannon' },
    repeat: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/latest.json' },
  },
});

const seconds = Number(values.seconds);
const connectionCounts = values.connections!.split(',').map(Number);
const targetNames = values.targets!.split(',');
const scenarioNames = values.scenarios!.split(',') as ScenarioName[];
const seededAccounts = Number(values.accounts);
const repeat = Math.max(1, Number(values.repeat));
const tools = values.tool!.split(',');
for (const tool of tools)
  if (tool !== 'autocannon' && tool !== 'wrk') throw new Error(`unknown --tool ${tool}`);
if (tools.includes('wrk') && !wrkAvailable())
  throw new Error('wrk is not installed (apt-get install wrk, or BENCH_WRK=/path/to/wrk)');
const adminUrl =
  process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/13';
const resultsDir = new URL('./results/', import.meta.url).pathname;
const profileDir = values.profile ? resultsDir : undefined;

const secrets = {
  COOKIE_KEYS: randomBytes(32).toString('base64url'),
  KEY_ENCRYPTION_KEYS: randomBytes(32).toString('base64url'),
  PAIRWISE_SALT: randomBytes(32).toString('base64url'),
  AUDIT_KEYS: randomBytes(32).toString('base64url'),
};
// Limits stay on (their Redis counters are part of the cost) but far above the bench's rate.
const limits = {
  RATE_LIMIT_SIGNIN_PER_MINUTE: '1000000',
  RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
  RATE_LIMIT_ACCOUNT_PER_MINUTE: '1000000',
};

const log = (line: string) => process.stderr.write(`${line}\n`);

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
const cpuSeconds = (pid: number | undefined): number | undefined => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
};

const main = async () => {
  const startedAt = new Date();
  const loadBefore = loadavg();
  const dbName = `oneid_bench_${Date.now()}`;
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  const dropBackends: (() => Promise<void>)[] = [];
  const dataDirs: string[] = [];
  const started: Started[] = [];
  const results: Measurement[] = [];
  try {
    if (profileDir)
      for (const f of readdirSync(profileDir))
        if (f.endsWith('.cpuprofile')) rmSync(join(profileDir, f));
    const seedEnv = {
      BENCH_SEED_ACCOUNTS: String(seededAccounts),
      BENCH_SEED: `bench${Date.now()}`,
    };
    // A target may name another checkout to compare with (`postgres@/path/to/checkout`): its own
    // bench/server.ts and src/, on a database and Redis DB of its own.
    for (const [i, spec] of targetNames.entries()) {
      const [kind, root] = spec.split('@') as [string, string | undefined];
      const label = root ? `${kind}@${root.split('/').filter(Boolean).pop()}` : kind;
      if (kind === 'baseline')
        started.push(await startTarget('baseline', 'baseline.ts', {}, { profileDir }));
      if (kind === 'postgres') {
        const backends = await freshBackends(
          admin,
          adminUrl,
          redisUrl,
          `${dbName}_${i}`,
          Number(new URL(redisUrl).pathname.slice(1) || 13) - i,
        );
        dropBackends.push(backends.drop);
        started.push(
          await startTarget(
            label,
            'server.ts',
            { ...secrets, ...limits, ...seedEnv, ...backends.env },
            { profileDir, root },
          ),
        );
      }
      if (kind === 'embedded') {
        const dir = mkdtempSync(join(tmpdir(), 'oneid-bench-'));
        dataDirs.push(dir);
        started.push(
          await startTarget(
            label,
            'server.ts',
            { ...secrets, ...limits, ...seedEnv, DATA_DIR: dir, DATABASE_URL: '', REDIS_URL: '' },
            { profileDir, root },
          ),
        );
      }
      log(`started ${label}`);
    }

    const contexts = new Map<
      string,
      {
        target: Target;
        pools: Pools;
        signer: (n: number) => Signer | undefined;
        http: ReturnType<typeof createHttp>;
      }
    >();
    for (const s of started) {
      const target = targetOf(s, s.name === 'baseline' ? 'baseline' : 'one-id');
      const signer = (n: number): Signer | undefined => {
        if (target.kind === 'baseline') return undefined;
        const a = seededAccount(s.seed!, n % seededAccounts);
        return {
          credentialId: a.credentialId,
          privateKey: seedKeyPair(s.seed!, a.keyIndex).privateKey,
        };
      };
      const flowHttp = createHttp(s.port, Math.max(...connectionCounts));
      contexts.set(s.name, { target, signer, http: flowHttp, pools: { refresh: [], access: [] } });
    }
    // Pre-minted before each timed window: refresh tokens are single-use (each use returns the
    // next one, which goes back in the pool) and access tokens serve userinfo and introspection.
    // (Fresh ones each time: the bare engine's memory adapter is an LRU of 1,000 entries.)
    const mint = async (c: {
      target: Target;
      signer: (n: number) => Signer | undefined;
      http: ReturnType<typeof createHttp>;
      pools: Pools;
    }) => {
      const minted: Tokens[] = [];
      for (let i = 0; i < Math.max(...connectionCounts) + 20; i += 1)
        minted.push(await signInFlow(c.http, c.target, c.signer(i)));
      c.pools.refresh = minted.map((t) => t.refresh_token!).filter(Boolean);
      c.pools.access = minted.map((t) => t.access_token);
    };

    for (const scenario of scenarioNames) {
      for (const connections of connectionCounts) {
        for (const tool of scenario === 'signin' ? ['flows'] : tools) {
          for (let round = 0; round < repeat; round += 1)
            for (const s of started) {
              const c = contexts.get(s.name)!;
              let m: Measurement;
              if (['token_refresh', 'userinfo', 'introspection'].includes(scenario)) await mint(c);
              const server = {
                port: s.port,
                issuer: s.issuer,
                clientId: s.clientId,
                clientSecret: s.clientSecret,
              };
              const cpuBefore = cpuSeconds(s.child.pid);
              if (scenario === 'signin') {
                const r = await runFlows(c.http, c.target, connections, seconds, c.signer);
                m = {
                  scenario,
                  target: s.name,
                  tool: 'flows',
                  connections,
                  perSecond: r.perSecond,
                  p50: r.p50,
                  p99: r.p99,
                  total: r.flows,
                  errors: r.errors,
                  ...(r.firstError && { firstError: r.firstError }),
                };
              } else {
                const run = tool === 'wrk' ? measureWithWrk : measure;
                m = {
                  ...(await run(scenario, server, c.pools, connections, seconds)),
                  target: s.name,
                };
              }
              const cpuAfter = cpuSeconds(s.child.pid);
              // The server's own CPU per request (or flow): what one instance's core buys (docs/performance.md).
              if (cpuBefore !== undefined && cpuAfter !== undefined && m.total > 0)
                m.serverCpuMsPerOp = +(((cpuAfter - cpuBefore) * 1000) / m.total).toFixed(3);
              results.push(m);
              log(
                `${scenario.padEnd(14)} ${String(connections).padStart(3)} conn  ${(m.tool ?? '').padEnd(10)} ${s.name.padEnd(9)} ${m.perSecond.toFixed(0).padStart(6)}/s  p50 ${m.p50.toFixed(1)} ms  p99 ${m.p99.toFixed(1)} ms  cpu ${m.serverCpuMsPerOp?.toFixed(3) ?? '-'} ms/op${m.errors ? `  errors ${m.errors} ${m.firstError ?? ''}` : ''}`,
              );
            }
        }
      }
    }
    for (const c of contexts.values()) c.http.close();
  } finally {
    await Promise.all(started.map((s) => stopTarget(s)));
    for (const drop of dropBackends) await drop();
    await admin.destroy();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  }

  const medians = medianOfRounds(results);
  const baselineOf = (m: Measurement) =>
    medians.find(
      (b) =>
        b.target === 'baseline' &&
        b.scenario === m.scenario &&
        b.connections === m.connections &&
        b.tool === m.tool,
    );
  const rows = medians.map((m) => {
    const b = m.target === 'baseline' ? undefined : baselineOf(m);
    return { ...m, ratio: b && b.perSecond > 0 ? m.perSecond / b.perSecond : undefined };
  });
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
      freeGiB: +(freemem() / 2 ** 30).toFixed(1),
      node: process.version,
      loadBefore,
      loadAfter: loadavg(),
    },
    settings: {
      seconds,
      connections: connectionCounts,
      seededAccounts,
      tools,
      repeat,
      loadGenerator:
        'single requests: autocannon (in the bench process) and/or wrk 1 thread (its own process); sign-in flows: bench/flows.ts (in the bench process)',
    },
    baselineSignIn:
      'bare oidc-provider code flow with auto-login: GET /auth -> GET /interaction/:uid (login + grant saved at once, no page) -> GET /auth/:uid -> code -> POST /token (ES256 ID token); no WebAuthn, no HTML page, no CSRF, no consent record, no audit',
    results: rows,
    ...(repeat > 1 && { rounds: results }),
    ...(profileDir && {
      profiles: Object.fromEntries(
        started.map((s) => [
          s.name,
          summariseProfile(mainProfile(profileDir, s.child.pid ?? 0) ?? '', 25),
        ]),
      ),
    }),
  };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(values.out!, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(
    `${formatTable(rows)}\n\nload average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${report.machine.loadAfter.map((l) => l.toFixed(2)).join(' ')} (${report.machine.cpus} CPUs)\nwritten to ${values.out}\n`,
  );
  if (report.profiles)
    for (const [name, top] of Object.entries(report.profiles))
      process.stdout.write(
        `\nTop self time, ${name}:\n${top.map((t) => `  ${t.percent.toFixed(1).padStart(5)}%  ${t.function}  ${t.location}`).join('\n')}\n`,
      );
};

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** One row per scenario, connections, tool and target: the median of its rounds (itself when one). */
const medianOfRounds = (all: Measurement[]): Measurement[] => {
  const groups = new Map<string, Measurement[]>();
  for (const m of all) {
    const key = `${m.scenario}\u0000${m.connections}\u0000${m.tool}\u0000${m.target}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  return [...groups.values()].map((rounds) => {
    if (rounds.length === 1) return rounds[0]!;
    const of = (pick: (m: Measurement) => number | undefined) => {
      const values = rounds.map(pick).filter((v): v is number => v !== undefined);
      return values.length ? +median(values).toFixed(3) : undefined;
    };
    const serverCpuMsPerOp = of((m) => m.serverCpuMsPerOp);
    const generatorCpuMsPerOp = of((m) => m.generatorCpuMsPerOp);
    return {
      ...rounds[0]!,
      perSecond: of((m) => m.perSecond)!,
      p50: of((m) => m.p50)!,
      p99: of((m) => m.p99)!,
      total: rounds.reduce((sum, m) => sum + m.total, 0),
      errors: rounds.reduce((sum, m) => sum + m.errors, 0),
      rounds: rounds.length,
      ...(serverCpuMsPerOp !== undefined && { serverCpuMsPerOp }),
      ...(generatorCpuMsPerOp !== undefined && { generatorCpuMsPerOp }),
    };
  });
};

const formatTable = (rows: (Measurement & { ratio?: number | undefined })[]) => {
  const header = [
    'scenario',
    'conn',
    'tool',
    'target',
    'req|flow/s',
    'p50 ms',
    'p99 ms',
    'x baseline',
    'server CPU ms/op',
    'generator CPU ms/op',
    'errors',
  ];
  const body = rows.map((r) => [
    r.scenario,
    String(r.connections),
    r.tool ?? '',
    r.target,
    r.perSecond.toFixed(0),
    r.p50.toFixed(1),
    r.p99.toFixed(1),
    r.ratio === undefined ? '' : r.ratio.toFixed(2),
    r.serverCpuMsPerOp === undefined ? '' : r.serverCpuMsPerOp.toFixed(3),
    r.generatorCpuMsPerOp === undefined ? '' : r.generatorCpuMsPerOp.toFixed(3),
    String(r.errors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [header, ...body]
    .map((r) =>
      r.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
};

main().catch((error) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
