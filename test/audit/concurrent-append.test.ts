// The audit append is one compare-and-swap statement on the lane's head row (issue 16). Two
// instances (two connection pools, each with its own cached heads) appending to the same lanes at
// once must still make one unbroken chain per lane: no record lost, no fork, ids in chain order.
// A record that does not extend its lane's head is refused by the database itself.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, createAuditService, withAuditKeys } from '../../src/audit/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';

let app: TestApp;
let second: Knex;

beforeAll(async () => {
  app = await startTestApp();
  // A second instance's pool: the same database (PostgreSQL, or the embedded server's socket).
  const url =
    app.config.databaseUrl ??
    `postgres://postgres@127.0.0.1:${
      (
        JSON.parse(readFileSync(join(app.dataDir, 'pglite-server.json'), 'utf8')) as {
          port: number;
        }
      ).port
    }/postgres`;
  second = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 5 } });
});
afterAll(async () => {
  await second?.destroy();
  await app?.stop();
});

const keys = () => [Buffer.from(app.env.AUDIT_KEYS!.split(',')[0]!, 'base64url')];

describe('audit append under concurrency', () => {
  it('two instances appending to the same lanes at once keep every lane one chain', async () => {
    const other = createAuditService({ knex: withAuditKeys(second, keys()) });
    const subjects = ['test:lane-a', 'test:lane-b', 'test:lane-c'];
    const before = Number((await app.knex('audit_events').count({ n: '*' }).first())!.n);
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? other : app.services.audit).record({
          action: 'test.concurrent',
          actor: 'cli',
          subject: subjects[i % subjects.length],
          details: { i },
        }),
      ),
    );
    const rows = await app.knex('audit_events').orderBy('id');
    expect(rows.length - before).toBe(60);
    // No fork: within a lane, each hash is the prev_hash of at most one record, in id order.
    const lanes = new Map<number, string>();
    for (const row of rows) {
      const prev = lanes.get(row.chain) ?? 'genesis';
      expect(row.prev_hash, `record ${row.id}`).toBe(prev);
      lanes.set(row.chain, row.hash);
    }
    const verified = await app.services.audit.verify();
    expect(verified).toMatchObject({ ok: true, count: rows.length });
    const heads = await app.knex('audit_heads').orderBy('chain');
    for (const head of heads) expect(head.hash).toBe(lanes.get(head.chain) ?? 'genesis');
  });

  it('an append rolled back leaves a stale cached head, and the next append recovers', async () => {
    const subject = 'test:rolled-back';
    await app.knex
      .transaction(async (trx) => {
        await appendAudit(trx, { action: 'test.rolled-back', actor: 'cli', subject });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await app.services.audit.record({ action: 'test.after-rollback', actor: 'cli', subject });
    expect(await app.knex('audit_events').where({ subject }).pluck('action')).toEqual([
      'test.after-rollback',
    ]);
    expect(await app.services.audit.verify()).toMatchObject({ ok: true });
  });

  it('the database refuses a record that does not extend its lane (no fork)', async () => {
    const [last] = await app.knex('audit_events').orderBy('id', 'desc').limit(1);
    await expect(
      app.knex('audit_events').insert({
        action: 'test.forked',
        actor: 'cli',
        details: '{}',
        prev_hash: last.prev_hash,
        hash: 'f'.repeat(64),
        key_id: last.key_id,
        chain: last.chain,
        occurred_at: new Date(),
      }),
    ).rejects.toThrow(/does not extend the head of lane/);
    expect(await app.services.audit.verify()).toMatchObject({ ok: true });
  });
});
