// The admin lists at national scale: how long a page of clients and a page of audit search take
// with thousands of clients and millions of audit records, on PostgreSQL, through the same
// repository functions the admin API, console and CLI call. A database of its own, dropped after.
//   npx tsx bench/admin-lists.ts [--clients 5000] [--audit 1000000] [--runs 30]
//     [--database postgres://postgres@127.0.0.1:5432/test] [--out bench/results/admin-lists.json]
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import { searchAudit, type AuditFilter } from '../src/admin/audit-search-repo.ts';
import { listClients } from '../src/clients/client-repo.ts';
import { migrateLatest, openDatabase } from '../src/store/index.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '5000' },
    audit: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '30' },
    database: {
      type: 'string',
      default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    },
    out: { type: 'string', default: 'bench/results/admin-lists.json' },
  },
});
const CLIENTS = Number(values.clients);
const AUDIT = Number(values.audit);
const RUNS = Number(values.runs);
const AGENCIES = 93;
const ACTIONS = [
  'auth.passkey.verified',
  'consent.granted',
  'clients.updated',
  'clients.created',
  'sessions.ended',
  'consent.withdrawn',
  'auth.certificate.verified',
  'admin.role.granted',
  'clients.secret.rotated',
  'accounts.imported',
];

/** Loads the rows with set-based SQL: the point is reading them, not writing them. */
const seed = async (knex: Knex) => {
  await knex.raw(
    `insert into agencies (name) select 'agency-' || lpad(g::text, 3, '0') from generate_series(1, ?) g on conflict do nothing`,
    [AGENCIES],
  );
  await knex.raw(
    `insert into clients (client_id, agency, metadata, status)
     select 'client-' || lpad(g::text, 6, '0'), 'agency-' || lpad((g % ?)::text, 3, '0'),
            jsonb_build_object('client_name', 'System ' || g, 'redirect_uris', jsonb_build_array('https://s' || g || '.example.go.kr/cb')),
            'active'
     from generate_series(1, ?) g`,
    [AGENCIES, CLIENTS],
  );
  // Spread over a year; about one record in 20 is about a client (with its agency), the rest about citizens.
  await knex.raw(
    `insert into audit_events (occurred_at, action, actor, subject, ip, details, prev_hash, hash, chain)
     select now() - ((? - g) * interval '30 seconds'),
            (array[${ACTIONS.map(() => '?').join(',')}])[1 + (g / 7) % ${ACTIONS.length}],
            case when g % 20 = 0 then 'admin:' || (g % 50) else 'account:' || (g % 200000) end,
            case when g % 20 = 0 then 'client:client-' || lpad((g % ?)::text, 6, '0') else 'account:' || (g % 200000) end,
            '10.0.0.1',
            case when g % 20 = 0 then jsonb_build_object('agency', 'agency-' || lpad((g % ?)::text, 3, '0')) else '{}'::jsonb end,
            'x', md5(g::text), g % 16
     from generate_series(1, ?) g`,
    [AUDIT, ...ACTIONS, CLIENTS, AGENCIES, AUDIT],
  );
  await knex.raw('analyze clients');
  await knex.raw('analyze audit_events');
};

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const time = async (run: () => Promise<unknown[]>) => {
  const ms: number[] = [];
  let rows = 0;
  for (let i = 0; i < RUNS; i += 1) {
    const started = performance.now();
    rows = (await run()).length;
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return {
    rows,
    p50: Number(percentile(ms, 50).toFixed(2)),
    p95: Number(percentile(ms, 95).toFixed(2)),
    max: Number(ms.at(-1)!.toFixed(2)),
  };
};

const main = async () => {
  const name = `oneid_bench_admin_${randomBytes(3).toString('hex')}`;
  const server = knexFactory({
    client: 'pg',
    connection: values.database,
    pool: { min: 0, max: 1 },
  });
  await server.raw(`create database ${name}`);
  const url = new URL(values.database!);
  url.pathname = `/${name}`;
  const db = await openDatabase({ databaseUrl: url.toString(), dataDir: '/tmp' });
  try {
    await migrateLatest(db.knex);
    const seeding = performance.now();
    await seed(db.knex);
    const seedSeconds = (performance.now() - seeding) / 1000;
    const knex = db.knex;
    const deepClient = `client-${String(Math.floor(CLIENTS * 0.8)).padStart(6, '0')}`;
    const middle = (await knex('audit_events')
      .orderBy('id')
      .offset(Math.floor(AUDIT / 2))
      .first('id', 'occurred_at')) as { id: string; occurred_at: Date };
    const day = new Date(middle.occurred_at);
    const search = (f: AuditFilter & { before?: string }) => () =>
      searchAudit(knex, { limit: 100, ...f });
    const cases: [string, () => Promise<unknown[]>][] = [
      ['clients: first page (100)', () => listClients(knex, { limit: 100 })],
      [
        'clients: a page 80% in (keyset)',
        () => listClients(knex, { limit: 100, after: deepClient }),
      ],
      [
        'clients: one agency (agency administrator)',
        () => listClients(knex, { limit: 100, agencies: ['agency-042'] }),
      ],
      ['audit: newest 100', search({})],
      ['audit: 100 from the middle (keyset)', search({ before: middle.id })],
      ['audit: by action', search({ action: 'clients.updated' })],
      ['audit: by action prefix clients.*', search({ action: 'clients.*' })],
      ['audit: by actor', search({ actor: 'admin:10' })],
      ['audit: by subject (one client)', search({ subject: 'client:client-000420' })],
      ['audit: one agency (agency auditor)', search({ agencies: ['agency-042'] })],
      [
        'audit: one day, a year back',
        search({
          from: new Date(day.getTime() - 12 * 3600_000),
          to: new Date(day.getTime() + 12 * 3600_000),
        }),
      ],
      [
        'audit: one agency, one action',
        search({ agencies: ['agency-042'], action: 'clients.updated' }),
      ],
    ];
    const results = [];
    for (const [label, run] of cases) {
      const r = await time(run);
      results.push({ case: label, ...r });
      console.log(
        `${label.padEnd(46)} rows ${String(r.rows).padStart(4)}  p50 ${String(r.p50).padStart(7)} ms  p95 ${String(r.p95).padStart(7)} ms`,
      );
    }
    const out = {
      at: new Date().toISOString(),
      command: `npx tsx bench/admin-lists.ts ${process.argv.slice(2).join(' ')}`.trim(),
      clients: CLIENTS,
      auditRecords: AUDIT,
      agencies: AGENCIES,
      runs: RUNS,
      seedSeconds: Number(seedSeconds.toFixed(1)),
      results,
    };
    writeFileSync(values.out!, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`seeded in ${seedSeconds.toFixed(1)} s; written to ${values.out}`);
  } finally {
    await db.close();
    await server.raw(`drop database if exists ${name} with (force)`);
    await server.destroy();
  }
};

await main();
