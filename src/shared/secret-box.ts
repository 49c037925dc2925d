// Encrypts secrets at rest (signing keys' private parts, client secrets) with AES-256-GCM.
// Several keys allow rotation: the first encrypts, any may decrypt; each ciphertext names its key.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { AppError } from './app-error.ts';

const keyId = (key: Buffer) => createHash('sha256').update(key).digest('base64url').slice(0, 8);

export type SecretBox = {
  seal: (plaintext: string) => string;
  open: (sealed: string) => string;
  /** True when `sealed` was made with a key other than the current first one. */
  needsReseal: (sealed: string) => boolean;
};

export const createSecretBox = (keys: Buffer[]): SecretBox => {
  if (!keys.length || keys.some((k) => k.length !== 32))
    throw new TypeError('secret box keys must be 32 bytes');
  const byId = new Map(keys.map((k) => [keyId(k), k]));
  const [current] = keys as [Buffer];
  const currentId = keyId(current);
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [
        'v1',
        currentId,
        iv.toString('base64url'),
        data.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
      ].join('.');
    },
    open(sealed) {
      const [version, id, iv, data, tag] = sealed.split('.');
      const key = id ? byId.get(id) : undefined;
      if (version !== 'v1' || !key || !iv || !data || !tag) {
        throw new AppError(
          'ERR_SECRET_KEY_UNKNOWN',
          'a stored secret was sealed with a key that is not configured',
          { status: 500 },
        );
      }
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(data, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    },
    needsReseal: (sealed) => sealed.split('.')[1] !== currentId,
  };
};
