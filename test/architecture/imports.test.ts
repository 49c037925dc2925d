// Keeps the layering of STYLE.md true: only src/oidc imports oidc-provider and only src/http
// imports koa (type imports, re-exports and import() types included), only store/ and
// *-repo.ts files import knex or ioredis at runtime, and no domain imports from a layer above
// it (type imports included); and only src/store opens the stores (openStores), so the server and
// the CLI lay out and hash their keys the same way.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory()
      ? files(path)
      : path.endsWith('.ts') && !path.endsWith('.test.ts')
        ? [path]
        : [];
  });
const runtimeImports = (source: string) =>
  [...source.matchAll(/^import (?!type )[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
/** Every module a file names: imports and re-exports (`type` or not) and `import('...')` types. */
const allImports = (source: string) => [
  ...[...source.matchAll(/^(?:import|export) [^'"]*?from ['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
  ...[...source.matchAll(/^import ['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
  ...[...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
];

const LEVEL: Record<string, number> = {
  config: 0,
  shared: 0,
  observability: 1,
  store: 1,
  audit: 2,
  accounts: 3,
  clients: 3,
  auth: 4,
  consent: 4,
  federation: 4,
  sessions: 4,
  admin: 4,
  oidc: 5,
  http: 6,
  cli: 7,
  'app.ts': 7,
  'main.ts': 8,
};
const domainOf = (path: string) => relative(SRC, path).split('/')[0]!;

describe('architecture', () => {
  it('sees type imports, re-exports and import() types, not only runtime imports', () => {
    const seen = allImports(
      [
        "import type Provider from 'oidc-provider';",
        "import type {\n  Context,\n} from 'koa';",
        "export type { Adapter } from 'oidc-provider/types';",
        "type C = import('@koa/router').RouterContext;",
        "import './side-effect.ts';",
      ].join('\n'),
    );
    expect(seen).toStrictEqual([
      'oidc-provider',
      'koa',
      'oidc-provider/types',
      './side-effect.ts',
      '@koa/router',
    ]);
  });

  const all = files(SRC);
  it.each(all.map((f) => [relative(SRC, f), f]))('%s respects the layering', (_name, path) => {
    const domain = domainOf(path);
    const source = readFileSync(path, 'utf8');
    for (const spec of allImports(source)) {
      if (spec === 'oidc-provider' || spec.startsWith('oidc-provider/'))
        expect(['oidc'], `${spec} in ${relative(SRC, path)}`).toContain(domain);
      if (spec === 'koa' || spec.startsWith('koa/') || spec.startsWith('@koa/'))
        expect(['http'], `${spec} in ${relative(SRC, path)}`).toContain(domain);
    }
    for (const spec of runtimeImports(source)) {
      if (spec === 'knex' || spec === 'ioredis')
        expect(
          domain === 'store' || path.endsWith('-repo.ts') || path.endsWith('redis-adapter.ts'),
          `${spec} in ${relative(SRC, path)}`,
        ).toBe(true);
    }
    for (const spec of allImports(source)) {
      if (spec.startsWith('.')) {
        const target = domainOf(join(path, '..', spec));
        if (target !== domain && LEVEL[target] !== undefined && LEVEL[domain] !== undefined) {
          expect(
            LEVEL[target]! <= LEVEL[domain]!,
            `${relative(SRC, path)} imports ${spec} (a higher layer)`,
          ).toBe(true);
        }
      }
    }
  });

  // What openStores (src/store/store-module.ts) puts together, and the engine's Redis store
  // (createEngineRedisStore): a module that built its own secrets, database, Redis connection,
  // key-value store, change feed or engine store could write keys laid out or hashed otherwise
  // than the servers read them (the CLI once did, in cli-context.ts).
  const STORE_PARTS = [
    'resolveSecrets',
    'openDatabase',
    'migrateLatest',
    'connectRedis',
    'createRedisKv',
    'createMemoryKv',
    'withHashedKeys',
    'createRedisChangeFeed',
    'createDatabaseChangeFeed',
  ];
  /** The names a file imports (type or not) from relative modules, and their module under src. */
  const importedNames = (path: string, source: string) =>
    [...source.matchAll(/^import (?:type )?\{([^}]*)\}\s*from ['"](\.[^'"]*)['"]/gm)].flatMap((m) =>
      m[1]!
        .split(',')
        .map((n) => n.replace(/^\s*type\s+/, '').trim())
        .filter(Boolean)
        .map((name) => ({ name, from: relative(SRC, join(path, '..', m[2]!)) })),
    );
  it.each(all.map((f) => [relative(SRC, f), f]))('%s opens no store by hand', (name, path) => {
    const source = readFileSync(path, 'utf8');
    const imported = importedNames(path, source);
    if (domainOf(path) !== 'store') {
      const parts = imported.filter((i) => i.from.startsWith('store/'));
      expect(
        parts.map((i) => i.name).filter((n) => STORE_PARTS.includes(n)),
        name,
      ).toEqual([]);
      // The purpose of the keyed hash of the shared store's keys is named once.
      expect(source, name).not.toContain("'stored-ids'");
    }
    expect(
      imported.map((i) => i.name),
      name,
    ).not.toContain('createRedisAdapter');
  });

  it('sees the names a file imports, and from where', () => {
    const path = join(SRC, 'cli', 'example.ts');
    const source = [
      "import { connectRedis, type KvStore } from '../store/index.ts';",
      "import {\n  openStores,\n  withHashedKeys,\n} from '../store/index.ts';",
      "import { createRedisAdapter } from '../oidc/storage/redis-adapter.ts';",
      "import { pino } from 'pino';",
    ].join('\n');
    expect(importedNames(path, source)).toEqual([
      { name: 'connectRedis', from: 'store/index.ts' },
      { name: 'KvStore', from: 'store/index.ts' },
      { name: 'openStores', from: 'store/index.ts' },
      { name: 'withHashedKeys', from: 'store/index.ts' },
      { name: 'createRedisAdapter', from: 'oidc/storage/redis-adapter.ts' },
    ]);
  });
});
