// Sessions that end other than by the citizen's own logout still reach every agency system:
// ended remotely from My One-ID, by an administrator (service and CLI), by consent withdrawal
// (that client only), by a disabled client (every citizen).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findDeliveries } from '../../src/sessions/delivery-repo.ts';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { createAdmin } from '../admin/support.ts';
import { enrolCitizen } from '../support/flows.ts';
import {
  agencyWithReceiver,
  eventually,
  openAccountPage,
  runCli,
  sessionsShown,
  signInTo,
  silentAuthError,
  startSsoApp,
  type Receiver,
} from './support.ts';

let app: TestApp & { env: Record<string, string> };
const receivers: Receiver[] = [];

beforeAll(async () => {
  app = await startSsoApp();
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

const sidsReceived = (r: Receiver) => r.tokens.map((t) => t.claims.sid).sort();

describe('sessions ended elsewhere', () => {
  it("lists the citizen's sessions on My One-ID and ends another device's from there", async () => {
    const citizen = await enrolCitizen(app, { name: '정하늘' });
    const a = await agency('주민센터 민원');
    const phone = createBrowserSession();
    const onPhone = await signInTo(app, phone, citizen.authenticator, a);
    const laptop = createBrowserSession();
    const html = await openAccountPage(app, laptop, citizen.authenticator);

    const shown = sessionsShown(html);
    expect(shown).toHaveLength(2);
    const here = shown.find((s) => s.current)!;
    const there = shown.find((s) => !s.current)!;
    expect(here).toBeDefined();
    expect(there.text).toContain('주민센터 민원');
    expect(there.text).toContain('127.0.0.0/24'); // the network, never the full address
    expect(html).toContain(`action="/account/sessions/${there.uid}/end"`);

    // Without the page's CSRF token: refused, nothing ends.
    const forged = await laptop.request(`${app.issuer}/account/sessions/${there.uid}/end`, {
      method: 'POST',
      form: {},
    });
    expect(forged.status).toBe(403);

    const ended = await laptop.request(`${app.issuer}/account/sessions/${there.uid}/end`, {
      method: 'POST',
      form: { _csrf: csrfFrom(html) },
    });
    expect(ended.status).toBe(303);
    expect(ended.headers.get('location')).toBe('/account?done=session-ended#sessions');

    await eventually(() => expect(a.receiver.tokens).toHaveLength(1));
    expect(a.receiver.tokens[0]!.claims).toMatchObject({
      sub: onPhone.claims.sub,
      sid: onPhone.claims.sid,
    });
    expect(await silentAuthError(app, phone, a)).toBe('login_required');
    const after = sessionsShown(await openAccountPage(app, laptop, citizen.authenticator));
    expect(after.map((s) => s.uid)).toEqual([here.uid]);
  });

  it("does not end another citizen's session", async () => {
    const owner = await enrolCitizen(app);
    const other = await enrolCitizen(app);
    const a = await agency('Owner Agency');
    const browser = createBrowserSession();
    await signInTo(app, browser, owner.authenticator, a);
    const [ownerSession] = await app.services.sessions.listActive(owner.account.id);
    const intruder = createBrowserSession();
    const html = await openAccountPage(app, intruder, other.authenticator);
    const res = await intruder.request(`${app.issuer}/account/sessions/${ownerSession!.uid}/end`, {
      method: 'POST',
      form: { _csrf: csrfFrom(html) },
    });
    expect(res.headers.get('location')).toBe('/account#sessions');
    expect(await silentAuthError(app, browser, a)).toBeNull();
  });

  it('an administrator ends every session of a citizen from the CLI; the servers remove them and every system is told', async () => {
    const citizen = await enrolCitizen(app);
    const a = await agency('Admin Agency');
    const first = createBrowserSession();
    const second = createBrowserSession();
    const one = await signInTo(app, first, citizen.authenticator, a);
    const two = await signInTo(app, second, citizen.authenticator, a);

    const cli = await runCli(app, ['sessions', 'end', '--account', citizen.account.id]);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('Ended 2 session(s)');
    expect(cli.stdout).toContain('2 back-channel logout token(s) queued');
    await eventually(() =>
      expect(sidsReceived(a.receiver)).toEqual([one.claims.sid, two.claims.sid].sort()),
    );
    if (inject('redisUrl')) {
      // The engine's store is Redis, shared: the CLI removed the sessions from it before returning.
      expect(await silentAuthError(app, first, a)).toBe('login_required');
      expect(await silentAuthError(app, second, a)).toBe('login_required');
    } else {
      // The store is in the server's memory: the running server removes the sessions within a poll.
      await eventually(async () =>
        expect(await silentAuthError(app, first, a)).toBe('login_required'),
      );
      await eventually(async () =>
        expect(await silentAuthError(app, second, a)).toBe('login_required'),
      );
    }
    expect(await app.services.sessions.listActive(citizen.account.id)).toEqual([]);
  });

  it('withdrawing consent signs the citizen out of that system only, in every live session', async () => {
    const citizen = await enrolCitizen(app);
    const a = await agency('Withdrawn Agency');
    const b = await agency('Kept Agency');
    const session = createBrowserSession();
    const atA = await signInTo(app, session, citizen.authenticator, a);
    await signInTo(app, session, citizen.authenticator, b);

    const html = await openAccountPage(app, session, citizen.authenticator);
    const [consent] = (await app.services.consent.listForAccount(citizen.account.id)).filter(
      (c) => c.clientId === a.clientId,
    );
    const res = await session.request(`${app.issuer}/account/consents/${consent!.id}/withdraw`, {
      method: 'POST',
      form: { _csrf: csrfFrom(html) },
    });
    expect(res.status).toBeLessThan(400);

    await eventually(() => expect(a.receiver.tokens).toHaveLength(1));
    expect(a.receiver.tokens[0]!.claims).toMatchObject({
      sub: atA.claims.sub,
      sid: atA.claims.sid,
    });
    expect(b.receiver.tokens).toHaveLength(0);
    expect(
      (await findDeliveries(app.knex, { issuer: app.issuer, clientId: a.clientId }))[0]!.reason,
    ).toBe('consent_withdrawn');
    // One-ID's session goes on for B; A needs consent again, and gets a new sid.
    expect(await silentAuthError(app, session, b)).toBeNull();
    expect(await silentAuthError(app, session, a)).toBe('consent_required');
    const again = await signInTo(app, session, citizen.authenticator, a);
    expect(again.claims.sid).not.toBe(atA.claims.sid);
  });

  it("a disabled client is told that every citizen's session with it is over", async () => {
    const a = await agency('Retired Agency');
    const signedIn: { sub: string; sid: string }[] = [];
    for (const name of ['김가람', '이나래']) {
      const citizen = await enrolCitizen(app, { name });
      const { claims } = await signInTo(app, createBrowserSession(), citizen.authenticator, a);
      signedIn.push({ sub: claims.sub, sid: claims.sid as string });
    }
    // A platform administrator disables the system through the admin API; the engine no longer
    // finds the client, yet its receiver gets a verified logout token per citizen's session.
    const admin = await createAdmin(app, 'platform');
    const res = await admin.api('POST', `/clients/${a.clientId}/disable`);
    expect(res.status).toBe(200);
    await eventually(() => expect(a.receiver.tokens).toHaveLength(2));
    const received = a.receiver.tokens
      .map((t) => ({ sub: t.claims.sub, sid: t.claims.sid }))
      .sort((x, y) => x.sid!.localeCompare(y.sid!));
    expect(received).toEqual(signedIn.sort((x, y) => x.sid.localeCompare(y.sid)));
    expect(signedIn[0]!.sub).not.toBe(signedIn[1]!.sub);
    expect(a.receiver.rejected).toEqual([]);
    expect(
      (await findDeliveries(app.knex, { issuer: app.issuer, clientId: a.clientId })).map(
        (d) => d.reason,
      ),
    ).toEqual(['client_disabled', 'client_disabled']);
  });
});
