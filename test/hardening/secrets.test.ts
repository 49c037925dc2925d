// Secrets at rest under a rotated KEY_ENCRYPTION_KEYS: `npm run cli -- secrets reseal` (a real
// process, beside a running server) re-seals every `*_sealed` value with the first key, in one
// audited transaction; afterwards One-ID runs with the new key alone. It never touches the run's
// shared database: the test has one of its own (a PostgreSQL or PGlite copy of the template).
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSecretBox } from '../../src/shared/index.ts';
import { resealAll } from '../../src/store/index.ts';
import { ownDatabaseUrl, startTestApp, type TestApp } from '../support/app.ts';
import { cliOperator, cliProcess } from '../support/cli.ts';
import { registerClient } from '../support/flows.ts';

const OLD = randomBytes(32).toString('base64url');
const NEW = randomBytes(32).toString('base64url');
const keyId = (sealed: string) => sealed.split('.')[1];

let dataDir: string;
let ownDatabase: string | undefined;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'oneid-reseal-'));
  ownDatabase = await ownDatabaseUrl();
  if (!ownDatabase) {
    cpSync(join(inject('pgliteTemplate')!, 'pglite'), join(dataDir, 'pglite'), { recursive: true });
  }
});
afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true });
});

const start = (keys: string[]) =>
  startTestApp(
    { KEY_ENCRYPTION_KEYS: keys.join(','), ...(ownDatabase && { DATABASE_URL: ownDatabase }) },
    { dataDir },
  );

const cli = (keys: string[], args: string[]) => {
  const secrets = inject('secrets');
  return cliProcess(
    {
      DATA_DIR: dataDir,
      DATABASE_URL: ownDatabase ?? '',
      REDIS_URL: '',
      KEY_ENCRYPTION_KEYS: keys.join(','),
      COOKIE_KEYS: secrets.cookieKey,
      AUDIT_KEYS: secrets.auditKey,
      PAIRWISE_SALT: secrets.pairwiseSalt,
    },
    args,
  );
};

const sealedValues = async (app: TestApp) => {
  const keys = (await app.knex('signing_keys').select('private_jwk_sealed')).map((r) =>
    String(r.private_jwk_sealed),
  );
  const secrets = (
    await app.knex('clients').select('secret_sealed', 'previous_secret_sealed')
  ).flatMap((r) => [r.secret_sealed, r.previous_secret_sealed].filter(Boolean).map(String));
  return [...keys, ...secrets];
};

const clientCredentials = (app: TestApp, clientId: string, secret: string) =>
  fetch(`${app.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });

describe('KEY_ENCRYPTION_KEYS rotation', () => {
  it(
    're-seals every secret with the new key; then One-ID works with the new key alone',
    { timeout: 90_000 },
    async () => {
      // Before: everything sealed with the old key, including a rotated secret's previous value.
      let app = await start([OLD]);
      let client: Awaited<ReturnType<typeof registerClient>>;
      let previous: string;
      let current: string;
      try {
        client = await registerClient(app, {
          grant_types: ['authorization_code', 'client_credentials'],
        });
        previous = client.clientSecret!;
        current = (
          await app.services.clients.rotateSecret(client.clientId, 'test', { graceSeconds: 3600 })
        ).clientSecret;
        const before = await sealedValues(app);
        expect(before.length).toBeGreaterThanOrEqual(4);
        expect(new Set(before.map(keyId)).size).toBe(1);
      } finally {
        await app.stop();
      }

      // Step 2 of docs/security.md: instances run with [new, old]; the operator reseals beside them.
      app = await start([NEW, OLD]);
      try {
        const resealed = await cli([NEW, OLD], ['secrets', 'reseal']);
        expect(resealed.code, resealed.stderr).toBe(0);
        expect(resealed.stdout).toMatch(/signing_keys\.private_jwk_sealed/);
        expect(resealed.stdout).toMatch(/clients\.secret_sealed/);
        expect(resealed.stdout).toMatch(/clients\.previous_secret_sealed/);
        for (const secret of [previous, current, OLD, NEW])
          expect(resealed.stdout.includes(secret)).toBe(false);
        const after = await sealedValues(app);
        const onlyNew = createSecretBox([Buffer.from(NEW, 'base64url')]);
        const onlyOld = createSecretBox([Buffer.from(OLD, 'base64url')]);
        for (const sealed of after) {
          expect(onlyNew.needsReseal(sealed)).toBe(false);
          expect(() => onlyOld.open(sealed)).toThrow();
        }
        // Audited, and the audit chain stays whole.
        const audited = await app
          .knex('audit_events')
          .where({ action: 'secrets.resealed', actor: cliOperator })
          .select('details');
        expect(audited).toHaveLength(1);
        expect(audited[0]!.details.columns).toContainEqual({
          column: 'clients.secret_sealed',
          rows: 1,
          resealed: 1,
        });
        expect(await app.services.audit.verify()).toMatchObject({ ok: true });
        // Running it again (the same function, in this process) finds nothing left to do.
        const again = await resealAll(
          app.knex,
          createSecretBox([NEW, OLD].map((k) => Buffer.from(k, 'base64url'))),
        );
        expect(again.reduce((n, c) => n + c.resealed, 0)).toBe(0);
        // The running server (holding both keys) keeps working meanwhile.
        expect((await clientCredentials(app, client.clientId, current)).status).toBe(200);
      } finally {
        await app.stop();
      }

      // Step 3: the old key is dropped. Signing keys open (the engine starts), client secrets open.
      app = await start([NEW]);
      try {
        expect((await fetch(`${app.issuer}/jwks`)).status).toBe(200);
        const token = await clientCredentials(app, client.clientId, current);
        expect(token.status, await token.clone().text()).toBe(200);
        expect(await token.json()).toHaveProperty('access_token');
        expect(await app.services.clients.matchesPreviousSecret(client.clientId, previous)).toBe(
          true,
        );
        expect((await clientCredentials(app, client.clientId, 'not-the-secret')).status).toBe(401);
      } finally {
        await app.stop();
      }
    },
  );

  it('refuses, changing nothing, when a value was sealed with a key it does not have', async () => {
    const stranger = randomBytes(32).toString('base64url');
    const app = await start([NEW]);
    try {
      const { clientId } = await registerClient(app);
      const box = createSecretBox([Buffer.from(stranger, 'base64url')]);
      await app
        .knex('clients')
        .where({ client_id: clientId })
        .update({ secret_sealed: box.seal('x'.repeat(40)) });
      const before = await sealedValues(app);
      // What `secrets reseal` runs, with the old key first: values of other columns would move first, then roll back.
      await expect(
        resealAll(app.knex, createSecretBox([OLD, NEW].map((k) => Buffer.from(k, 'base64url')))),
      ).rejects.toThrow(
        new RegExp(
          `clients\\.secret_sealed \\(client_id=${clientId}\\) was sealed with a key not in KEY_ENCRYPTION_KEYS; nothing was changed`,
        ),
      );
      expect(await sealedValues(app)).toEqual(before);
      await app.knex('clients').where({ client_id: clientId }).delete();
    } finally {
      await app.stop();
    }
  });
});
