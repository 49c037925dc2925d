// Single logout: signing out at One-ID ends the citizen's session at every agency system used in
// it, by back-channel logout tokens sent from a durable queue (never inline on the citizen's
// page, always retried), verified here the way an agency must verify them.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findDeliveries } from '../../src/sessions/delivery-repo.ts';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession, type BrowserSession } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
import {
  BACKCHANNEL_EVENT,
  agencyWithReceiver,
  eventually,
  signInTo,
  silentAuthError,
  startSsoApp,
  type Receiver,
} from './support.ts';

let app: TestApp & { dataDir: string };
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
const receivers: Receiver[] = [];

beforeAll(async () => {
  app = await startSsoApp();
  citizen = await enrolCitizen(app, { name: '이영희' });
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await app?.close();
  if (app) rmSync(app.dataDir, { recursive: true, force: true });
});

const agency = async (name: string) => {
  const a = await agencyWithReceiver(app, name);
  receivers.push(a.receiver);
  return a;
};

/** The citizen signs out at One-ID (logout page, "sign out"): returns the confirm response and where it leads. */
const logout = async (session: BrowserSession) => {
  const page = await session.request(`${app.issuer}/session/end`);
  const html = await page.text();
  const action = /id="op\.logoutForm" method="post" action="([^"]+)"/.exec(html)![1]!;
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
  const started = performance.now();
  const done = await session.request(new URL(action, app.issuer), {
    method: 'POST',
    form: { xsrf, logout: 'yes' },
  });
  const ms = performance.now() - started;
  expect(done.status).toBe(303);
  const success = await session.request(new URL(done.headers.get('location')!, app.issuer));
  return { ms, html: await success.text() };
};

describe('back-channel logout', () => {
  it('sends each agency system used in the session a verified logout token with its sid and pairwise sub', async () => {
    const a = await agency('세금 신고 서비스');
    const b = await agency('Passport Office');
    const session = createBrowserSession();
    const atA = await signInTo(app, session, citizen.authenticator, a);
    const atB = await signInTo(app, session, citizen.authenticator, b);
    expect(atA.claims.sid).toBeTruthy();
    expect(atB.claims.sid).not.toBe(atA.claims.sid);

    const { html } = await logout(session);
    // The signed-out page names the systems that were told.
    expect(html).toContain('id="signed-out-systems"');
    expect(html).toContain('세금 신고 서비스');
    expect(html).toContain('Passport Office');

    await eventually(() => expect(a.receiver.tokens.length + b.receiver.tokens.length).toBe(2));
    for (const [r, got] of [
      [a.receiver, atA.claims],
      [b.receiver, atB.claims],
    ] as const) {
      const [token] = r.tokens;
      expect(token!.claims).toMatchObject({
        iss: app.issuer,
        sub: got.sub,
        sid: got.sid,
        events: { [BACKCHANNEL_EVENT]: {} },
      });
      expect(token!.claims.nonce).toBeUndefined();
    }
    expect(a.receiver.rejected).toEqual([]);
    await eventually(async () =>
      expect(
        await findDeliveries(app.knex, { issuer: app.issuer, clientId: a.clientId }),
      ).toMatchObject([
        { status: 'delivered', attempts: 1, reason: 'logout', sid: atA.claims.sid },
      ]),
    );
    expect(await silentAuthError(app, session, a)).toBe('login_required');
  });

  it('retries a delivery the receiver refused until it is accepted', async () => {
    const c = await agency('Retry Agency');
    c.receiver.failNext(2);
    const session = createBrowserSession();
    const signedIn = await signInTo(app, session, citizen.authenticator, c);
    await logout(session);
    await eventually(() => expect(c.receiver.tokens).toHaveLength(1));
    expect(c.receiver.requests()).toBe(3);
    expect(c.receiver.tokens[0]!.claims.sid).toBe(signedIn.claims.sid);
    await eventually(async () =>
      expect(
        (await findDeliveries(app.knex, { issuer: app.issuer, clientId: c.clientId }))[0],
      ).toMatchObject({ status: 'delivered', attempts: 3 }),
    );
  });

  it('never makes the citizen wait for a slow receiver', async () => {
    const d = await agency('Slow Agency');
    d.receiver.setDelay(1500);
    const session = createBrowserSession();
    await signInTo(app, session, citizen.authenticator, d);
    const { ms } = await logout(session);
    expect(ms).toBeLessThan(1000);
    expect(d.receiver.tokens).toHaveLength(0);
    await eventually(() => expect(d.receiver.tokens).toHaveLength(1));
  });

  it('keeps the token queued while the receiver is down, across a restart, and delivers it when it is back; sessions a restart lost are told too', async () => {
    const e = await agency('Offline Agency');
    const session = createBrowserSession();
    const signedIn = await signInTo(app, session, citizen.authenticator, e);
    const stays = createBrowserSession();
    const staying = await signInTo(app, stays, citizen.authenticator, e);
    await e.receiver.down();
    await logout(session);
    // The first attempt failed and the token waits for its retry.
    await eventually(async () =>
      expect(
        (
          await findDeliveries(app.knex, { issuer: app.issuer, sid: signedIn.claims.sid as string })
        )[0],
      ).toMatchObject({
        status: 'pending',
        attempts: expect.any(Number),
        lastError: expect.any(String),
      }),
    );

    // One-ID restarts (same database) and the receiver comes back: the queue is still there.
    const { port, dataDir } = app;
    await app.close();
    await e.receiver.up();
    app = await startSsoApp(
      { ...(app.config.databaseUrl && { DATABASE_URL: app.config.databaseUrl }) },
      { port, dataDir },
    );
    await eventually(() =>
      expect(e.receiver.tokens.map((t) => t.claims.sid)).toContain(signedIn.claims.sid),
    );
    if (inject('redisUrl')) {
      // Sessions live in Redis: the other one survived the restart.
      expect(await silentAuthError(app, stays, e)).toBeNull();
    } else {
      // The in-process store lost the other session: its system is told at start.
      await eventually(() =>
        expect(e.receiver.tokens.map((t) => t.claims.sid)).toContain(staying.claims.sid),
      );
      expect(await silentAuthError(app, stays, e)).toBe('login_required');
      await eventually(async () =>
        expect(
          (
            await findDeliveries(app.knex, {
              issuer: app.issuer,
              sid: staying.claims.sid as string,
            })
          )[0],
        ).toMatchObject({ reason: 'restart', status: 'delivered' }),
      );
    }
    await eventually(async () =>
      expect(
        (
          await findDeliveries(app.knex, { issuer: app.issuer, sid: signedIn.claims.sid as string })
        )[0],
      ).toMatchObject({ status: 'delivered', attempts: expect.any(Number) }),
    );
    expect(
      (
        await findDeliveries(app.knex, { issuer: app.issuer, sid: signedIn.claims.sid as string })
      )[0]!.attempts,
    ).toBeGreaterThan(1);
  });
});
