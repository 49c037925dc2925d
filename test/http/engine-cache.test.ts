// Discovery and JWKS are answered from the engine's kept first answer (src/http/middleware/engine-cache.ts):
// the same bytes, an ETag honoured with 304, the security headers of every response, and CORS
// per request: a kept answer must not carry the Origin of whoever asked first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.stop());

describe.each(['/.well-known/openid-configuration', '/jwks'])('%s from the kept answer', (path) => {
  it('serves the same bytes with an ETag, and 304 for a matching If-None-Match', async () => {
    const first = await fetch(`${app.issuer}${path}`, {
      headers: { origin: 'http://first.example' },
    });
    const firstBody = await first.text();
    const second = await fetch(`${app.issuer}${path}`);
    expect(second.status).toBe(200);
    expect(await second.text()).toBe(firstBody);
    const etag = second.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(second.headers.get('x-content-type-options')).toBe('nosniff');
    expect(second.headers.get('content-type')).toMatch(/^application\/(json|jwk-set\+json)/);
    const unchanged = await fetch(`${app.issuer}${path}`, { headers: { 'if-none-match': etag! } });
    expect(unchanged.status).toBe(304);
  });

  it('answers each Origin with its own CORS header, whoever asked first', async () => {
    await fetch(`${app.issuer}${path}`, { headers: { origin: 'http://first.example' } });
    const other = await fetch(`${app.issuer}${path}`, {
      headers: { origin: 'http://second.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBe('http://second.example');
    expect(other.headers.get('vary')?.toLowerCase()).toContain('origin');
    const none = await fetch(`${app.issuer}${path}`);
    expect(none.headers.get('access-control-allow-origin')).toBe('*');
  });
});
