// The durable session record is written in one statement (issue 16): a client whose sid is
// unchanged keeps its first use, its last use moves only when the save was a sign-in to it, a
// client with a new sid starts afresh, a client gone from the session is dropped, and an ended
// session is never brought back. The same statement records the sign-in's "connected systems"
// entry and the grant's id on its consent, only while the consent is active. On the run's real
// database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { randomUUID } from 'node:crypto';
import { enrolCitizen, registerClient } from '../support/flows.ts';

let app: TestApp;
let accountId: string;

beforeAll(async () => {
  app = await startTestApp();
  accountId = (await enrolCitizen(app)).account.id;
});
afterAll(() => app?.stop());

const row = async (uid: string) =>
  (await app.knex('citizen_sessions').where({ uid }).first()) as {
    clients: Record<string, { sid: string; firstAt: string; lastAt: string }>;
    ended_at: Date | null;
  };
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('session record', () => {
  it('merges the clients of a save into what the row knew', async () => {
    const sessions = app.services.sessions;
    const uid = `test-${Date.now()}`;
    const expiresAt = new Date(Date.now() + 3600_000);
    const save = async (sids: Record<string, string>, clientId?: string) =>
      (await sessions.record({ uid, accountId, sids, expiresAt, activity: { clientId } })).keep;
    expect(await save({ a: 'sid-a', b: 'sid-b' }, 'a')).toBe(true);
    const first = (await row(uid)).clients;
    await tick();
    // A save that was no sign-in to a client (a later request of the session): nothing moves.
    expect(await save({ a: 'sid-a', b: 'sid-b' })).toBe(true);
    expect((await row(uid)).clients).toEqual(first);
    await tick();
    // A sign-in to b: b's last use moves, its first use stays; a new sid for c starts afresh.
    expect(await save({ a: 'sid-a', b: 'sid-b', c: 'sid-c' }, 'b')).toBe(true);
    const second = (await row(uid)).clients;
    expect(second.a).toEqual(first.a);
    expect(second.b!.firstAt).toBe(first.b!.firstAt);
    expect(second.b!.lastAt > first.b!.lastAt).toBe(true);
    expect(second.c!.sid).toBe('sid-c');
    await tick();
    // a got a new sid (signed in again after being dropped), b left the session.
    expect(await save({ a: 'sid-a2', c: 'sid-c' })).toBe(true);
    const third = (await row(uid)).clients;
    expect(Object.keys(third).sort()).toEqual(['a', 'c']);
    expect(third.a!.firstAt > first.a!.firstAt).toBe(true);
    expect(third.c).toEqual(second.c);

    await app.knex('citizen_sessions').where({ uid }).update({ ended_at: new Date() });
    expect(await save({ a: 'sid-a2', c: 'sid-c' }, 'a')).toBe(false);
    expect((await row(uid)).clients).toEqual(third);
  });

  it('records the sign-in to a client and the grant on its consent, only while the consent is active', async () => {
    const { clientId } = await registerClient(app);
    const consentId = randomUUID();
    const now = new Date();
    await app.knex('consents').insert({
      id: consentId,
      account_id: accountId,
      client_id: clientId,
      granted_claims: '[]',
      declined_claims: '[]',
      scopes: '["openid"]',
      purposes: '{}',
      grant_ids: '[]',
      granted_at: now,
      updated_at: now,
      expires_at: new Date(now.getTime() + 86400_000),
    });
    const uid = `test-grant-${Date.now()}`;
    const save = (grantId: string) =>
      app.services.sessions.record({
        uid,
        accountId,
        sids: { [clientId]: 'sid-1' },
        expiresAt: new Date(Date.now() + 3600_000),
        activity: { clientId },
        grant: { consentId, grantId },
      });
    const consent = async () => (await app.knex('consents').where({ id: consentId }).first())!;
    const signIns = async () =>
      (
        await app
          .knex('client_sign_ins')
          .where({ account_id: accountId, client_id: clientId })
          .first()
      )?.count;
    expect(await save('grant-1')).toEqual({ keep: true, revokeGrant: false });
    expect((await consent()).grant_ids).toEqual(['grant-1']);
    expect(Number(await signIns())).toBe(1);
    await app.knex('consents').where({ id: consentId }).update({ withdrawn_at: new Date() });
    expect(await save('grant-2')).toEqual({ keep: true, revokeGrant: true });
    expect((await consent()).grant_ids).toEqual(['grant-1']);
    expect(Number(await signIns())).toBe(2);
  });
});
