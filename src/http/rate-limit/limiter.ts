// Rate limits and lockouts. Counters live in Redis when One-ID has one, so every instance
// enforces the same limit, and in process memory always (counters.ts): while Redis is down or
// slow each instance answers from its own counts and the last Redis told it, so limits never
// vanish and a spent allowance is not handed out again. Keys start with the deployment's
// REDIS_KEY_PREFIX and are hashed (callers choose client ids and identifiers: they must not
// choose the shape or length of our keys); they and their values are those rate-limiter-flexible
// wrote before (counter-script.ts), so old and new instances share them in a rolling upgrade.
import { hash } from 'node:crypto';
import type { RateLimitConfig } from '../../config/index.ts';
import { AppError } from '../../shared/index.ts';
import type { RedisClient } from '../../store/index.ts';
import { createCounters } from './counters.ts';

/** What each limit counts, per minute. */
export type LimitName = 'signIn' | 'account' | 'enrolment' | 'token' | 'tokenAddress' | 'admin';

/** Refused for now: HTTP 429 with Retry-After (`details.retryAfter`, seconds). */
export class RateLimitedError extends AppError {
  constructor(
    code: 'ERR_RATE_LIMITED' | 'ERR_CREDENTIAL_LOCKED' | 'ERR_CERTIFICATE_LOCKED',
    retryAfter: number,
  ) {
    const message =
      code === 'ERR_RATE_LIMITED'
        ? 'Too many requests. Please wait a moment and try again.'
        : 'This sign-in method is temporarily locked after repeated failures. Use another method or try again later.';
    super(code, message, { status: 429, details: { retryAfter } });
  }
  get retryAfter(): number {
    return Number(this.details?.retryAfter ?? 1);
  }
}

export const isRateLimited = (error: unknown): error is RateLimitedError =>
  error instanceof RateLimitedError;

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
// One-shot crypto.hash: no Hash object per call (two per token request).
const hashed = (key: string) => hash('sha256', key, 'base64url').slice(0, 27);

// Failures are counted over this window (from the first one); a success forgets them.
const FAILURE_WINDOW_SECONDS = 3600;
// A Redis that hangs must not hold every request for ioredis's commandTimeout: after this the
// instance's own counters answer (Redis normally answers in well under a millisecond).
const REDIS_TIMEOUT_MS = 250;

export type RateLimits = ReturnType<typeof createRateLimits>;

export const createRateLimits = ({
  config,
  redis,
  prefix: keyPrefixBase,
}: {
  config: RateLimitConfig;
  redis?: RedisClient | undefined;
  /** REDIS_KEY_PREFIX: one deployment's namespace. */
  prefix: string;
}) => {
  const prefix = `${keyPrefixBase}rl`;
  const counters = createCounters({ redis, timeoutMs: REDIS_TIMEOUT_MS });
  // Each limit's counter name (in its keys) and allowance per minute.
  const limits: Record<LimitName, { name: string; points: number }> = {
    signIn: { name: 'signin', points: config.signInPerMinute },
    account: { name: 'account', points: config.accountPerMinute },
    enrolment: { name: 'enrol', points: config.enrolmentPerMinute },
    token: { name: 'token', points: config.tokenPerMinute },
    // Per address, generous: bounds a caller that names a different client_id on each request.
    tokenAddress: { name: 'token-addr', points: config.tokenPerMinute * 10 },
    admin: { name: 'admin', points: config.adminPerMinute },
  };
  const keyOf = (name: string, key: string) => `${prefix}:${name}:${hashed(key)}`;

  /** The wait before the next attempt after `n` consecutive failures: none, then doubling, then the lockout. */
  const delayAfter = (n: number, threshold: number) => {
    const start = Math.ceil(threshold / 2);
    if (n >= threshold) return config.lockoutSeconds;
    return n >= start ? Math.min(2 ** (n - start), config.lockoutSeconds) : 0;
  };

  return {
    config,
    /**
     * Counts one request against `name` for `key`; throws RateLimitedError once the minute's
     * allowance is spent. The counters one turn takes go to Redis in one script (counters.ts).
     */
    async take(name: LimitName, key: string): Promise<void> {
      const { name: counter, points } = limits[name];
      const { value, msLeft } = await counters.apply(keyOf(counter, key), 'incr', 60);
      if (value > points) throw new RateLimitedError('ERR_RATE_LIMITED', seconds(msLeft));
    },
    /**
     * Progressive delays and temporary lockout of one sign-in method (a passkey credential, a
     * certificate), never of the account: a citizen's other passkeys and certificate keep working.
     */
    lockout: {
      /**
       * Throws RateLimitedError(code) while `key` is locked or waiting out a delay. Read in the
       * same script as the turn's other counters (a passkey's with its rate limit).
       */
      async check(
        key: string,
        code: 'ERR_CREDENTIAL_LOCKED' | 'ERR_CERTIFICATE_LOCKED' | 'ERR_RATE_LIMITED',
      ): Promise<void> {
        const { value, msLeft } = await counters.apply(keyOf('lock', key), 'read', 0);
        if (value > 1 && msLeft > 0) throw new RateLimitedError(code, seconds(msLeft));
      },
      /**
       * Records a failure; returns the seconds `key` now has to wait (0: none yet). `tolerance`
       * multiplies LOCKOUT_THRESHOLD (a client address, shared behind NAT, gets more).
       */
      async fail(key: string, tolerance = 1): Promise<number> {
        const failed = await counters.apply(keyOf('fail', key), 'incr', FAILURE_WINDOW_SECONDS);
        const delay = delayAfter(failed.value, config.lockoutThreshold * tolerance);
        if (delay > 0) await counters.apply(keyOf('lock', key), 'lock', delay);
        return delay;
      },
      /** A success forgets the failures. */
      async succeed(key: string): Promise<void> {
        await counters.apply(keyOf('fail', key), 'forget', 0);
      },
    },
  };
};
