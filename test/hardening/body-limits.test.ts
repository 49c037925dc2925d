// Request size and time limits: our routes read at most 64 KiB of JSON or form (src/http/middleware/body.ts),
// the admin API's manifest import at most 5 MB; one byte more is 413, answered the way each
// caller reads errors (problem+json for fetches and the admin API, a readable page for a
// citizen's form), and a body exactly at the limit is read and acted on. Slow senders: the
// mutual-TLS certificate listener bounds a request's time like the main listener.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateListener } from '../../src/http/sign-in/certificate-listener.ts';
import { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../../src/http/middleware/slow-clients.ts';
import { createLogger } from '../../src/shared/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { authorizationRequest, discover, registerClient } from '../support/flows.ts';
import { createTestPki } from '../auth/certificate-login/support.ts';
import { createAdmin, type Admin } from '../admin/support.ts';

const KIB = 1024;
const OURS = 64 * KIB;
const MANIFEST = 5 * KIB * KIB;

let app: TestApp;
let admin: Admin;

beforeAll(async () => {
  app = await startTestApp();
  admin = await createAdmin(app, 'platform');
});
afterAll(() => app?.stop());

/** `json` followed by spaces (still the same JSON) up to exactly `size` bytes. */
const paddedJson = (json: unknown, size: number) => {
  const text = JSON.stringify(json);
  return text + ' '.repeat(size - Buffer.byteLength(text));
};
/** A form whose `pad` field brings it to exactly `size` bytes. */
const paddedForm = (fields: Record<string, string>, size: number) => {
  const text = `${new URLSearchParams(fields)}&pad=`;
  return text + 'x'.repeat(size - Buffer.byteLength(text));
};

/** The login page of a fresh authorization request. */
const openLogin = async () => {
  const client = await registerClient(app);
  const request = await authorizationRequest(await discover(app, client), client.redirectUri);
  const session = createBrowserSession();
  const { res, url } = await session.follow(request.url.toString(), app.issuer);
  return { session, client, path: new URL(url).pathname, csrf: csrfFrom(await res.text()) };
};

describe('body limits', () => {
  it('a sign-in fetch: 64 KiB of JSON is read, one byte more is 413 problem+json', async () => {
    const login = await openLogin();
    const send = (size: number) =>
      login.session.request(`${app.issuer}${login.path}/passkey/options`, {
        method: 'POST',
        body: paddedJson({ identifier: 'size@example.com' }, size),
        headers: {
          'content-type': 'application/json',
          'x-csrf-token': login.csrf,
          accept: 'application/json',
        },
      });
    const over = await send(OURS + 1);
    expect(over.status).toBe(413);
    expect(over.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(await over.json()).toMatchObject({ status: 413, code: 'ERR_BAD_BODY' });
    const at = await send(OURS);
    expect(at.status).toBe(200);
    expect(await at.json()).toHaveProperty('challenge');
  });

  it('a citizen’s form: 64 KiB is read, one byte more is a readable 413 page', async () => {
    const login = await openLogin();
    const send = (size: number, lang = '') =>
      login.session.request(`${app.issuer}${login.path}/abort${lang}`, {
        method: 'POST',
        body: paddedForm({ _csrf: login.csrf }, size),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
    const over = await send(OURS + 1);
    expect(over.status).toBe(413);
    expect(over.headers.get('content-type')).toMatch(/text\/html/);
    expect(await over.text()).toContain('요청을 읽을 수 없습니다');
    const en = await send(OURS + 1, '?lang=en');
    expect(en.status).toBe(413);
    expect(await en.text()).toContain('The request could not be read.');
    // At the limit the form is read: the sign-in is cancelled and the client told so.
    const at = await send(OURS);
    expect(at.status).toBe(303);
    const { url } = await login.session.follow(
      new URL(at.headers.get('location')!, app.issuer).toString(),
      app.issuer,
    );
    expect(url.startsWith(login.client.redirectUri)).toBe(true);
    expect(new URL(url).searchParams.get('error')).toBe('access_denied');
  });

  it('the admin API: 64 KiB of JSON is read, one byte more is 413 problem+json', async () => {
    const put = (path: string, size: number, json: unknown) =>
      fetch(`${app.issuer}/admin/api${path}`, {
        method: 'PUT',
        body: paddedJson(json, size),
        headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      });
    const over = await put('/agencies/body-limit-agency', OURS + 1, {
      name_en: 'Body limit agency',
    });
    expect(over.status).toBe(413);
    expect(over.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(await over.json()).toMatchObject({ status: 413, code: 'ERR_BAD_BODY' });
    const at = await put('/agencies/body-limit-agency', OURS, { name_en: 'Body limit agency' });
    expect(at.status).toBe(201);
    expect(await at.json()).toMatchObject({
      name: 'body-limit-agency',
      name_en: 'Body limit agency',
    });
    // The allowances (a JSON array, read on its own) have the same limit.
    const allowances = await put('/clients/no-such-client/allowances', OURS + 1, []);
    expect(allowances.status).toBe(413);
    expect(await allowances.json()).toMatchObject({ status: 413, code: 'ERR_BAD_BODY' });
  });

  it('the manifest import: 5 MB is read, one byte more is 413 problem+json', async () => {
    const send = (size: number) =>
      fetch(`${app.issuer}/admin/api/manifest?dry_run=true`, {
        method: 'POST',
        body: paddedJson({ agencies: [{ name: 'manifest-size-agency' }], systems: [] }, size),
        headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      });
    const over = await send(MANIFEST + 1);
    expect(over.status).toBe(413);
    expect(over.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(await over.json()).toMatchObject({ status: 413, code: 'ERR_BAD_BODY' });
    const at = await send(MANIFEST);
    expect(at.status).toBe(200);
    expect(await at.json()).toMatchObject({
      dry_run: true,
      rejected: [],
      changes: [expect.anything()],
    });
  });
});

describe('slow senders', () => {
  it('the mutual-TLS certificate listener bounds a request’s time like the main listener', async () => {
    const pki = await createTestPki();
    try {
      const { certPath, keyPath } = await pki.serverFiles();
      const { readFileSync } = await import('node:fs');
      // Only constructed: the timeouts are the server's settings, not a request's outcome.
      const listener = createCertificateListener({
        certificates: {} as never,
        issuer: app.issuer,
        origin: 'https://localhost:1',
        tlsCert: readFileSync(certPath),
        tlsKey: readFileSync(keyPath),
        trustAnchorsPem: pki.root.pem,
        views: {} as never,
        log: createLogger('silent'),
      });
      expect(listener.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
      expect(listener.server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
      expect([REQUEST_TIMEOUT_MS, HEADERS_TIMEOUT_MS]).toEqual([30_000, 15_000]);
    } finally {
      await pki.close();
    }
  });
});
