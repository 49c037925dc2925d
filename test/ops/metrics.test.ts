// Prometheus metrics: served on their own listener (METRICS_PORT), not on the public port
// unless METRICS_PUBLIC=true; request, sign-in, token and error counters with bounded labels.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';
import { createSoftAuthenticator } from '../support/soft-authenticator.ts';

let app: TestApp;
let metricsUrl: string;
beforeAll(async () => {
  const metricsPort = await freePort();
  app = await startTestApp({ METRICS_PORT: String(metricsPort) });
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
});
afterAll(() => app?.stop());

/** Sample values by series, e.g. `oneid_signins_total{method="passkey",outcome="success"}`. */
const scrape = async (url = metricsUrl) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return { text, value: (series: string) => samples.get(series) ?? 0 };
};

describe('metrics', () => {
  it('are served on the metrics listener only, with the process metrics', async () => {
    const { text } = await scrape();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'oneid_http_requests_total',
      'oneid_signins_total',
      'oneid_tokens_issued_total',
      'oneid_backchannel_deliveries_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    // The public port has no /metrics; the metrics listener has nothing else.
    expect((await fetch(`${app.issuer}/metrics`)).status).toBe(404);
    expect((await fetch(metricsUrl.replace('/metrics', '/healthz'))).status).toBe(404);
    expect(
      (await fetch(metricsUrl.replace('/metrics', '/.well-known/openid-configuration'))).status,
    ).toBe(404);
    expect((await fetch(metricsUrl, { method: 'POST' })).status).toBe(404);
  });

  it('count requests by route, sign-ins by outcome, tokens by grant type and engine errors', async () => {
    const before = await scrape();
    const { authenticator } = await enrolCitizen(app);
    const client = await registerClient(app);
    const config = await discover(app, client);

    // A failed passkey sign-in: a credential One-ID has never seen.
    const stranger = createSoftAuthenticator({ origin: app.issuer });
    stranger.register({ challenge: 'x', rp: { id: 'localhost' }, user: { id: 'dW5rbm93bg' } });
    const failing = await authorizationRequest(config, client.redirectUri);
    const session = createBrowserSession();
    const { url } = await session.follow(failing.url.toString(), app.issuer);
    const page = await session.request(url);
    const csrf = csrfFrom(await page.text());
    const options = await (
      await session.request(`${url}/passkey/options`, {
        method: 'POST',
        json: {},
        headers: { 'x-csrf-token': csrf },
      })
    ).json();
    const refused = await session.request(`${url}/passkey/verify`, {
      method: 'POST',
      json: stranger.authenticate(options),
      headers: { 'x-csrf-token': csrf },
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);

    // A successful one, then the code, a refresh and a replayed code.
    const request = await authorizationRequest(config, client.redirectUri);
    const callback = await signIn(app, createBrowserSession(), authenticator, request.url);
    const checks = {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    };
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), checks);
    await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    await expect(
      oidc.authorizationCodeGrant(config, new URL(callback), checks),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    app.metrics.recordBackchannelDelivery('failure');

    const after = await scrape();
    const delta = (series: string) => after.value(series) - before.value(series);
    expect(delta('oneid_signins_total{method="passkey",outcome="success"}')).toBe(1);
    expect(delta('oneid_signins_total{method="passkey",outcome="failure"}')).toBe(1);
    expect(after.text).toContain('oneid_signins_total{method="certificate",outcome="success"} 0');
    expect(delta('oneid_tokens_issued_total{grant_type="authorization_code"}')).toBe(1);
    expect(delta('oneid_tokens_issued_total{grant_type="refresh_token"}')).toBe(1);
    expect(delta('oneid_oidc_errors_total{event="grant.error",error="invalid_grant"}')).toBe(1);
    expect(delta('oneid_backchannel_deliveries_total{outcome="failure"}')).toBe(1);
    expect(delta('oneid_http_requests_total{method="POST",route="token",status="200"}')).toBe(2);
    expect(delta('oneid_http_requests_total{method="POST",route="token",status="400"}')).toBe(1);
    expect(
      delta('oneid_http_requests_total{method="GET",route="authorization",status="303"}'),
    ).toBe(2);
    expect(
      delta(
        'oneid_http_requests_total{method="POST",route="/interaction/:uid/passkey/verify",status="200"}',
      ),
    ).toBe(1);
    expect(delta('oneid_http_request_duration_seconds_count{method="POST",route="token"}')).toBe(3);
    expect(
      after.value(
        'oneid_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="discovery"}',
      ),
    ).toBeGreaterThan(0);

    // Route labels are patterns or engine route names: never an interaction id or a token.
    const routes = new Set([...after.text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]!));
    for (const route of routes) expect(route).toMatch(/^([a-z_]+|(\/(:?[\w.-]{1,24}))+)$/);
    expect([...routes].some((r) => r.includes(new URL(url).pathname.split('/').pop()!))).toBe(
      false,
    );
  });

  it('can be served on the main port for development (METRICS_PUBLIC=true), never in production', async () => {
    const open = await startTestApp({ METRICS_PUBLIC: 'true' });
    try {
      await fetch(`${open.issuer}/healthz`);
      const { text } = await scrape(`${open.issuer}/metrics`);
      expect(text).toContain(
        'oneid_http_requests_total{method="GET",route="/healthz",status="200"} 1',
      );
    } finally {
      await open.stop();
    }
    const production = {
      NODE_ENV: 'production',
      ISSUER: 'https://id.example.go.kr',
      DATABASE_URL: 'postgres://db/oneid',
      REDIS_URL: 'redis://redis:6379',
      COOKIE_KEYS: 'k'.repeat(32),
      KEY_ENCRYPTION_KEYS: Buffer.alloc(32, 1).toString('base64url'),
      AUDIT_KEYS: Buffer.alloc(32, 9).toString('base64url'),
      PAIRWISE_SALT: 's'.repeat(32),
    };
    expect(loadConfig(production).metrics).toEqual({
      port: undefined,
      host: '127.0.0.1',
      public: false,
    });
    expect(() => loadConfig({ ...production, METRICS_PUBLIC: 'true' })).toThrow(
      /METRICS_PUBLIC: must not be true when NODE_ENV=production/,
    );
    expect(() => loadConfig({ PORT: '3000', METRICS_PORT: '3000' })).toThrow(
      /METRICS_PORT: must differ from PORT/,
    );
    expect(() => loadConfig({ METRICS_PUBLIC: 'yes' })).toThrow(
      /METRICS_PUBLIC: must be true or false/,
    );
  });
});
