// `npm run cli -- seed accounts` as an operator (or the bench) runs it, beside a running server:
// synthetic citizens with a passkey and a remembered consent each (COPY on PostgreSQL, multi-row
// INSERTs on the embedded PGlite). A seeded citizen really signs in with the passkey the seed
// label derives, and goes straight to the client (the seeded consent); the command is refused
// under NODE_ENV=production before any database is opened.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { seededAccount, seedKeyPair, SEED_KEY_POOL } from '../../src/cli/seed-accounts.ts';
import { onPostgres, startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { cliProcess, runCli } from '../support/cli.ts';
import {
  authorizationRequest,
  discover,
  registerClient,
  signInDetailed,
} from '../support/flows.ts';
import { createSoftAuthenticator } from '../support/soft-authenticator.ts';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.stop();
});

const COUNT = 6;
const seed = `t${randomBytes(4).toString('hex')}`;
const FAMILY = ['김', '이', '박', '최', '정', '강', '조', '윤', '장', '임'];
const GIVEN = ['민준', '서연', '도윤', '하은', '시우', '지우', '주원', '서윤', '예준', '지민'];

describe('seed accounts (CLI)', () => {
  let client: Awaited<ReturnType<typeof registerClient>>;

  it(
    'seeds accounts with passkeys and consents that the server accepts: a seeded citizen signs in without a consent page',
    { timeout: 120_000 },
    async () => {
      client = await registerClient(app);
      const result = await runCli(
        app,
        'seed',
        'accounts',
        '--count',
        String(COUNT),
        '--with-passkeys',
        '--with-consents',
        '--client',
        client.clientId,
        '--seed',
        seed,
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(
        new RegExp(
          `^Seeded ${COUNT} account\\(s\\) #0\\.\\.#${COUNT - 1} \\(seed "${seed}", with passkeys, with consents for ${client.clientId}\\) in [\\d.]+ s: \\d+ accounts/s\\.\\n$`,
        ),
      );
      // The progress line on stderr ends at the total.
      expect(result.stderr).toMatch(new RegExp(`${COUNT} / ${COUNT} accounts`));

      const ids = Array.from({ length: COUNT }, (_, i) => seededAccount(seed, i).accountId);
      const accounts = await app
        .knex('accounts')
        .whereIn('id', ids)
        .select('id', 'name', 'email', 'status');
      expect(accounts).toHaveLength(COUNT);
      expect(
        Number(
          (await app
            .knex('passkey_credentials')
            .whereIn('account_id', ids)
            .count('* as n')
            .first())!.n,
        ),
      ).toBe(COUNT);
      expect(
        Number(
          (await app
            .knex('consents')
            .whereIn('account_id', ids)
            .where({ client_id: client.clientId })
            .count('* as n')
            .first())!.n,
        ),
      ).toBe(COUNT);

      // Seeded citizen #3 signs in with the passkey derived from the seed label (as the bench does).
      const index = 3;
      const who = seededAccount(seed, index);
      const key = createSoftAuthenticator({ origin: app.issuer, synced: true });
      key.credentials.push({
        id: Buffer.from(who.credentialId, 'base64url'),
        key: seedKeyPair(seed, index % SEED_KEY_POOL).privateKey,
        userHandle: who.webauthnUserId,
        counter: 0,
        rpId: new URL(app.issuer).hostname,
      });
      const config = await discover(app, client);
      const request = await authorizationRequest(config, client.redirectUri);
      const { callback, signedIn, consentPages } = await signInDetailed(
        app,
        createBrowserSession(),
        key,
        request.url,
      );
      expect(signedIn).toBe(true);
      expect(consentPages).toEqual([]);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
      });
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
      expect(userinfo).toMatchObject({
        name: `${FAMILY[index % 10]}${GIVEN[Math.floor(index / 10) % 10]}`,
        email: who.email,
      });
      const [verified] = await app
        .knex('audit_events')
        .where({ action: 'auth.passkey.verified' })
        .orderBy('id', 'desc')
        .limit(1);
      expect(verified.actor).toBe(`account:${who.accountId}`);
    },
  );

  it(
    'on a range already seeded: nothing doubled (PGlite skips it; PostgreSQL COPY refuses it with a clear message)',
    { timeout: 120_000 },
    async () => {
      const again = await runCli(
        app,
        'seed',
        'accounts',
        '--count',
        String(COUNT),
        '--with-passkeys',
        '--seed',
        seed,
      );
      const ids = Array.from({ length: COUNT }, (_, i) => seededAccount(seed, i).accountId);
      if (onPostgres()) {
        expect(again.code).toBe(1);
        expect(again.stderr).toMatch(
          /^Error: seed ".+": accounts #0\.\.#5 overlap accounts seeded before/,
        );
        expect(again.stderr).not.toMatch(/^\s+at /m);
      } else {
        expect(again.code, again.stderr).toBe(0);
      }
      expect(
        Number((await app.knex('accounts').whereIn('id', ids).count('* as n').first())!.n),
      ).toBe(COUNT);
      expect(
        Number(
          (await app
            .knex('passkey_credentials')
            .whereIn('account_id', ids)
            .count('* as n')
            .first())!.n,
        ),
      ).toBe(COUNT);
    },
  );

  it(
    'is refused under NODE_ENV=production, before any database is opened, and bad arguments are named',
    { timeout: 120_000 },
    async () => {
      const secrets = inject('secrets');
      const production = {
        NODE_ENV: 'production',
        ISSUER: 'https://id.example.go.kr',
        // Nothing listens here: the refusal must come before any connection is tried.
        DATABASE_URL: 'postgres://oneid@127.0.0.1:9/oneid',
        REDIS_URL: 'redis://127.0.0.1:9',
        DATA_DIR: app.config.dataDir,
        COOKIE_KEYS: secrets.cookieKey,
        KEY_ENCRYPTION_KEYS: secrets.keyEncryptionKey,
        AUDIT_KEYS: secrets.auditKey,
        PAIRWISE_SALT: secrets.pairwiseSalt,
      };
      const [refused, noCount, noClient] = await Promise.all([
        cliProcess(production, ['seed', 'accounts', '--count', '10', '--with-passkeys'], 20_000),
        runCli(app, 'seed', 'accounts', '--count', '1.5'),
        runCli(app, 'seed', 'accounts', '--count', '2', '--with-consents'),
      ]);
      expect([refused.code, refused.stderr]).toEqual([
        2,
        'Error: seed accounts writes synthetic citizens with derivable passkeys: refused when NODE_ENV=production\n',
      ]);
      expect([noCount.code, noCount.stderr]).toEqual([
        2,
        'Error: --count must be a positive whole number\n',
      ]);
      expect([noClient.code, noClient.stderr]).toEqual([
        2,
        'Error: --with-consents needs --client CLIENT_ID (the client the consents are for)\n',
      ]);
    },
  );
});
