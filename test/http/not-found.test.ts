// An address nobody serves gets a readable 404 page in the citizen's language (or problem+json
// for API callers), with the same security headers as every page; the engine's own endpoints
// (and their sub-paths) still reach the engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.stop());

describe('unknown addresses', () => {
  it("answer a readable 404 page in Korean or English, never the engine's plain text", async () => {
    for (const [lang, text] of [
      ['ko', '요청하신 페이지를 찾을 수 없습니다.'],
      ['en', 'The page you asked for does not exist.'],
    ] as const) {
      const res = await fetch(`${app.issuer}/no-such-page/deeper?lang=${lang}`, {
        headers: { accept: 'text/html' },
      });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'|script-src/);
      const html = await res.text();
      expect(html).toContain(text);
      expect(html).toMatch(new RegExp(`<html lang="${lang}"`));
    }
  });

  it('answer problem+json to API callers', async () => {
    const res = await fetch(`${app.issuer}/api/no-such-thing`, {
      headers: { accept: 'application/json' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' });
  });

  it('leave the engine its endpoints and their sub-paths', async () => {
    expect((await fetch(`${app.issuer}/.well-known/openid-configuration`)).status).toBe(200);
    expect((await fetch(`${app.issuer}/jwks`)).status).toBe(200);
    // The engine's own OAuth errors, not our pages.
    const token = await fetch(`${app.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=nope',
    });
    expect([400, 401]).toContain(token.status);
    expect(token.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await token.json()).toMatchObject({
      error: expect.stringMatching(/^(invalid_client|invalid_request|unsupported_grant_type)$/),
    });
    const me = await fetch(`${app.issuer}/me`);
    expect([400, 401]).toContain(me.status);
    expect(await me.json()).toMatchObject({
      error: expect.stringMatching(/^(invalid_request|invalid_token)$/),
    });
  });
});
