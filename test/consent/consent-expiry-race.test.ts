// One `consent.expired` record per consent, whoever ends it. A citizen deciding on a client whose
// consent has just expired replaces it (ending the old one), while the expiry sweep may end the
// same consent at the same moment: the decision read the old consent as active, then waited for
// the sweep's row lock. It must not mark and audit the consent a second time. PostgreSQL only:
// the embedded PGlite serves one transaction at a time, so the race cannot happen there.
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres, startTestApp, type TestApp } from '../support/app.ts';
import { enrolCitizen, registerClient } from '../support/flows.ts';

const allowName = {
  claim: 'name',
  purpose: { ko: '자격 확인', en: 'Eligibility check' },
  required: true,
  retention_days: 90,
};

describe.skipIf(!onPostgres())('a consent ending twice at once', () => {
  let app: TestApp;
  let sweep: Knex;

  beforeAll(async () => {
    app = await startTestApp();
    // The sweep's instance: its own pool on the same database.
    sweep = knexFactory({ client: 'pg', connection: app.config.databaseUrl!, pool: { max: 2 } });
  });
  afterAll(async () => {
    await sweep?.destroy();
    await app?.stop();
  });

  it('is recorded as expired once when the sweep ends it while a decision replaces it', async () => {
    const citizen = await enrolCitizen(app);
    const client = await registerClient(app, { allowed_claims: [allowName] });
    const { consent } = app.services;
    const requested = { scopes: ['openid', 'profile'], claims: [] };
    await consent.decide(citizen.account.id, client.clientId, requested, ['name']);
    const [old] = await app
      .knex('consents')
      .where({ account_id: citizen.account.id, client_id: client.clientId })
      .update({ expires_at: new Date(Date.now() - 60_000) })
      .returning('id');

    // The sweep ends it in a transaction still open (its row lock held)...
    const held = await sweep.transaction();
    await held('consents')
      .where({ id: old.id })
      .whereNull('withdrawn_at')
      .update({ withdrawn_at: new Date() });
    // ...while the citizen's decision reads the consent as active and waits on that lock.
    const deciding = consent.decide(citizen.account.id, client.clientId, requested, ['name']);
    const waiting = async () =>
      Number(
        (
          await sweep.raw(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
          )
        ).rows[0].n,
      );
    for (let i = 0; i < 100 && (await waiting()) === 0; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await waiting()).toBeGreaterThan(0);
    await held.commit();
    await deciding;

    // The sweep ended it (its own record is its business); the decision did not end it again.
    const ended = await app
      .knex('audit_events')
      .where({ subject: `consent:${old.id}`, action: 'consent.expired' })
      .count({ n: '*' })
      .first();
    expect(Number(ended!.n)).toBe(0);
    const rows = await app
      .knex('consents')
      .where({ account_id: citizen.account.id, client_id: client.clientId })
      .orderBy('granted_at');
    expect(rows).toHaveLength(2);
    expect(rows[0].withdrawn_at).not.toBeNull();
    expect(rows[1].withdrawn_at).toBeNull();
  });
});
