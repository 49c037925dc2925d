// The back-channel logout queue on the real database (PGlite by default, PostgreSQL with
// DATABASE_URL): deduplication, FOR UPDATE SKIP LOCKED claims, and the worker's bookkeeping
// (delivered, retried with backoff, given up), driven by an injected clock.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  claimDue,
  findDeliveries,
  insertDeliveries,
  markDelivered,
  type NewDelivery,
} from '../../src/sessions/delivery-repo.ts';
import {
  createDeliveryWorker,
  UndeliverableError,
  type DeliveryOutcome,
} from '../../src/sessions/index.ts';
import { withAuditKeys } from '../../src/audit/index.ts';
import { createLogger, newId } from '../../src/shared/index.ts';
import { migrateLatest, openDatabase, type Database } from '../../src/store/index.ts';
import { onPostgres, ownDatabaseUrl } from '../support/app.ts';

let db: Database;
let dataDir: string | undefined;
const clientId = `queue-${randomBytes(4).toString('hex')}`;
const issuer = `urn:test:${clientId}`;

beforeAll(async () => {
  const databaseUrl = await ownDatabaseUrl();
  if (!databaseUrl) {
    dataDir = mkdtempSync(join(tmpdir(), 'oneid-queue-'));
    cpSync(join(inject('pgliteTemplate')!, 'pglite'), join(dataDir, 'pglite'), { recursive: true });
  }
  db = await openDatabase({ databaseUrl, dataDir: dataDir ?? tmpdir() });
  await migrateLatest(db.knex);
  await db.knex('clients').insert({
    client_id: clientId,
    agency: 'Test',
    metadata: JSON.stringify({
      client_name: 'Queue',
      backchannel_logout_uri: 'http://localhost:1/bc',
    }),
  });
});
afterAll(async () => {
  await db?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const row = (sid: string, overrides: Partial<NewDelivery> = {}): NewDelivery => ({
  id: newId(),
  issuer,
  clientId,
  accountId: newId(),
  sid,
  sessionUid: null,
  reason: 'logout',
  ...overrides,
});
const clockAt = (start: number) => {
  let now = start;
  return { now: () => new Date(now), advance: (ms: number) => void (now += ms) };
};

describe('back-channel logout queue', () => {
  it('keeps one pending token per client and sid; a later one may follow a delivered one', async () => {
    const now = new Date();
    expect(await insertDeliveries(db.knex, [row('sid-dup')], now)).toBe(1);
    expect(await insertDeliveries(db.knex, [row('sid-dup')], now)).toBe(0);
    const [pending] = await findDeliveries(db.knex, { issuer, sid: 'sid-dup' });
    await markDelivered(db.knex, pending!.id, now);
    expect(await insertDeliveries(db.knex, [row('sid-dup')], now)).toBe(1);
    expect(
      (await findDeliveries(db.knex, { issuer, sid: 'sid-dup' })).map((d) => d.status),
    ).toEqual(['delivered', 'pending']);
  });

  it('never hands the same row to two concurrent claimers (FOR UPDATE SKIP LOCKED)', async () => {
    const claimIssuer = `${issuer}:claims`;
    const at = new Date(Date.now() - 1000);
    await insertDeliveries(
      db.knex,
      Array.from({ length: 20 }, (_, i) => row(`sid-claim-${i}`, { issuer: claimIssuer })),
      at,
    );
    const now = new Date();
    const [first, second] = await Promise.all([
      claimDue(db.knex, claimIssuer, now, 12, 60_000),
      claimDue(db.knex, claimIssuer, now, 12, 60_000),
    ]);
    const ids = [...first!, ...second!].map((d) => d.id);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
    // Claimed rows count the attempt and are leased: not due again until the lease ends.
    expect(first!.every((d) => d.attempts === 1)).toBe(true);
    expect(await claimDue(db.knex, claimIssuer, now, 50, 60_000)).toEqual([]);
    expect(
      await claimDue(db.knex, claimIssuer, new Date(now.getTime() + 61_000), 50, 60_000),
    ).toHaveLength(20);
  });

  it.runIf(onPostgres())(
    'skips rows another instance holds instead of waiting (PostgreSQL)',
    async () => {
      const lockIssuer = `${issuer}:locks`;
      await insertDeliveries(
        db.knex,
        [row('sid-lock-1', { issuer: lockIssuer }), row('sid-lock-2', { issuer: lockIssuer })],
        new Date(Date.now() - 1000),
      );
      const trx = await db.knex.transaction();
      try {
        const held = await trx('backchannel_deliveries')
          .where({ issuer: lockIssuer, sid: 'sid-lock-1' })
          .forUpdate();
        expect(held).toHaveLength(1);
        const claimed = await claimDue(db.knex, lockIssuer, new Date(), 10, 60_000);
        expect(claimed.map((d) => d.sid)).toEqual(['sid-lock-2']);
      } finally {
        await trx.rollback();
      }
    },
  );

  it('marks delivered, retries with backoff, and gives up after the last attempt or at once when undeliverable', async () => {
    const workerIssuer = `${issuer}:worker`;
    const clock = clockAt(Date.now());
    const outcomes: DeliveryOutcome[] = [];
    const failuresLeft = new Map([
      ['sid-retry', 2],
      ['sid-never', 99],
    ]);
    const worker = createDeliveryWorker({
      knex: withAuditKeys(db.knex, [randomBytes(32)]),
      clock,
      issuer: workerIssuer,
      settings: { pollMs: 1000, timeoutMs: 200, retryBaseMs: 5000, maxAttempts: 3 },
      log: createLogger('silent'),
      onDelivery: (o) => outcomes.push(o),
      random: () => 0.5, // no jitter: retries after exactly 5 s, then 30 s
      send: async (d) => {
        if (d.sid === 'sid-gone')
          throw new UndeliverableError('client has no backchannel_logout_uri');
        if (d.sid === 'sid-slow') return new Promise((resolve) => setTimeout(resolve, 1000));
        const left = failuresLeft.get(d.sid) ?? 0;
        if (left > 0) {
          failuresLeft.set(d.sid, left - 1);
          throw new Error('expected 200 OK, got: 500 Internal Server Error');
        }
      },
    });
    await insertDeliveries(
      db.knex,
      ['sid-ok', 'sid-retry', 'sid-never', 'sid-gone', 'sid-slow'].map((sid) =>
        row(sid, { issuer: workerIssuer }),
      ),
      clock.now(),
    );
    const status = async () =>
      Object.fromEntries(
        (await findDeliveries(db.knex, { issuer: workerIssuer })).map((d) => [
          d.sid,
          `${d.status}/${d.attempts}`,
        ]),
      );

    expect(await worker.runOnce()).toBe(5);
    expect(await status()).toEqual({
      'sid-ok': 'delivered/1',
      'sid-retry': 'pending/1',
      'sid-never': 'pending/1',
      'sid-gone': 'failed/1',
      'sid-slow': 'pending/1',
    });
    const slow = (await findDeliveries(db.knex, { issuer: workerIssuer, sid: 'sid-slow' }))[0]!;
    expect(slow.lastError).toMatch(/no answer within 200 ms/);

    clock.advance(4900);
    expect(await worker.runOnce()).toBe(0); // not yet due
    clock.advance(200);
    expect(await worker.runOnce()).toBe(3);
    clock.advance(31_000);
    expect(await worker.runOnce()).toBe(3);
    expect(await status()).toEqual({
      'sid-ok': 'delivered/1',
      'sid-retry': 'delivered/3',
      'sid-never': 'failed/3',
      'sid-gone': 'failed/1',
      'sid-slow': 'failed/3',
    });
    expect(outcomes.filter((o) => o === 'success')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'abandoned')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'failure')).toHaveLength(6);

    const audited = await db
      .knex('audit_events')
      .whereIn('action', ['logout.backchannel.delivered', 'logout.backchannel.failed'])
      .whereRaw(
        "details->>'delivery' IN (SELECT id::text FROM backchannel_deliveries WHERE issuer = ?)",
        [workerIssuer],
      );
    expect(audited.map((a) => a.action).sort()).toEqual([
      'logout.backchannel.delivered',
      'logout.backchannel.delivered',
      'logout.backchannel.failed',
      'logout.backchannel.failed',
      'logout.backchannel.failed',
    ]);
    await worker.stop();
  });
});
