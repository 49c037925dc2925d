// The audit chain is keyed (AUDIT_KEYS): whoever can write to the database but does not hold the
// key cannot mend a lane after editing a record, and a rotated key list (new key first, old one
// still listed) verifies old records while new ones use the new key. On a database of its own.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditService, withAuditKeys } from '../../src/audit/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { cliEnv, cliProcess } from '../support/cli.ts';

const oldKey = randomBytes(32).toString('base64url');
const newKey = randomBytes(32).toString('base64url');
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ AUDIT_KEYS: oldKey });
});
afterAll(async () => {
  await app?.stop();
});

const verifyWith = (keys: string) =>
  cliProcess({ ...cliEnv(app), AUDIT_KEYS: keys }, ['audit', 'verify']);

// What an attacker with database access can compute: the published algorithm, without the key.
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  return JSON.stringify(value ?? null);
};
const plainHash = (prevHash: string, row: Record<string, unknown>) =>
  createHash('sha256')
    .update(
      canonical([
        prevHash,
        new Date(row.occurred_at as string).toISOString(),
        row.action,
        row.actor,
        row.subject,
        row.ip,
        row.details,
      ]),
    )
    .digest('hex');

describe('keyed audit chain', () => {
  // The CLI runs as a process of its own (seconds each on a busy machine).
  it(
    'names a record edited and its lane recomputed without the key',
    { timeout: 120_000 },
    async () => {
      const subject = `test:forgery-${randomBytes(4).toString('hex')}`;
      for (const step of ['one', 'two', 'three'])
        await app.services.audit.record({
          action: 'test.recorded',
          actor: 'cli',
          subject,
          details: { step },
        });
      expect(await app.services.audit.verify()).toMatchObject({ ok: true });

      const [first, target, ...rest] = await app
        .knex('audit_events')
        .where({ subject })
        .orderBy('id');
      const lane = await app
        .knex('audit_events')
        .where({ chain: target.chain })
        .andWhere('id', '>=', target.id)
        .orderBy('id');
      const saved = lane.map((r) => ({ ...r }));
      expect(rest).toHaveLength(1);
      expect(first.key_id).toEqual(expect.any(String));
      // Rewrite the record, then every later record of its lane, so each links to the one before.
      let prevHash: string = target.prev_hash;
      for (const row of lane) {
        if (row.id === target.id) row.details = { step: 'forged' };
        const hash = plainHash(prevHash, row);
        await app
          .knex('audit_events')
          .where({ id: row.id })
          .update({ details: JSON.stringify(row.details), prev_hash: prevHash, hash });
        prevHash = hash;
      }
      try {
        const result = await verifyWith(oldKey);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`Audit chain broken at record ${target.id} `);
      } finally {
        for (const row of saved)
          await app
            .knex('audit_events')
            .where({ id: row.id })
            .update({
              details: JSON.stringify(row.details),
              prev_hash: row.prev_hash,
              hash: row.hash,
            });
      }
      expect(await app.services.audit.verify()).toMatchObject({ ok: true });
    },
  );

  it('keys records with the keys as given, whatever the caller does with its buffers later', async () => {
    const subject = `test:key-copy-${randomBytes(4).toString('hex')}`;
    const given = Buffer.from(newKey, 'base64url');
    // The key ids are computed once per handle; the handle keeps keys of its own.
    const audit = createAuditService({
      knex: withAuditKeys(app.knex, [given, Buffer.from(oldKey, 'base64url')]),
    });
    given.fill(0);
    await audit.record({ action: 'test.key-copy', actor: 'cli', subject });
    const [row] = await app.knex('audit_events').where({ subject });
    const newKeyId = createHash('sha256')
      .update('one-id audit key')
      .update(Buffer.from(newKey, 'base64url'))
      .digest('base64url')
      .slice(0, 8);
    expect(row.key_id).toBe(newKeyId);
    const verifier = createAuditService({
      knex: withAuditKeys(app.knex, [
        Buffer.from(newKey, 'base64url'),
        Buffer.from(oldKey, 'base64url'),
      ]),
    });
    expect(await verifier.verify()).toMatchObject({ ok: true });
  });

  it(
    'verifies old records after rotation and keys new ones with the new first key',
    { timeout: 120_000 },
    async () => {
      const subject = `test:rotation-${randomBytes(4).toString('hex')}`;
      await app.services.audit.record({ action: 'test.before-rotation', actor: 'cli', subject });
      const rotated = createAuditService({
        knex: withAuditKeys(app.knex, [
          Buffer.from(newKey, 'base64url'),
          Buffer.from(oldKey, 'base64url'),
        ]),
      });
      await rotated.record({ action: 'test.after-rotation', actor: 'cli', subject });
      const [before, after] = await app.knex('audit_events').where({ subject }).orderBy('id');
      expect(after.key_id).not.toBe(before.key_id);
      expect(await rotated.verify()).toMatchObject({ ok: true });
      expect((await verifyWith(`${newKey},${oldKey}`)).stdout).toMatch(/^Audit chain intact/);

      // The old key removed too early: the first record it keyed is named, with its key id.
      const [oldest] = await app.knex('audit_events').orderBy('id').limit(1);
      const result = await verifyWith(newKey);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `Audit chain broken at record ${oldest.id} (after 0 valid record(s)): its key id "${before.key_id}" is not one of AUDIT_KEYS.`,
      );
    },
  );
});
