// `npm run cli -- upstreams ...` as a platform administrator runs it, beside a running server:
// the upstream appears on the sign-in page, its secret is stored sealed, disabling it takes it
// off the page at once, an update keeps the sealed secret (or names the bad field), and
// enabling puts it back.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { cliOperator, runCli } from '../support/cli.ts';
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
// Each CLI run is a fresh Node process (tsx): seconds apiece on a loaded machine.
const CLI_TEST_TIMEOUT = 120_000;

const loginHtml = async () => {
  const client = await registerClient(app);
  const request = await authorizationRequest(await discover(app, client), client.redirectUri);
  return (await createBrowserSession().follow(request.url.href, app.issuer)).res.text();
};

describe('npm run cli -- upstreams', () => {
  it(
    'registers, lists and disables an upstream identity provider',
    async () => {
      const file = join(dir, 'upstream.json');
      const secret = 'upstream-client-secret-do-not-print';
      writeFileSync(
        file,
        JSON.stringify({
          id: 'mobile-id',
          issuer: 'https://mobile-id.example.go.kr',
          client_id: 'one-id',
          client_secret: secret,
          scopes: ['openid', 'profile'],
          claims: { name: 'name', birthdate: 'birthdate' },
          acr: 'urn:one-id:loa:substantial',
          display_name: { ko: '모바일 신분증', en: 'Mobile ID' },
        }),
      );
      const added = await cli('upstreams', 'add', '--file', file);
      expect(added.code).toBe(0);
      expect(added.stdout).toContain(`${app.issuer}/federation/callback`);
      const row = await app.knex('upstream_providers').where({ id: 'mobile-id' }).first();
      expect(row.client_secret_sealed).toMatch(/^v1\./);
      expect(JSON.stringify(row)).not.toContain(secret);
      expect(upstreamButton(await loginHtml(), 'mobile-id')).toBeTruthy();

      const listed = await cli('upstreams', 'list');
      expect(listed.stdout).toMatch(
        /mobile-id\s+active\s+https:\/\/mobile-id\.example\.go\.kr\s+urn:one-id:loa:substantial/,
      );
      expect(listed.stdout).not.toContain(secret);

      const disabled = await cli('upstreams', 'disable', '--id', 'mobile-id');
      expect(disabled.code).toBe(0);
      expect(upstreamButton(await loginHtml(), 'mobile-id')).toBeUndefined();
      expect(
        await app
          .knex('audit_events')
          .where({ subject: 'upstream:mobile-id' })
          .orderBy('id')
          .select('action', 'actor'),
      ).toEqual([
        { action: 'federation.upstream.created', actor: cliOperator },
        { action: 'federation.upstream.disabled', actor: cliOperator },
      ]);
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'updates an upstream (keeping the sealed secret, refusing a bad file by field) and enables it again',
    async () => {
      const id = 'gov-cli';
      const settings = {
        id,
        issuer: 'https://gov-cli.example.go.kr',
        client_id: 'one-id',
        scopes: ['openid', 'profile'],
        claims: { name: 'name', birthdate: 'birthdate' },
        acr: 'urn:one-id:loa:substantial',
        display_name: { ko: '정부 로그인', en: 'Gov sign-in' },
      };
      await app.services.federation.upstreams.add(
        { ...settings, client_secret: 'gov-cli-secret-never-printed' },
        'test',
      );
      await app.services.federation.upstreams.setStatus(id, 'disabled', 'test');
      const sealed = (await app.knex('upstream_providers').where({ id }).first())
        .client_secret_sealed;
      const file = join(dir, 'gov-cli.json');

      // No client_secret in the file: the stored one stays.
      writeFileSync(
        file,
        JSON.stringify({
          ...settings,
          match: ['name', 'birthdate'],
          display_name: { ko: '정부 로그인 2', en: 'Gov sign-in 2' },
        }),
      );
      const updated = await cli('upstreams', 'update', '--id', id, '--file', file);
      expect(updated.code, updated.stderr).toBe(0);
      expect(updated.stdout).toContain(`Upstream ${id} updated`);
      const row = await app.knex('upstream_providers').where({ id }).first();
      expect(row).toMatchObject({
        display_name_en: 'Gov sign-in 2',
        client_secret_sealed: sealed,
        status: 'disabled',
      });
      expect(row.match_rule).toEqual(['name', 'birthdate']);

      // A bad file: refused with the field named, nothing changed.
      writeFileSync(
        file,
        JSON.stringify({ ...settings, acr: 'urn:one-id:loa:low', match: ['name', 'birthdate'] }),
      );
      const bad = await cli('upstreams', 'update', '--id', id, '--file', file);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/match: needs acr urn:one-id:loa:substantial/);
      expect((await app.knex('upstream_providers').where({ id }).first()).acr).toBe(
        'urn:one-id:loa:substantial',
      );

      const enabled = await cli('upstreams', 'enable', '--id', id);
      expect(enabled.code, enabled.stderr).toBe(0);
      expect(enabled.stdout).toContain(`${id} enabled.`);
      expect(upstreamButton(await loginHtml(), id)).toBeTruthy();
      expect(
        await app
          .knex('audit_events')
          .where({ subject: `upstream:${id}`, actor: cliOperator })
          .orderBy('id')
          .select('action', 'details'),
      ).toEqual([
        {
          action: 'federation.upstream.updated',
          details: expect.objectContaining({
            via: 'cli',
            secretChanged: false,
            after: expect.objectContaining({
              displayName: { ko: '정부 로그인 2', en: 'Gov sign-in 2' },
            }),
          }),
        },
        {
          action: 'federation.upstream.enabled',
          details: { via: 'cli', before: { status: 'disabled' }, after: { status: 'active' } },
        },
      ]);
      const audited = await app.knex('audit_events').where({ subject: `upstream:${id}` });
      expect(JSON.stringify(audited)).not.toContain('gov-cli-secret');
    },
    CLI_TEST_TIMEOUT,
  );
});
