// Sessions end silently in the store when they time out (idle or absolute); One-ID still tells
// every agency system used in them, from its durable record of sessions. Here the idle timeout
// is 3 s and the absolute lifetime 6 s (below the settings' minimums, through config overrides);
// each step keeps a 1.5 s margin so a loaded machine does not flip the outcome.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDeliveries } from '../../src/sessions/delivery-repo.ts';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
import {
  agencyWithReceiver,
  eventually,
  signInTo,
  silentAuthError,
  startSsoApp,
  type Receiver,
} from './support.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
const receivers: Receiver[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  app = await startSsoApp(
    { SESSION_SWEEP_SECONDS: '1' },
    { overrides: { sessionIdleSeconds: 3, sessionAbsoluteSeconds: 6 } },
  );
  citizen = await enrolCitizen(app);
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await app?.stop();
});

const agency = async (name: string) => {
  const a = await agencyWithReceiver(app, name);
  receivers.push(a.receiver);
  return a;
};

describe('session timeouts', () => {
  it('each use restarts the idle timeout; an idle session ends and its systems get a logout token', async () => {
    const a = await agency('Idle Agency');
    const session = createBrowserSession();
    const signedIn = await signInTo(app, session, citizen.authenticator, a);
    await sleep(1500);
    expect(await silentAuthError(app, session, a)).toBeNull();
    await sleep(1500); // 3 s after sign-in, 1.5 s after the last use: still on
    expect(await silentAuthError(app, session, a)).toBeNull();
    expect(a.receiver.tokens).toHaveLength(0);

    await sleep(4500);
    expect(await silentAuthError(app, session, a)).toBe('login_required');
    await eventually(() => expect(a.receiver.tokens).toHaveLength(1));
    expect(a.receiver.tokens[0]!.claims).toMatchObject({
      sub: signedIn.claims.sub,
      sid: signedIn.claims.sid,
    });
    await eventually(async () =>
      expect(
        (await findDeliveries(app.knex, { issuer: app.issuer, clientId: a.clientId }))[0],
      ).toMatchObject({ reason: 'expired', status: 'delivered' }),
    );
    expect(await app.services.sessions.listActive(citizen.account.id)).toEqual([]);
  });

  it('a session in use still ends at its absolute lifetime', async () => {
    const a = await agency('Busy Agency');
    const session = createBrowserSession();
    await signInTo(app, session, citizen.authenticator, a);
    for (let i = 0; i < 3; i += 1) {
      await sleep(1500);
      expect(await silentAuthError(app, session, a)).toBeNull();
    }
    await sleep(2000); // used 2 s ago (idle 3 s), but signed in over 6.5 s ago
    expect(await silentAuthError(app, session, a)).toBe('login_required');
    await eventually(() => expect(a.receiver.tokens).toHaveLength(1));
  });
});
