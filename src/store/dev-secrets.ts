// The embedded default needs no set-up: secrets missing from the environment are generated
// once and kept in DATA_DIR/secrets.json (mode 0600). Production refuses to start without
// them (see config), so this file is only ever used on a developer's machine.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

export type Secrets = {
  cookieKeys: string[];
  keyEncryptionKeys: Buffer[];
  auditKeys: Buffer[];
  pairwiseSalt: string;
};

type Stored = {
  cookieKey: string;
  keyEncryptionKey: string;
  auditKey: string;
  pairwiseSalt: string;
};

const fresh = (): Stored => ({
  cookieKey: randomBytes(32).toString('base64url'),
  keyEncryptionKey: randomBytes(32).toString('base64url'),
  auditKey: randomBytes(32).toString('base64url'),
  pairwiseSalt: randomBytes(32).toString('base64url'),
});

export const resolveSecrets = (options: {
  dataDir: string;
  cookieKeys: string[] | undefined;
  keyEncryptionKeys: Buffer[] | undefined;
  auditKeys: Buffer[] | undefined;
  pairwiseSalt: string | undefined;
}): { secrets: Secrets; generated: string[] } => {
  const file = join(resolve(options.dataDir), 'secrets.json');
  const stored = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Stored>)
    : undefined;
  // A file from an older version lacks the newer secrets: they are added, the others kept.
  const dev: Stored = { ...fresh(), ...stored };
  const generated = [
    !options.cookieKeys && 'COOKIE_KEYS',
    !options.keyEncryptionKeys && 'KEY_ENCRYPTION_KEYS',
    !options.auditKeys && 'AUDIT_KEYS',
    !options.pairwiseSalt && 'PAIRWISE_SALT',
  ].filter((k): k is string => Boolean(k));
  if (generated.length && (!stored || Object.keys(dev).some((k) => !(k in stored)))) {
    mkdirSync(resolve(options.dataDir), { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(dev), { mode: 0o600 });
  }
  return {
    generated,
    secrets: {
      cookieKeys: options.cookieKeys ?? [dev.cookieKey],
      keyEncryptionKeys: options.keyEncryptionKeys ?? [
        Buffer.from(dev.keyEncryptionKey, 'base64url'),
      ],
      auditKeys: options.auditKeys ?? [Buffer.from(dev.auditKey, 'base64url')],
      pairwiseSalt: options.pairwiseSalt ?? dev.pairwiseSalt,
    },
  };
};
