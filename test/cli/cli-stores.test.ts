// The CLI opens One-ID's stores as the servers do (openStores, src/store/store-module.ts), so
// nothing it writes can land under keys the servers never read: a client change made by a real
// CLI process renews the token a running server reads from its own shared key-value store (Redis:
// the prefix and the keyed hash of its keys); and its stores differ only as a one-off command's
// do: a change feed that only publishes, even when the CLI owns the embedded database. (That
// the CLI's feed reaches a server is checked by test/cli/admin-commands.test.ts: a client the
// CLI disables is refused at once.)
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/shared/index.ts';
import { openStores } from '../../src/store/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { cliEnv, cliProcess } from '../support/cli.ts';
import { registerClient } from '../support/flows.ts';

/** The client cache's token in the shared store (src/clients/client-cache.ts). */
const CLIENTS_TOKEN = 'stamp:clients';

describe.runIf(inject('redisUrl'))('the CLI and a server share the Redis key layout', () => {
  let app: TestApp;
  beforeAll(async () => {
    // A prefix of its own rather than the one derived from ISSUER: the CLI must use the setting.
    app = await startTestApp({ REDIS_KEY_PREFIX: `oneid-cli-stores-${process.pid}:` });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('a client the CLI disables renews the token the server reads from its stores', async () => {
    const client = await registerClient(app);
    const before = await app.kv.get(CLIENTS_TOKEN);
    const disabled = await cliProcess(
      { ...cliEnv(app), REDIS_URL: app.env.REDIS_URL, REDIS_KEY_PREFIX: app.env.REDIS_KEY_PREFIX },
      ['clients', 'disable', '--client', client.clientId],
    );
    expect([disabled.code, disabled.stderr]).toEqual([0, '']);
    const after = await app.kv.get(CLIENTS_TOKEN);
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
  });
});

describe('the stores of a one-off command (subscribe: false)', () => {
  let dataDir: string;
  const redisUrl = inject('redisUrl');
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'oneid-cli-stores-'));
    const template = inject('pgliteTemplate');
    if (template) cpSync(join(template, 'pglite'), join(dataDir, 'pglite'), { recursive: true });
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The embedded database under dataDir, owned (no server runs there); the run's Redis if any. */
  const config = () => {
    const secrets = inject('secrets');
    return loadConfig({
      ISSUER: 'http://localhost:3999',
      DATA_DIR: dataDir,
      COOKIE_KEYS: secrets.cookieKey,
      KEY_ENCRYPTION_KEYS: secrets.keyEncryptionKey,
      AUDIT_KEYS: secrets.auditKey,
      PAIRWISE_SALT: secrets.pairwiseSalt,
      ...(redisUrl && { REDIS_URL: redisUrl }),
    });
  };
  const live = async (feed: { live: () => boolean } | undefined) => {
    // A Redis subscription is live once Redis confirms it.
    for (let i = 0; i < 40 && !feed?.live(); i += 1)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return Boolean(feed?.live());
  };

  it('has a feed that publishes but never listens; a server’s feed listens', async () => {
    const log = createLogger('silent');
    const cli = await openStores(config(), log, { poolMax: 4, patient: true, subscribe: false });
    try {
      expect(cli.feed).toBeDefined();
      await cli.feed!.publish('clients');
      expect(await live(cli.feed)).toBe(false);
      expect(cli.sharedKv === undefined).toBe(!redisUrl);
    } finally {
      await cli.close();
    }
    const server = await openStores(config(), log);
    try {
      expect(await live(server.feed)).toBe(true);
    } finally {
      await server.close();
    }
  });
});
