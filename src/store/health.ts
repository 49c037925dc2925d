// Telling "a dependency is down" apart from every other failure. PostgreSQL (pg + knex) and
// Redis (ioredis) fail in their own words; the HTTP layer and the engine map these to 503
// (a readable page, problem+json or OAuth `temporarily_unavailable`) instead of a 500, and
// the request is safe to retry once the dependency is back (no restart needed: knex opens new
// connections and ioredis reconnects by themselves).

import { isAppError } from '../shared/index.ts';

// Network errors from the socket, and PostgreSQL SQLSTATEs of class 08 (connection exception),
// 57P01-57P03 (admin/crash shutdown, cannot connect now) and 53300 (too many connections).
const CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);
const NAMES = new Set(['KnexTimeoutError', 'MaxRetriesPerRequestError']);
// What pg, knex and ioredis say when there is no connection (their errors carry no code then).
const MESSAGES =
  /Connection terminated|Connection is closed|Stream isn't writeable|Command timed out|Timeout acquiring a connection|Client was closed and is not queryable|Client has encountered a connection error|the database system is (shutting down|starting up|in recovery mode)|terminating connection due to administrator command|Redis connection is not ready|connect ECONNREFUSED/i;

/** Marks an error (e.g. the engine's `temporarily_unavailable`) as a dependency outage. */
export const UNAVAILABLE = Symbol.for('one-id.unavailable');

/**
 * True when `error` (or what caused it) says PostgreSQL or Redis cannot be reached right now.
 * Domain errors (AppError, with their own status) are never reclassified.
 */
export const isUnavailableError = (error: unknown, depth = 0): boolean => {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const e = error as {
    [UNAVAILABLE]?: boolean;
    code?: unknown;
    name?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (e[UNAVAILABLE]) return true;
  if (isAppError(error)) return false;
  if (typeof e.code === 'string' && CODES.has(e.code)) return true;
  if (typeof e.name === 'string' && NAMES.has(e.name)) return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  // pg tries every address of a host name: ECONNREFUSED on ::1 and 127.0.0.1 is an AggregateError.
  if (Array.isArray(e.errors) && e.errors.some((inner) => isUnavailableError(inner, depth + 1)))
    return true;
  return isUnavailableError(e.cause, depth + 1);
};

/** Seconds a client should wait before retrying while a dependency is down (Retry-After). */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
