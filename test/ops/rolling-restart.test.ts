// A rolling restart loses no request (docs/deploy.md, "Rolling restart"): two One-ID processes
// (src/main.ts) on one PostgreSQL and one Redis behind nginx configured as the docs show, under
// a steady load of discovery, JWKS, client_credentials tokens and userinfo. Instance A gets
// SIGTERM, exits, starts again; as soon as its /readyz answers, B does the same. No request may
// fail; a token request that did fail would have to be a clean OAuth error, never half-done.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  freePort,
  onPostgres,
  ownDatabaseUrl,
  startTestApp,
  type TestApp,
} from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';
import { startNginx } from '../support/nginx.ts';

// Two instances share state only through PostgreSQL and Redis; PGlite belongs to one process.
const shared = onPostgres() && Boolean(inject('redisUrl'));
const DRAIN_MS = 1000;

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

/** One-ID as `npm start` runs it, on `port`; resolves once its /readyz answers 200. */
const startInstance = async (env: Record<string, string>, port: number) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  for (;;) {
    if (child.exitCode !== null) throw new Error(`instance exited: ${stderr}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    /** SIGTERM, as systemd and Kubernetes send it; resolves with the exit code. */
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: () => child.kill('SIGKILL'),
  };
};

type Outcome = { what: string; ok: boolean; detail?: string };

describe.skipIf(!shared)('rolling restart behind nginx', () => {
  it('loses no request when each instance restarts as soon as the previous one is ready', async () => {
    const [portA, portB, portLb, portSetup] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const issuer = `http://localhost:${portLb}`;
    const secrets = inject('secrets');
    const env = {
      ISSUER: issuer,
      DATABASE_URL: (await ownDatabaseUrl())!,
      REDIS_URL: inject('redisUrl')!,
      COOKIE_KEYS: secrets.cookieKey,
      KEY_ENCRYPTION_KEYS: secrets.keyEncryptionKey,
      PAIRWISE_SALT: secrets.pairwiseSalt,
      LOG_LEVEL: 'warn',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'oneid-rolling-')),
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
    };
    cleanup.push(async () => rmSync(env.DATA_DIR, { recursive: true, force: true }));
    const instances = { a: await startInstance(env, portA), b: await startInstance(env, portB) };
    cleanup.push(async () => {
      instances.a.kill();
      instances.b.kill();
    });
    const nginx = await startNginx(portLb, [portA, portB], `localhost:${portLb}`);
    cleanup.push(nginx.stop);

    // Set-up through nginx: a client_credentials client, and a citizen's access token for userinfo.
    const setup: TestApp = await startTestApp(env, { port: portSetup }).then((app) =>
      Object.assign(app, { issuer }),
    );
    const machine = await registerClient(setup, { grant_types: ['client_credentials'] });
    const rp = await registerClient(setup);
    const citizen = await enrolCitizen(setup);
    const config = await discover(setup, rp);
    const request = await authorizationRequest(config, rp.redirectUri);
    const callback = await signIn(
      setup,
      createBrowserSession(),
      citizen.authenticator,
      request.url,
    );
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    await setup.stop();

    const basic = `Basic ${Buffer.from(`${encodeURIComponent(machine.clientId)}:${encodeURIComponent(machine.clientSecret!)}`).toString('base64')}`;
    const attempt = async (
      what: string,
      call: () => Promise<Response>,
      check: (res: Response, body: string) => boolean,
    ): Promise<Outcome> => {
      try {
        const res = await call();
        const body = await res.text();
        return check(res, body)
          ? { what, ok: true }
          : {
              what,
              ok: false,
              detail: `${res.status} ${res.headers.get('content-type')} ${body.slice(0, 200)}`,
            };
      } catch (error) {
        return { what, ok: false, detail: String(error) };
      }
    };
    const round = () => [
      attempt(
        'discovery',
        () => fetch(`${issuer}/.well-known/openid-configuration`),
        (res, body) => res.status === 200 && JSON.parse(body).issuer === issuer,
      ),
      attempt(
        'jwks',
        () => fetch(`${issuer}/jwks`),
        (res, body) => res.status === 200 && JSON.parse(body).keys.length > 0,
      ),
      attempt(
        'userinfo',
        () =>
          fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } }),
        (res, body) => res.status === 200 && Boolean(JSON.parse(body).sub),
      ),
      attempt(
        'token',
        () =>
          fetch(`${issuer}/token`, {
            method: 'POST',
            headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
            body: 'grant_type=client_credentials',
          }),
        (res, body) => res.status === 200 && Boolean(JSON.parse(body).access_token),
      ),
    ];

    const outcomes: Outcome[] = [];
    let running = true;
    const loops = Array.from({ length: 4 }, async () => {
      while (running) outcomes.push(...(await Promise.all(round())));
    });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await sleep(1500);
    // systemd's `restart` of each unit in turn, the next as soon as the previous one is ready.
    expect(await instances.a.stop()).toBe(0);
    instances.a = await startInstance(env, portA);
    expect(await instances.b.stop()).toBe(0);
    instances.b = await startInstance(env, portB);
    await sleep(1500);
    running = false;
    await Promise.all(loops);

    // Enough load to mean something: every kind of request ran throughout both restarts.
    expect(outcomes.length).toBeGreaterThan(200);
    // nginx retries every idempotent request on the other instance: none may fail.
    const failed = outcomes.filter((o) => !o.ok && o.what !== 'token');
    expect(failed, nginx.errorLog()).toEqual([]);
    // nginx never replays a POST it has sent. One sent on a connection the stopping instance's
    // kernel reset before One-ID read it (the listener closing) fails, but only as a clean,
    // retryable OAuth error: the request was never processed, so nothing is half-done.
    for (const token of outcomes.filter((o) => !o.ok))
      expect(token.detail).toMatch(/^503 application\/json \{"error":"temporarily_unavailable"/);
    await instances.a.stop();
    await instances.b.stop();
  }, 240_000);
});
