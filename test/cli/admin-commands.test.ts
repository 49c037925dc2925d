// The administration commands of `npm run cli` as an operator runs them, beside a running server:
// `clients rotate-secret|disable|enable`, `admins revoke`, `agencies list`, `dcr issue-token`.
// Each is checked by its effect on the server (the token endpoint's client authentication, the
// administrator's roles, a registration at /reg) and by its audit record; bad arguments get one
// readable line and a non-zero exit.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { cliOperator, runCli } from '../support/cli.ts';
import { registerClient } from '../support/flows.ts';

let app: TestApp;
let tokenEndpoint: string;

beforeAll(async () => {
  app = await startTestApp({ DCR_ENABLED: 'true' });
  tokenEndpoint = (
    (await (await fetch(`${app.issuer}/.well-known/openid-configuration`)).json()) as {
      token_endpoint: string;
    }
  ).token_endpoint;
});
afterAll(async () => {
  await app?.stop();
});

const cli = (...args: string[]) => runCli(app, ...args);

/**
 * A token request with client_secret_basic and a made-up code: the engine authenticates the
 * client first, so `invalid_grant` means the client and secret were accepted, `invalid_client`
 * that they were not.
 */
const tokenError = async (clientId: string, secret: string, redirectUri: string) => {
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: randomBytes(16).toString('base64url'),
      redirect_uri: redirectUri,
      code_verifier: randomBytes(32).toString('base64url'),
    }),
  });
  return ((await res.json()) as { error: string }).error;
};

const auditOf = (action: string, subject: string) =>
  app
    .knex('audit_events')
    .where({ action, subject })
    .orderBy('id', 'desc')
    .first('actor', 'details');

/** One readable line on stderr: no stack trace. */
const oneLine = (stderr: string) => {
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
};

describe('clients rotate-secret, disable, enable', () => {
  it(
    'prints a new secret that works while the previous one keeps working for the grace period, audited',
    { timeout: 120_000 },
    async () => {
      const client = await registerClient(app);
      expect(await tokenError(client.clientId, client.clientSecret!, client.redirectUri)).toBe(
        'invalid_grant',
      );
      const rotated = await cli('clients', 'rotate-secret', '--client', client.clientId);
      expect(rotated.code, rotated.stderr).toBe(0);
      const secret = /^client_secret: ([\w-]{43})$/m.exec(rotated.stdout)?.[1];
      expect(secret).toBeDefined();
      expect(secret).not.toBe(client.clientSecret);
      const until = /The previous secret works until (\S+)\.$/m.exec(rotated.stdout)![1]!;
      // CLIENT_SECRET_GRACE_SECONDS: one day by default.
      expect(Math.abs(new Date(until).getTime() - (Date.now() + 86_400_000))).toBeLessThan(120_000);
      expect(await tokenError(client.clientId, secret!, client.redirectUri)).toBe('invalid_grant');
      expect(await tokenError(client.clientId, client.clientSecret!, client.redirectUri)).toBe(
        'invalid_grant',
      );
      expect(
        await tokenError(
          client.clientId,
          randomBytes(32).toString('base64url'),
          client.redirectUri,
        ),
      ).toBe('invalid_client');
      expect(await auditOf('clients.secret.rotated', `client:${client.clientId}`)).toMatchObject({
        actor: cliOperator,
        details: { via: 'cli', agency: 'Test Agency', previousValidUntil: until },
      });
    },
  );

  it(
    'disables a client at once (its token requests fail with invalid_client) and enables it again, audited',
    { timeout: 120_000 },
    async () => {
      const client = await registerClient(app);
      const disabled = await cli('clients', 'disable', '--client', client.clientId);
      expect([disabled.code, disabled.stdout]).toEqual([0, `${client.clientId} is disabled.\n`]);
      expect(await tokenError(client.clientId, client.clientSecret!, client.redirectUri)).toBe(
        'invalid_client',
      );
      expect(await auditOf('clients.disabled', `client:${client.clientId}`)).toMatchObject({
        actor: cliOperator,
        details: { via: 'cli', before: { status: 'active' }, after: { status: 'disabled' } },
      });
      const enabled = await cli('clients', 'enable', '--client', client.clientId);
      expect([enabled.code, enabled.stdout]).toEqual([0, `${client.clientId} is active.\n`]);
      expect(await tokenError(client.clientId, client.clientSecret!, client.redirectUri)).toBe(
        'invalid_grant',
      );
      expect(await auditOf('clients.enabled', `client:${client.clientId}`)).toMatchObject({
        actor: cliOperator,
        details: { via: 'cli', before: { status: 'disabled' }, after: { status: 'active' } },
      });
    },
  );
});

