// `npm run cli -- upstreams ...` as a platform administrator runs it, beside a running server:
// the upstream appears on the sign-in page, its secret is stored sealed, and disabling it takes
// it off the page at once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { runCli } from '../support/cli.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { authorizationRequest, discover, registerClient } from '../support/flows.ts';
import { upstreamButton } from './support.ts';

let app: TestApp;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oneid-fed-cli-'));
  app = await startTestApp({}, { dataDir: join(dir, 'data') });
});
afterAll(async () => {
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(app, ...args);

const loginHtml = async () => {
  const client = await registerClient(app);
  const request = await authorizationRequest(await discover(app, client), client.redirectUri);
  return (await createBrowserSession().follow(request.url.href, app.issuer)).res.text();
};

describe('npm run cli -- upstreams', () => {
  it('registers, lists and disables an upstream identity provider', async () => {
    const file = join(dir, 'upstream.json');
    const secret = 'upstream-client-secret-do-not-print';
    writeFileSync(file, JSON.stringify({
      id: 'mobile-id',
      issuer: 'https://mobile-id.example.go.kr',
      client_id: 'one-id',
      client_secret: secret,
      scopes: ['openid', 'profile'],
      claims: { name: 'name', birthdate: 'birthdate' },
      acr: 'urn:one-id:loa:substantial',
      display_name: { ko: '모바일 신분증', en: 'Mobile ID' },
    }));
    const added = await cli('upstreams', 'add', '--file', file);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(`${app.issuer}/federation/callback`);
    const row = await app.knex('upstream_providers').where({ id: 'mobile-id' }).first();
    expect(row.client_secret_sealed).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(upstreamButton(await loginHtml(), 'mobile-id')).toBeTruthy();

    const listed = await cli('upstreams', 'list');
    expect(listed.stdout).toMatch(/mobile-id\s+active\s+https:\/\/mobile-id\.example\.go\.kr\s+urn:one-id:loa:substantial/);
    expect(listed.stdout).not.toContain(secret);

    const disabled = await cli('upstreams', 'disable', '--id', 'mobile-id');
    expect(disabled.code).toBe(0);
    expect(upstreamButton(await loginHtml(), 'mobile-id')).toBeUndefined();
    expect(await app.knex('audit_events').where({ subject: 'upstream:mobile-id' }).orderBy('id').select('action', 'actor')).toEqual([{ action: 'federation.upstream.created', actor: 'cli' }, { action: 'federation.upstream.disabled', actor: 'cli' }]);
  });
});
