import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** A random, URL-safe token of `bytes` bytes of entropy. */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export const newId = (): string => randomUUID();

export const sha256 = (value: string | Buffer): string =>
  createHash('sha256').update(value).digest('base64url');

/** Constant-time comparison of two strings (false when lengths differ). */
export const safeEqual = (a: string, b: string): boolean => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};