describe('admins revoke', () => {
  it(
    'revokes a role: the account is no administrator at its next request; audited; a second revoke says so',
    { timeout: 120_000 },
    async () => {
      const { account } = await app.services.accounts.enrolCitizen(
        { name: '김관리', birthdate: '1979-09-09' },
        'test',
      );
      await app.services.admin.admins.grant(cliPrincipal(), {
        accountId: account.id,
        role: 'auditor',
        agency: null,
      });
      expect(
        await app.services.admin.admins.principalFor(account.id, { via: 'console' }),
      ).toBeDefined();
      const revoked = await cli('admins', 'revoke', '--account', account.id, '--role', 'auditor');
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(revoked.stdout).toMatch(/^Role revoked/);
      expect(
        await app.services.admin.admins.principalFor(account.id, { via: 'console' }),
      ).toBeUndefined();
      expect(await app.knex('admin_roles').where({ account_id: account.id })).toEqual([]);
      expect(await auditOf('admin.role.revoked', `account:${account.id}`)).toMatchObject({
        actor: cliOperator,
        details: { role: 'auditor', via: 'cli' },
      });
      const again = await cli('admins', 'revoke', '--account', account.id, '--role', 'auditor');
      expect([again.code, again.stdout]).toEqual([0, 'The account did not hold that role.\n']);
    },
  );
});

describe('agencies list and dcr issue-token', () => {
  it(
    'lists the agencies, and issues an initial access token that registers a system in that agency, audited',
    { timeout: 120_000 },
    async () => {
      await app.services.admin.admins.putAgency(cliPrincipal(), {
        name: '행정안전부',
        name_en: 'Ministry of the Interior and Safety',
        contact: 'it@mois.go.kr',
      });
      const listed = await cli('agencies', 'list');
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(/^AGENCY\s+NAME_EN\s+CONTACT$/m);
      expect(listed.stdout).toMatch(
        /^행정안전부\s+Ministry of the Interior and Safety\s+it@mois\.go\.kr$/m,
      );

      const issued = await cli('dcr', 'issue-token', '--agency', '행정안전부', '--days', '2');
      expect(issued.code, issued.stderr).toBe(0);
      const [, id, until] =
        /^Initial access token for 행정안전부 \(id (\S+), valid until (\S+)\):$/m.exec(
          issued.stdout,
        )!;
      expect(Math.abs(new Date(until!).getTime() - (Date.now() + 2 * 86_400_000))).toBeLessThan(
        120_000,
      );
      const token = /^ {2}(\S+)$/m.exec(issued.stdout)![1]!;
      const registered = await fetch(`${app.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          client_name: '자동 등록',
          redirect_uris: ['http://localhost:4781/cb'],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code'],
        }),
      });
      expect(registered.status).toBe(201);
      const { client_id: clientId } = (await registered.json()) as { client_id: string };
      expect((await app.services.clients.find(clientId))?.agency).toBe('행정안전부');
      expect(await auditOf('dcr.token.issued', `dcr-token:${id}`)).toMatchObject({
        actor: cliOperator,
        details: { agency: '행정안전부', via: 'cli', expiresAt: until },
      });
      // Only the token's hash is kept.
      expect(JSON.stringify(await app.knex('dcr_tokens').where({ id }))).not.toContain(token);
    },
  );
});

describe('bad arguments', () => {
  it(
    'get one clear line and a non-zero exit, never a stack trace',
    { timeout: 120_000 },
    async () => {
      const { account } = await app.services.accounts.enrolCitizen(
        { name: '이관리', birthdate: '1980-10-10' },
        'test',
      );
      const publicClient = await registerClient(app, { token_endpoint_auth_method: 'none' });
      const cases: [string[], number, RegExp][] = [
        [['clients', 'disable'], 2, /^Error: --client is required$/],
        [
          ['clients', 'enable', '--client', 'no-such-client'],
          1,
          /^Error: client no-such-client does not exist$/,
        ],
        [
          ['clients', 'rotate-secret', '--client', publicClient.clientId],
          1,
          /^Error: token_endpoint_auth_method: .* authenticates without a shared secret; there is nothing to rotate$/,
        ],
        [
          ['admins', 'revoke', '--account', account.id, '--role', 'chief'],
          1,
          /^Error: role: must be one of platform, agency, auditor$/,
        ],
        [
          ['agencies', 'list', '--limit', 'many'],
          1,
          /^Error: limit: must be a whole number from 1 to 200$/,
        ],
        [
          ['dcr', 'issue-token', '--agency', 'Test Agency', '--days', '0'],
          1,
          /^Error: days: must be a whole number from 1 to 365$/,
        ],
      ];
      // A few at a time: each is a process of its own.
      for (let i = 0; i < cases.length; i += 3) {
        const results = await Promise.all(cases.slice(i, i + 3).map(([args]) => cli(...args)));
        results.forEach((r, j) => {
          const [args, code, message] = cases[i + j]!;
          expect([args.join(' '), r.code], r.stderr).toEqual([args.join(' '), code]);
          expect(r.stderr.trimEnd()).toMatch(message);
          if (code === 1) oneLine(r.stderr);
        });
      }
      expect(await app.knex('dcr_tokens').where({ agency: 'Test Agency' })).toEqual([]);
    },
  );
});
