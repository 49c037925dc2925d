// A revoked signing key leaves the JWKS of every instance at once, not at their 30 s key poll:
// the revocation is announced on the change feed (Redis pub/sub) and each instance rebuilds its
// engine, dropping the JWKS copy it kept (src/http/middleware/engine-cache.ts).
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { onPostgres, startTestApp, type TestApp } from '../support/app.ts';
import { cliEnv, cliProcess } from '../support/cli.ts';
import { instanceJwks } from '../support/instance-jwks.ts';

const shared = onPostgres() && Boolean(inject('redisUrl'));

let first: TestApp;
let second: TestApp;

/** The instance's JWKS, straight to its port, naming the shared issuer's host as a balancer does. */
const jwksOf = (instance: TestApp) => instanceJwks(instance, first.issuer);
const kidsOf = async (instance: TestApp) => (await jwksOf(instance)).keys.map((k) => k.kid);

describe.skipIf(!shared)(
  'keys revoke on two instances sharing PostgreSQL and Redis (runs only with DATABASE_URL and REDIS_URL)',
  () => {
    beforeAll(async () => {
      // Both keep the default 30 s key poll: only the announcement can be faster.
      first = await startTestApp();
      second = await startTestApp({
        ISSUER: first.issuer,
        DATABASE_URL: first.config.databaseUrl!,
      });
    });
    afterAll(async () => {
      await second?.stop();
      await first?.stop();
    });

    it('drops the revoked key from both instances at once, and both publish its replacement', async () => {
      const signing = (await first.services.signingKeys.list()).find(
        (k) => k.status === 'active' && k.alg === 'ES256',
      )!;
      // Both have answered the JWKS (and keep that answer) before the revocation.
      for (const instance of [first, second]) expect(await kidsOf(instance)).toContain(signing.kid);

      const revoked = await cliProcess({ ...cliEnv(first), REDIS_URL: inject('redisUrl')! }, [
        'keys',
        'revoke',
        signing.kid,
      ]);
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toMatch(/Running servers were told/);
      const replacement = /New ES256 signing key: (\S+)/.exec(revoked.stdout)![1]!;

      for (const instance of [first, second])
        await vi.waitFor(
          async () => {
            const kids = await kidsOf(instance);
            expect(kids).not.toContain(signing.kid);
            expect(kids).toContain(replacement);
          },
          { timeout: 3000, interval: 50 },
        );
    });
  },
);
