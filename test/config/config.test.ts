import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, ConfigError, loadConfig } from '../../src/config/index.ts';

describe('configuration', () => {
  it('defaults to the embedded provider on localhost:3000', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      issuer: 'http://localhost:3000',
      dataDir: './data',
      databaseUrl: undefined,
      redisUrl: undefined,
    });
  });

  it('names every bad value at once', () => {
    const bad = () =>
      loadConfig({
        ISSUER: 'not a url',
        PORT: '99999',
        DATABASE_URL: 'mysql://x',
        KEY_ENCRYPTION_KEYS: 'short',
        LOG_LEVEL: 'loud',
      });
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      for (const key of ['ISSUER', 'PORT', 'DATABASE_URL', 'KEY_ENCRYPTION_KEYS', 'LOG_LEVEL'])
        expect(problems).toContain(key);
    }
  });

  it('refuses development fallbacks in production', () => {
    expect(() =>
      loadConfig({ NODE_ENV: 'production', ISSUER: 'https://id.example.go.kr' }),
    ).toThrow(/DATABASE_URL.*required[\s\S]*AUDIT_KEYS.*required[\s\S]*PAIRWISE_SALT/);
    expect(() => loadConfig({ NODE_ENV: 'production', ISSUER: 'http://id.example.go.kr' })).toThrow(
      /ISSUER: must be https/,
    );
  });

  it('documents every setting in .env.example', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const documented = [...example.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...CONFIG_KEYS].sort());
    for (const key of CONFIG_KEYS) expect(example).toMatch(new RegExp(`# .+\\n${key}=`));
  });
});
