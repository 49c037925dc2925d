// Keyed hashes of values that must not be stored as they are (bearer tokens, session ids).
import { createHmac } from 'node:crypto';

/**
 * HMAC-SHA-256 under a key derived from `secret` for one `purpose` (a label without NUL, so it
 * never equals a pairwise-subject input, which always holds one), base64url. The same secret and
 * purpose give the same function on every instance; a different purpose, an unrelated one.
 */
export const createKeyedHash = (secret: string, purpose: string) => {
  if (purpose.includes('\u0000')) throw new TypeError('purpose must not contain NUL');
  const key = createHmac('sha256', secret).update(`one-id:${purpose}`).digest();
  return (value: string): string => createHmac('sha256', key).update(value).digest('base64url');
};
