// Every URL One-ID publishes derives from ISSUER, never from the request (src/http/middleware/issuer-origin.ts):
// a request naming another host gets 421 and cannot poison the kept discovery answer; plain http
// to an https issuer is redirected to https (or refused), never a 500; health checks answer any Host.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';

const ISSUER = 'https://id.example.go.kr';
const TLS = { 'x-forwarded-proto': 'https' };

type Answer = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
};

/** A raw request to 127.0.0.1:port: any Host, any request target (absolute form too). */
const raw = (
  port: number,
  target: string,
  headers: Record<string, string>,
  init: { method?: string; body?: string } = {},
) =>
  new Promise<Answer>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: target, method: init.method ?? 'GET', headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });

const endpointsOf = (body: string) =>
  Object.entries(JSON.parse(body) as Record<string, unknown>).filter(
    ([key, value]) =>
      typeof value === 'string' && (key.endsWith('_endpoint') || key === 'jwks_uri'),
  );

describe('an https issuer behind a trusted TLS-terminating proxy', () => {
  let app: TestApp;
  const host = new URL(ISSUER).host;
  beforeAll(async () => {
    app = await startTestApp({ ISSUER, TRUSTED_PROXIES: '127.0.0.1' });
  });
  afterAll(() => app?.stop());

  it('refuses a poisoning Host with 421, and discovery keeps the issuer’s endpoints', async () => {
    // The attack from issue 13: the very first discovery request names another host.
    const evil = await raw(app.port, '/.well-known/openid-configuration', {
      host: 'evil.example',
    });
    expect(evil.status).toBe(421);
    expect(evil.body).not.toContain('evil.example/');
    const viaProxy = await raw(app.port, '/.well-known/openid-configuration', {
      ...TLS,
      host,
      'x-forwarded-host': 'evil.example',
    });
    expect(viaProxy.status).toBe(421);
    expect(
      (
        await raw(app.port, 'http://evil.example/.well-known/openid-configuration', {
          ...TLS,
          host,
        })
      ).status,
    ).toBe(421);
    const jwks = await raw(app.port, '/jwks', { host: 'evil.example', ...TLS });
    expect(jwks.status).toBe(421);

    for (const attempt of [0, 1]) {
      const good = await raw(app.port, '/.well-known/openid-configuration', { ...TLS, host });
      expect(good.status, `attempt ${attempt}`).toBe(200);
      const discovery = JSON.parse(good.body) as Record<string, string>;
      expect(discovery.issuer).toBe(ISSUER);
      expect(discovery.authorization_endpoint).toBe(`${ISSUER}/auth`);
      const endpoints = endpointsOf(good.body);
      expect(endpoints.length).toBeGreaterThan(4);
      for (const [key, value] of endpoints) expect(value, key).toMatch(new RegExp(`^${ISSUER}/`));
      // And after another poisoning attempt, now that the answer is kept.
      await raw(app.port, '/.well-known/openid-configuration', { host: 'evil.example', ...TLS });
    }
  });

  it('answers a 421 as a page, problem+json or plain text by what the caller accepts', async () => {
    const page = await raw(app.port, '/account', {
      host: 'evil.example',
      ...TLS,
      accept: 'text/html',
    });
    expect(page.status).toBe(421);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const json = await raw(app.port, '/admin/api/me', { host: 'evil.example', ...TLS });
    expect(json.status).toBe(421);
    expect(json.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.parse(json.body)).toMatchObject({ status: 421, code: 'ERR_MISDIRECTED_REQUEST' });
    const plain = await raw(
      app.port,
      '/token',
      {
        host: 'evil.example',
        ...TLS,
        accept: 'text/plain',
      },
      { method: 'POST', body: 'grant_type=client_credentials' },
    );
    expect(plain.status).toBe(421);
    expect(plain.headers['content-type']).toMatch(/text\/plain/);
  });

  it('pages link to the issuer, whatever the connection was', async () => {
    const page = await raw(app.port, '/session/end', { ...TLS, host, accept: 'text/html' });
    expect(page.status).toBe(200);
    const actions = [...page.body.matchAll(/action="([^"]+)"/g)].map((m) => m[1]!);
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) expect(action).toMatch(new RegExp(`^(${ISSUER})?/`));
  });

  it('sends plain http to https (GET, HEAD) or refuses it (other methods), never a 500', async () => {
    for (const method of ['GET', 'HEAD']) {
      const answer = await raw(app.port, '/account?lang=en', { host }, { method });
      expect(answer.status, method).toBe(308);
      expect(answer.headers.location).toBe(`${ISSUER}/account?lang=en`);
    }
    const page = await raw(app.port, `/enrol/${'a'.repeat(43)}`, { host, accept: 'text/html' });
    expect(page.status).toBe(308);
    const post = await raw(
      app.port,
      '/account/consents/x/withdraw',
      { host, 'content-type': 'application/x-www-form-urlencoded' },
      { method: 'POST', body: '_csrf=x' },
    );
    expect(post.status).toBe(403);
    expect(post.body).toContain(ISSUER);
    // Through the proxy but over plain http to it: the same.
    const proxied = await raw(app.port, '/account', { host, 'x-forwarded-proto': 'http' });
    expect(proxied.status).toBe(308);
  });

  it('answers health, readiness and metrics with any Host, over plain http', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const answer = await raw(app.port, path, { host: `10.0.0.7:${app.port}` });
      expect(answer.status, path).toBe(200);
    }
  });
});

describe('a request straight to an instance (behind the proxy, by its own address)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ ISSUER, TRUSTED_PROXIES: '127.0.0.1' });
  });
  afterAll(() => app?.stop());

  it('is refused, and does not set the endpoints for everyone', async () => {
    const direct = await raw(app.port, '/.well-known/openid-configuration', {
      host: `localhost:${app.port}`,
    });
    expect(direct.status).toBe(421);
    const good = await raw(app.port, '/.well-known/openid-configuration', {
      ...TLS,
      host: new URL(ISSUER).host,
    });
    for (const [key, value] of endpointsOf(good.body))
      expect(value, key).toMatch(new RegExp(`^${ISSUER}/`));
  });
});

describe('an http issuer without a proxy', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({}, { port: await freePort() });
  });
  afterAll(() => app?.stop());

  it('serves its own host, refuses another (even forwarded by an untrusted peer)', async () => {
    const own = await raw(app.port, '/.well-known/openid-configuration', {
      host: `localhost:${app.port}`,
    });
    expect(own.status).toBe(200);
    expect(JSON.parse(own.body).token_endpoint).toBe(`${app.issuer}/token`);
    expect((await raw(app.port, '/jwks', { host: `127.0.0.1:${app.port}` })).status).toBe(421);
    // X-Forwarded-Host from a peer that is not a trusted proxy is ignored, not believed.
    const forwarded = await raw(app.port, '/.well-known/openid-configuration', {
      host: `localhost:${app.port}`,
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
    });
    expect(forwarded.status).toBe(200);
    expect(forwarded.body).not.toContain('evil.example');
    expect(forwarded.body).not.toContain('https://');
  });
});
