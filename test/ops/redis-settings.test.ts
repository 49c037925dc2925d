// Redis topologies in the configuration: one of REDIS_URL, REDIS_SENTINELS (+ name) or
// REDIS_CLUSTER_NODES; every mistake is named. test/cluster/redis-topologies.test.ts connects for real.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  return '';
};

const production = {
  NODE_ENV: 'production',
  ISSUER: 'https://id.example.go.kr',
  DATABASE_URL: 'postgres://db.internal/oneid',
  COOKIE_KEYS: 'c'.repeat(32),
  KEY_ENCRYPTION_KEYS: Buffer.alloc(32, 7).toString('base64url'),
  AUDIT_KEYS: Buffer.alloc(32, 9).toString('base64url'),
  PAIRWISE_SALT: 's'.repeat(32),
};

describe('Redis settings', () => {
  it('reads a standalone URL, a Sentinel set or Cluster seed nodes', () => {
    expect(loadConfig({}).redis).toBeUndefined();
    expect(loadConfig({ REDIS_URL: 'rediss://:pw@redis.internal:6380/2' }).redis).toEqual({
      mode: 'standalone',
      url: 'rediss://:pw@redis.internal:6380/2',
    });
    expect(
      loadConfig({
        REDIS_SENTINELS: 'sentinel-a:26379, 10.0.0.2:26379,[fd00::3]:26379',
        REDIS_SENTINEL_NAME: 'oneid',
        REDIS_PASSWORD: 'pw',
        REDIS_SENTINEL_PASSWORD: 'spw',
        REDIS_TLS: 'true',
      }).redis,
    ).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 'sentinel-a', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
        { host: 'fd00::3', port: 26379 },
      ],
      name: 'oneid',
      username: undefined,
      password: 'pw',
      sentinelPassword: 'spw',
      tls: true,
    });
    expect(
      loadConfig({
        REDIS_CLUSTER_NODES: 'redis-1:6379,redis-2:6379',
        REDIS_USERNAME: 'oneid',
        REDIS_PASSWORD: 'pw',
      }).redis,
    ).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'redis-1', port: 6379 },
        { host: 'redis-2', port: 6379 },
      ],
      username: 'oneid',
      password: 'pw',
      tls: false,
    });
  });

  it('names every mistake', () => {
    expect(problemsOf({ REDIS_SENTINELS: 'sentinel-a:26379' })).toMatch(
      /REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS/,
    );
    expect(problemsOf({ REDIS_SENTINEL_NAME: 'oneid' })).toMatch(
      /REDIS_SENTINEL_NAME: needs REDIS_SENTINELS/,
    );
    expect(problemsOf({ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r:6379' })).toMatch(
      /REDIS_URL, REDIS_CLUSTER_NODES: set only one of them/,
    );
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'redis-1' })).toMatch(
      /REDIS_CLUSTER_NODES: each entry must be host:port/,
    );
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'redis-1:70000' })).toMatch(
      /REDIS_CLUSTER_NODES: each entry must be host:port/,
    );
    expect(problemsOf({ REDIS_SENTINELS: ' , ', REDIS_SENTINEL_NAME: 'x' })).toMatch(
      /REDIS_SENTINELS: must list at least one host:port/,
    );
    expect(
      problemsOf({ REDIS_URL: 'redis://r:6379', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' }),
    ).toMatch(/REDIS_PASSWORD: applies to[\s\S]*REDIS_TLS: applies to/);
    expect(problemsOf({ REDIS_TLS: 'yes' })).toMatch(/REDIS_TLS: must be true or false/);
  });

  it('lets production use any of the three, and requires one', () => {
    expect(problemsOf(production)).toMatch(
      /REDIS_URL: is required when NODE_ENV=production \(or REDIS_SENTINELS, or REDIS_CLUSTER_NODES\)/,
    );
    expect(
      problemsOf({ ...production, REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'oneid' }),
    ).toBe('');
    expect(problemsOf({ ...production, REDIS_CLUSTER_NODES: 'r:6379' })).toBe('');
  });
});
