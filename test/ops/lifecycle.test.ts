// An instance's life behind a load balancer: /healthz says the process lives, /readyz that its
// dependencies answer (503 within the check's 2 s budget when Redis is unreachable), and a
// graceful stop (SIGTERM) finishes every request already received while refusing new connections.
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { trackRequests } from '../../src/http/middleware/graceful-stop.ts';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';
import { registerClient } from '../support/flows.ts';

let app: TestApp;
let stopped = false;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  if (!stopped) await app?.stop();
});

const readyz = async (target: TestApp) => {
  const started = performance.now();
  const res = await fetch(`${target.issuer}/readyz`);
  return {
    status: res.status,
    body: (await res.json()) as { status: string; checks: Record<string, string> },
    ms: performance.now() - started,
  };
};

/** Resolves with the socket error code, or 'connected'. */
const tryConnect = (port: number) =>
  new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });

describe('readiness', () => {
  it('is ready when its database (and Redis, when configured) answer', async () => {
    const { status, body } = await readyz(app);
    expect(status).toBe(200);
    expect(body.checks.database).toBe('ok');
    if (app.config.redis) expect(body.checks.redis).toBe('ok');
    expect((await fetch(`${app.issuer}/healthz`)).status).toBe(200);
  });

  it('answers 503 within its 2 s budget when Redis is unreachable, and stops promptly', async () => {
    // A port nothing listens on: every connection attempt is refused.
    const closed = await freePort();
    const broken = await startTestApp({ REDIS_URL: `redis://127.0.0.1:${closed}` });
    try {
      const first = await readyz(broken);
      expect(first.status).toBe(503);
      expect(first.body).toEqual({
        status: 'unavailable',
        checks: { database: 'ok', redis: 'unavailable' },
      });
      expect(first.ms).toBeLessThan(2500);
      // Liveness does not depend on Redis: restarting the process would not bring Redis back.
      expect((await fetch(`${broken.issuer}/healthz`)).status).toBe(200);
      expect((await readyz(broken)).status).toBe(503);
    } finally {
      const stopping = performance.now();
      await broken.stop();
      expect(performance.now() - stopping).toBeLessThan(3000);
    }
  });
});

describe('graceful stop', () => {
  it('finishes every request received before the stop and refuses new connections', async () => {
    const client = await registerClient(app, { grant_types: ['client_credentials'] });
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret!)}`).toString('base64')}`;
    // Hold token requests inside the engine for a while, so they are in flight when the stop begins.
    const HOLD_MS = 700;
    let arrived = 0;
    let allArrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (allArrived = resolve));
    const N = 6;
    app.provider().use(async (ctx, next) => {
      if (ctx.path === '/token') {
        arrived += 1;
        if (arrived === N) allArrived();
        await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
      }
      await next();
    });
    const requests = Array.from({ length: N }, () =>
      fetch(`${app.issuer}/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      }).then(async (res) => ({
        status: res.status,
        connection: res.headers.get('connection'),
        body: (await res.json()) as { access_token?: string },
      })),
    );
    await inFlight;

    const started = performance.now();
    const closing = app.close();
    stopped = true;
    await new Promise((resolve) => setImmediate(resolve));
    // The listener is closed at once: a load balancer's next connection goes to another instance.
    expect(await tryConnect(app.port)).toBe('ECONNREFUSED');

    const results = await Promise.all(requests);
    for (const result of results) {
      expect(result.status).toBe(200);
      expect(result.body.access_token).toBeTruthy();
      // Keep-alive connections are told to close, so the stop does not wait for them to time out.
      expect(result.connection).toBe('close');
    }
    await closing;
    expect(performance.now() - started).toBeLessThan(HOLD_MS + 2000);
  });

  it('drains first: /readyz says stopping while every request is still served, without keep-alive', async () => {
    const draining = await startTestApp();
    try {
      expect((await fetch(`${draining.issuer}/readyz`)).headers.get('connection')).toBe(
        'keep-alive',
      );
      draining.drain();
      const ready = await fetch(`${draining.issuer}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'stopping' });
      const discovery = await fetch(`${draining.issuer}/.well-known/openid-configuration`);
      expect(discovery.status).toBe(200);
      // No connection outlives its response: a proxy's pool to this instance empties.
      expect(discovery.headers.get('connection')).toBe('close');
      expect(await tryConnect(draining.port)).toBe('connected');
    } finally {
      await draining.stop();
    }
  });

  it('cuts a request that outlives the grace period, so a stop always ends', async () => {
    const server = createServer(() => {}); // answers nothing, ever
    const requests = trackRequests(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const hanging = fetch(`http://127.0.0.1:${port}/`).then(
      () => 'answered',
      () => 'cut',
    );
    await vi.waitFor(() => expect(requests.inFlight()).toBe(1));
    const started = performance.now();
    await requests.stop(300);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(await hanging).toBe('cut');
  });
});
