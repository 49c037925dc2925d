// Rate limits and lockouts (rate-limiter-flexible). Counters live in Redis when One-ID has one,
// so every instance enforces the same limit; in process memory otherwise. While Redis is down
// each instance falls back to its own in-memory counters (insurance), so limits never vanish.
// Keys start with the deployment's REDIS_KEY_PREFIX and are hashed (callers choose client ids
// and identifiers: they must not choose the shape or length of our keys).
import { hash } from 'node:crypto';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RLWrapperTimeouts,
  type RateLimiterAbstract,
  type IRateLimiterOptions,
} from 'rate-limiter-flexible';
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

// A counter and its time left, read atomically. KEYS[1] the counter. (Lua's false is Redis nil.)
const READ_COUNTER = `return {redis.call('get', KEYS[1]), redis.call('pttl', KEYS[1])}`;

/**
 * The library reads a counter (`get`, the lockout check) in a MULTI, which ioredis writes to the
 * socket at once, apart from the commands issued with it (a sign-in's other counters and reads);
 * one script reads as atomically and is auto-pipelined with them: one Redis round trip.
 */
class RateLimiterRedisPipelined extends RateLimiterRedis {
  readonly #read: (key: string) => Promise<[string | null, number]>;
  constructor(
    options: ConstructorParameters<typeof RateLimiterRedis>[0] & { storeClient: RedisClient },
  ) {
    super(options);
    const client = options.storeClient;
    client.defineCommand('oneidReadCounter', { numberOfKeys: 1, lua: READ_COUNTER });
    this.#read = (key) =>
      (
        client as unknown as { oneidReadCounter: (k: string) => Promise<[string | null, number]> }
      ).oneidReadCounter(key);
  }
  // Overrides the library's (untyped) store read; same result shape, same not-ready refusal.
  async _get(rlKey: string): Promise<[string, number] | null> {
    const ready = (this as unknown as { _isRedisReady: (k: string, r: boolean) => boolean })
      ._isRedisReady;
    if (!ready.call(this, rlKey, true)) throw new Error('Redis connection is not ready');
    const [points, ttl] = await this.#read(rlKey);
    return points === null ? null : [points, ttl];
  }
}

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
  const make = (
    name: string,
    options: Omit<IRateLimiterOptions, 'keyPrefix'>,
  ): RateLimiterAbstract => {
    const keyPrefix = `${prefix}:${name}`;
    const memory = new RateLimiterMemory({ ...options, keyPrefix });
    if (!redis) return memory;
    // rejectIfRedisNotReady: while Redis is down the insurance (memory) limiter answers at once;
    // the timeout wrapper does the same while Redis hangs.
    const shared = new RateLimiterRedisPipelined({
      ...options,
      keyPrefix,
      storeClient: redis,
      rejectIfRedisNotReady: true,
      insuranceLimiter: memory,
    });
    return new RLWrapperTimeouts({
      limiter: shared,
      timeoutMs: REDIS_TIMEOUT_MS,
      insuranceLimiter: memory,
    }) as unknown as RateLimiterAbstract;
  };
  // Each limit's counter names (the library's keyPrefix, kept: limiter.ts before) and allowance.
  const limits: Record<LimitName, { name: string; points: number }> = {
    signIn: { name: 'signin', points: config.signInPerMinute },
    account: { name: 'account', points: config.accountPerMinute },
    enrolment: { name: 'enrol', points: config.enrolmentPerMinute },
    token: { name: 'token', points: config.tokenPerMinute },
    // Per address, generous: bounds a caller that names a different client_id on each request.
    tokenAddress: { name: 'token-addr', points: config.tokenPerMinute * 10 },
    admin: { name: 'admin', points: config.adminPerMinute },
  };
  const counters = createCounters({ redis, timeoutMs: REDIS_TIMEOUT_MS });
  const failures = make('fail', {
    points: Number.MAX_SAFE_INTEGER,
    duration: FAILURE_WINDOW_SECONDS,
  });
  const locks = make('lock', { points: 1, duration: 1 });

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
      const { value, msLeft } = await counters.apply(
        `${prefix}:${counter}:${hashed(key)}`,
        'incr',
        60,
      );
      if (value > points) throw new RateLimitedError('ERR_RATE_LIMITED', seconds(msLeft));
    },
    /**
     * Progressive delays and temporary lockout of one sign-in method (a passkey credential, a
     * certificate), never of the account: a citizen's other passkeys and certificate keep working.
     */
    lockout: {
      /** Throws RateLimitedError(code) while `key` is locked or waiting out a delay. */
      async check(
        key: string,
        code: 'ERR_CREDENTIAL_LOCKED' | 'ERR_CERTIFICATE_LOCKED' | 'ERR_RATE_LIMITED',
      ): Promise<void> {
        const res = await locks.get(hashed(key));
        if (res && res.consumedPoints > 1 && res.msBeforeNext > 0)
          throw new RateLimitedError(code, seconds(res.msBeforeNext));
      },
      /**
       * Records a failure; returns the seconds `key` now has to wait (0: none yet). `tolerance`
       * multiplies LOCKOUT_THRESHOLD (a client address, shared behind NAT, gets more).
       */
      async fail(key: string, tolerance = 1): Promise<number> {
        const res = await failures.penalty(hashed(key), 1);
        const delay = delayAfter(res.consumedPoints, config.lockoutThreshold * tolerance);
        if (delay > 0) await locks.block(hashed(key), delay);
        return delay;
      },
      /** A success forgets the failures. */
      async succeed(key: string): Promise<void> {
        await failures.delete(hashed(key));
      },
    },
  };
};
