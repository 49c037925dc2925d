// A session that times out is told to every system the citizen used, across two instances on
// one PostgreSQL and one Redis: signed in to one agency through instance 1 and to another through
// instance 2, instance 2 restarted in between, and each system gets exactly one logout token
// when the session expires (the sweep is neither lost with the restart nor run twice). The idle
// timeout is 3 s and the sweep runs every second (below the settings' minimums, via overrides).
import { createServer, request as forward, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findDeliveries } from '../../src/sessions/delivery-repo.ts';
import {
  freePort,
  onPostgres,
  ownDatabaseUrl,
  startTestApp,
  type TestApp,
} from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
import {
  agencyWithReceiver,
  eventually,
  FAST_QUEUE,
  signInTo,
  type Receiver,
} from '../sso/support.ts';

const shared = onPostgres() && Boolean(inject('redisUrl'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const overrides = { sessionIdleSeconds: 3, sessionAbsoluteSeconds: 600 };

let env: Record<string, string>;
let first: TestApp | undefined;
let second: TestApp | undefined;
let target: TestApp | undefined;
let balancer: Server;
let issuer = '';
const receivers: Receiver[] = [];

/** The load balancer: forwards every request, Host kept, to `target`. */
const startBalancer = async () => {
  const port = await freePort();
  issuer = `http://localhost:${port}`;
  balancer = createServer((req, res) => {
    const upstream = forward(
      {
        host: '127.0.0.1',
        port: target!.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: false,
      },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => balancer.listen(port, '127.0.0.1', resolve));
};

const start = (port?: number) =>
  startTestApp(env, { overrides, ...(port !== undefined && { port }) });

describe.skipIf(!shared)('session expiry across two instances (DATABASE_URL and REDIS_URL)', () => {
  beforeAll(async () => {
    await startBalancer();
    env = {
      ...FAST_QUEUE,
      SESSION_SWEEP_SECONDS: '1',
      ISSUER: issuer,
      DATABASE_URL: (await ownDatabaseUrl())!,
    };
    first = await start();
    second = await start();
  });
  afterAll(async () => {
    for (const r of receivers) await r.close();
    await second?.stop();
    await first?.stop();
    balancer?.close();
  });

  /** One session: agency X through instance 1, agency Y through instance 2 (SSO), then instance 2 restarts. */
  const sessionOnBoth = async () => {
    const [x, y] = [
      await agencyWithReceiver(first!, 'X Agency'),
      await agencyWithReceiver(first!, 'Y Agency'),
    ];
    receivers.push(x.receiver, y.receiver);
    target = first;
    const citizen = await enrolCitizen(first!);
    const browser = createBrowserSession();
    const atX = await signInTo(first!, browser, citizen.authenticator, x);
    target = second;
    const atY = await signInTo(second!, browser, citizen.authenticator, y);
    expect(atY.claims.sid).toBeTruthy();
    const port = second!.port;
    await second!.stop();
    second = await start(port);
    return { x, y, citizen, sids: [atX.claims.sid, atY.claims.sid] };
  };

  const expectOneTokenEach = async (
    x: { receiver: Receiver; clientId: string },
    y: { receiver: Receiver; clientId: string },
    sids: unknown[],
  ) => {
    await eventually(() => {
      expect(x.receiver.tokens).toHaveLength(1);
      expect(y.receiver.tokens).toHaveLength(1);
    });
    expect([x.receiver.tokens[0]!.claims.sid, y.receiver.tokens[0]!.claims.sid]).toEqual(sids);
    for (const a of [x, y])
      await eventually(async () =>
        expect(
          (await findDeliveries(second!.knex, { issuer, clientId: a.clientId }))[0],
        ).toMatchObject({
          reason: 'expired',
          status: 'delivered',
        }),
      );
    // A few more sweeps on both instances: nobody sends a second token.
    await sleep(2500);
    expect(x.receiver.tokens).toHaveLength(1);
    expect(y.receiver.tokens).toHaveLength(1);
  };

  it('tells both systems once when the session expires, instance 2 restarted in between', async () => {
    const { x, y, citizen, sids } = await sessionOnBoth();
    expect(x.receiver.tokens).toHaveLength(0);
    await expectOneTokenEach(x, y, sids);
    expect(await second!.services.sessions.listActive(citizen.account.id)).toEqual([]);
  });

  it('the restarted instance alone finishes the sweep when the other one is gone', async () => {
    const { x, y, sids } = await sessionOnBoth();
    await first!.stop();
    first = undefined;
    target = second;
    await expectOneTokenEach(x, y, sids);
  });
});
