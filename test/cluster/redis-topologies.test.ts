// Redis Sentinel and Redis Cluster, for real: this test starts a sentinel watching the run's
// Redis, and a three-node Redis Cluster, with the machine's redis-server, then runs sign-ins
// through an app configured with REDIS_SENTINELS or REDIS_CLUSTER_NODES.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { connectRedis } from '../../src/store/index.ts';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';

const redisUrl = inject('redisUrl');
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

const processes: ChildProcess[] = [];
let dir: string;

const startRedis = (args: string[]) => {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  processes.push(child);
  return child;
};

/** Waits until a Redis (or sentinel) on `port` answers PING. */
const answering = async (port: number) => {
  const probe = connectRedis(`redis://127.0.0.1:${port}`);
  try {
    await vi.waitFor(async () => expect(await probe.ping()).toBe('PONG'), {
      timeout: 5000,
      interval: 50,
    });
  } finally {
    probe.disconnect();
  }
};

/** Sign-in, code, refresh (rotation) and revocation: every kind of record the adapter keeps. */
const fullFlow = async (app: TestApp) => {
  const { authenticator } = await enrolCitizen(app);
  const client = await registerClient(app);
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri);
  const callback = await signIn(app, createBrowserSession(), authenticator, request.url);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  await oidc.tokenRevocation(config, refreshed.refresh_token!);
  await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({
    error: 'invalid_grant',
  });
  expect((await oidc.tokenIntrospection(config, refreshed.access_token)).active).toBe(false);
  const ready = await fetch(`${app.issuer}/readyz`);
  expect(await ready.json()).toMatchObject({ status: 'ready', checks: { redis: 'ok' } });
};

describe.skipIf(!redisUrl || !hasRedisServer)(
  'Redis Sentinel and Redis Cluster (runs only with REDIS_URL and redis-server installed)',
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'oneid-redis-'));
    });
    afterAll(() => {
      for (const child of processes) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('finds the master through the sentinels (REDIS_SENTINELS + REDIS_SENTINEL_NAME)', async () => {
      const master = new URL(redisUrl!);
      const port = await freePort();
      const conf = join(dir, 'sentinel.conf');
      // A sentinel rewrites its own configuration file, so it needs one of its own.
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor oneid-test ${master.hostname} ${master.port || 6379} 1`,
          'sentinel down-after-milliseconds oneid-test 60000',
          '',
        ].join('\n'),
      );
      startRedis([conf, '--sentinel']);
      await answering(port);

      const app = await startTestApp({
        REDIS_URL: '',
        REDIS_SENTINELS: `127.0.0.1:${port}`,
        REDIS_SENTINEL_NAME: 'oneid-test',
      });
      try {
        expect(app.config.redis).toMatchObject({ mode: 'sentinel', name: 'oneid-test' });
        await fullFlow(app);
      } finally {
        await app.stop();
      }
    });

    it('shards sessions and tokens across a three-node cluster (REDIS_CLUSTER_NODES)', async () => {
      const nodes = await Promise.all(
        [0, 1, 2].map(async () => ({ port: await freePort(), bus: await freePort() })),
      );
      for (const { port, bus } of nodes) {
        startRedis([
          '--port',
          String(port),
          '--cluster-port',
          String(bus),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ]);
      }
      await Promise.all(nodes.map(({ port }) => answering(port)));
      const created = spawnSync(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...nodes.map(({ port }) => `127.0.0.1:${port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { encoding: 'utf8', timeout: 20_000 },
      );
      expect(created.status, created.stdout + created.stderr).toBe(0);
      const probe = connectRedis(`redis://127.0.0.1:${nodes[0]!.port}`);
      try {
        await vi.waitFor(
          async () => expect(await probe.call('CLUSTER', 'INFO')).toContain('cluster_state:ok'),
          { timeout: 10_000, interval: 100 },
        );
      } finally {
        probe.disconnect();
      }

      // One seed node is enough: the client discovers the others.
      const app = await startTestApp({
        REDIS_URL: '',
        REDIS_CLUSTER_NODES: `127.0.0.1:${nodes[0]!.port}`,
      });
      try {
        expect(app.config.redis).toMatchObject({ mode: 'cluster' });
        await fullFlow(app);
      } finally {
        await app.stop();
      }
    });
  },
);
