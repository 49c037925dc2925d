// Rate limits and lockouts (rate-limiter-flexible). Counters live in Redis when One-ID has one,
// so every instance enforces the same limit; in process memory otherwise. While Redis is down
// each instance falls back to its own in-memory counters (insurance), so limits never vanish.
// Keys start with the deployment's REDIS_KEY_PREFIX and are hashed (callers choose client ids
// and identifiers: they must not choose the shape or length of our keys).
import { hash } from 'node:crypto';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RLWrapperTimeouts,
  type RateLimiterAbstract,
  type IRateLimiterOptions,
} from 'rate-limiter-flexible';
import type { RateLimitConfig } from '../../config/index.ts';
import { AppError } from '../../shared/index.ts';
import type { RedisClient } from '../../store/index.ts';
import { increment, type Insured, type Pending } from './counter-script.ts';

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
  const perMinute = (points: number) => ({ points, duration: 60 });
  const limiters: Record<LimitName, RateLimiterAbstract> = {
    signIn: make('signin', perMinute(config.signInPerMinute)),
    account: make('account', perMinute(config.accountPerMinute)),
    enrolment: make('enrol', perMinute(config.enrolmentPerMinute)),
    token: make('token', perMinute(config.tokenPerMinute)),
    // Per address, generous: bounds a caller that names a different client_id on each request.
    tokenAddress: make('token-addr', perMinute(config.tokenPerMinute * 10)),
    admin: make('admin', perMinute(config.adminPerMinute)),
  };
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

  const refusal = (error: unknown) => {
    if (error instanceof RateLimiterRes)
      throw new RateLimitedError('ERR_RATE_LIMITED', seconds(error.msBeforeNext));
    throw error;
  };

  /** Sends `counters` in one script (one per counter on a Cluster, whose slots differ) and answers each. */
  const send = (counters: Pending[]) => {
    if (redis?.isCluster && counters.length > 1) {
      for (const counter of counters) send([counter]);
      return;
    }
    const keys = counters.map(({ limiter, key }) => limiter.getKey(key));
    const windows = counters.map(({ limiter }) => limiter.duration);
    void increment(redis!, keys, windows, REDIS_TIMEOUT_MS).then((reply) => {
      counters.forEach(({ limiter, insuranceLimiter, key, resolve, reject }, i) => {
        if (!reply)
          return void insuranceLimiter
            .consume(key)
            .then(() => resolve())
            .catch(refusal)
            .catch(reject);
        if (Number(reply[2 * i]) > limiter.points)
          reject(new RateLimitedError('ERR_RATE_LIMITED', seconds(Number(reply[2 * i + 1]))));
        else resolve();
      });
    });
  };
  // The counters taken in one turn of the event loop (a token request's two, a passkey check's
  // with its neighbours'): sent together once the turn's synchronous code and promise jobs have
  // asked, still before ioredis writes the turn's commands (auto-pipelining waits for
  // setImmediate), so they go in the same write as before.
  let turn: Pending[] = [];
  const flush = () => {
    const counters = turn;
    turn = [];
    send(counters);
  };

  return {
    config,
    /**
     * Counts one request against `name` for `key`; throws RateLimitedError once the minute's
     * allowance is spent. With Redis, the library's increment script is sent from here, the
     * counters of one turn in one script: every token request takes two, and the library's
     * layers of promises and timers cost more than the script. Its insurance answers as it would
     * while Redis is down, failing or slow.
     */
    take(name: LimitName, key: string): Promise<void> {
      const hashedKey = hashed(key);
      if (!redis) return limiters[name].consume(hashedKey).then(() => undefined, refusal);
      const { limiter, insuranceLimiter } = limiters[name] as unknown as Insured;
      return new Promise<void>((resolve, reject) => {
        if (!turn.length) queueMicrotask(flush);
        turn.push({ limiter, insuranceLimiter, key: hashedKey, resolve, reject });
      });
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
