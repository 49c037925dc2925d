// Health checks for load balancers: /healthz says the process lives, /readyz that its
// dependencies answer. An instance whose Redis is unreachable starts, reports 503 within the
// check's 2 s budget (so the balancer takes it out), and still stops promptly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';

let healthy: TestApp;
beforeAll(async () => {
  healthy = await startTestApp();
});
afterAll(() => healthy?.stop());

const readyz = async (app: TestApp) => {
  const started = performance.now();
  const res = await fetch(`${app.issuer}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> }, ms: performance.now() - started };
};

describe('readiness', () => {
  it('is ready when its database (and Redis, when configured) answer', async () => {
    const { status, body } = await readyz(healthy);
    expect(status).toBe(200);
    expect(body.checks.database).toBe('ok');
    if (healthy.config.redis) expect(body.checks.redis).toBe('ok');
    expect((await fetch(`${healthy.issuer}/healthz`)).status).toBe(200);
  });

  it('answers 503 within its 2 s budget when Redis is unreachable, and stops promptly', async () => {
    // A port nothing listens on: every connection attempt is refused.
    const closed = await freePort();
    const app = await startTestApp({ REDIS_URL: `redis://127.0.0.1:${closed}` });
    try {
      const first = await readyz(app);
      expect(first.status).toBe(503);
      expect(first.body).toEqual({ status: 'unavailable', checks: { database: 'ok', redis: 'unavailable' } });
      expect(first.ms).toBeLessThan(2500);
      // Liveness does not depend on Redis: restarting the process would not bring Redis back.
      expect((await fetch(`${app.issuer}/healthz`)).status).toBe(200);
      expect((await readyz(app)).status).toBe(503);
    } finally {
      const stopping = performance.now();
      await app.stop();
      expect(performance.now() - stopping).toBeLessThan(3000);
    }
  });
});
