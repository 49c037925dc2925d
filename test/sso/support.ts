// Shared pieces of the SSO and logout tests: an app whose settings may go below the validated
// minimums (a 2-second idle timeout), agency back-channel receivers that verify logout tokens
// the way an agency must, and a full sign-in returning what the agency received.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import type { Config } from '../../src/config/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { cliProcess } from '../support/cli.ts';
import { csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  passkeyVerify,
  registerClient,
  signIn,
} from '../support/flows.ts';
import type { SoftAuthenticator } from '../support/soft-authenticator.ts';

export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Fast queue settings: the tests wait hundreds of milliseconds, not minutes. */
export const FAST_QUEUE = {
  OUTBOUND_PRIVATE_HOSTS: 'localhost',
  BACKCHANNEL_POLL_MS: '100',
  BACKCHANNEL_RETRY_BASE_MS: '150',
  BACKCHANNEL_TIMEOUT_MS: '3000',
  BACKCHANNEL_MAX_ATTEMPTS: '5',
};

/**
 * startTestApp with the fast queue, on the run's database itself (not a copy), so a restart on
 * the same `port` and `dataDir` finds its sessions and queue again.
 */
export const startSsoApp = (
  env: Record<string, string> = {},
  options: { overrides?: Partial<Config>; port?: number; dataDir?: string } = {},
) => startTestApp({ ...FAST_QUEUE, ...env }, options);

/** Runs `npm run cli -- ...args` against the app (a separate process, as an operator would). */
export const runCli = (app: { env: Record<string, string> }, args: string[]) =>
  cliProcess(app.env, args, 30_000);

export type ReceivedToken = {
  claims: JWTPayload & { sid?: string; events?: Record<string, unknown> };
  at: number;
};

/**
 * An agency's back-channel logout endpoint on 127.0.0.1: verifies each logout token against
 * One-ID's JWKS (signature, iss, aud, typ logout+jwt, iat, jti, events, no nonce) and records
 * it. `failNext(n)` answers 500 to the next n requests, `delayMs` answers late, `down()` stops
 * listening (connection refused) and `up()` listens again on the same port.
 */
export const startReceiver = async (issuer: string, port?: number) => {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const tokens: ReceivedToken[] = [];
  const rejected: string[] = [];
  let failures = 0;
  let requests = 0;
  let delayMs = 0;
  let audience = '';
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString());
  };
  const handle = async (req: IncomingMessage): Promise<number> => {
    requests += 1;
    const token = (await read(req)).get('logout_token') ?? '';
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (failures > 0) {
      failures -= 1;
      return 500;
    }
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer,
        audience,
        typ: 'logout+jwt',
        requiredClaims: ['iat', 'jti'],
      });
      if (
        !payload.events ||
        typeof payload.events !== 'object' ||
        !(BACKCHANNEL_EVENT in payload.events)
      )
        throw new Error('no back-channel logout event');
      if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
      if (!payload.sub && !payload.sid) throw new Error('neither sub nor sid');
      tokens.push({ claims: payload as ReceivedToken['claims'], at: Date.now() });
      return 200;
    } catch (error) {
      rejected.push((error as Error).message);
      return 400;
    }
  };
  const listen = (server: Server, on: number) =>
    new Promise<number>((resolve) =>
      server.listen(on, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
  const make = () =>
    createServer((req, res) => {
      void handle(req).then((status) =>
        res.writeHead(status, { 'cache-control': 'no-store' }).end(),
      );
    });
  let server = make();
  const boundPort = await listen(server, port ?? 0);
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://localhost:${boundPort}/backchannel-logout`,
    tokens,
    rejected,
    requests: () => requests,
    /** The client_id this receiver belongs to (the tokens' expected `aud`). */
    setAudience: (clientId: string) => void (audience = clientId),
    failNext: (n: number) => void (failures = n),
    setDelay: (ms: number) => void (delayMs = ms),
    down: close,
    up: async () => {
      server = make();
      await listen(server, boundPort);
    },
    close,
  };
};

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** A registered agency system with its own back-channel receiver. */
export const agencyWithReceiver = async (
  app: TestApp,
  name: string,
  overrides: Record<string, unknown> = {},
) => {
  const receiver = await startReceiver(app.issuer);
  const client = await registerClient(app, {
    client_name: name,
    backchannel_logout_uri: receiver.url,
    backchannel_logout_session_required: true,
    ...overrides,
  });
  receiver.setAudience(client.clientId);
  return { ...client, receiver, name };
};

/** Authorization request -> (sign-in / consent as needed) -> code -> tokens, in `session`. */
export const signInTo = async (
  app: TestApp,
  session: BrowserSession,
  authenticator: SoftAuthenticator,
  client: { clientId: string; clientSecret?: string | undefined; redirectUri: string },
  params: Record<string, string> = {},
) => {
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri, params);
  const callback = await signIn(app, session, authenticator, request.url);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
  return { config, tokens, claims: tokens.claims()!, idToken: tokens.id_token! };
};

/** Polls until `check` passes; the generous default is for a loaded machine (it returns as soon as it passes). */
export const eventually = async <T>(check: () => T | Promise<T>, timeout = 20_000): Promise<T> => {
  const started = Date.now();
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() - started > timeout) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
};

/** Signs in to My One-ID in `session` (passkey if needed) and returns the account page's HTML. */
export const openAccountPage = async (
  app: TestApp,
  session: BrowserSession,
  authenticator: SoftAuthenticator,
): Promise<string> => {
  // On a shared PostgreSQL (DATABASE_URL runs), every test app registers the first-party
  // client with its own issuer's redirect URI, and the last one started wins: take it back.
  await app.services.clients.ensureFirstPartyClient('one-id-account', {
    client_name: 'My One-ID',
    redirect_uris: [`${app.issuer}/account/callback`],
    post_logout_redirect_uris: [`${app.issuer}/account/signed-out`],
  });
  let { res, url } = await session.follow(`${app.issuer}/account`, app.issuer);
  let html = await res.text();
  if (html.includes('id="passkey-login"')) {
    const path = new URL(url).pathname;
    const csrf = csrfFrom(html);
    const verify = await passkeyVerify(session, `${app.issuer}${path}`, csrf, authenticator);
    ({ res, url } = await session.follow(
      new URL((await verify.json()).location, app.issuer).toString(),
      app.issuer,
    ));
    html = await res.text();
  }
  if (new URL(url).pathname !== '/account' || res.status !== 200)
    throw new Error(`account page: ${res.status} at ${url}`);
  return html;
};

/** The sessions listed on the account page: uid, whether it is this device, its text. */
export const sessionsShown = (html: string) =>
  [...html.matchAll(/<li class="consent-item" id="session-([\w-]+)">([\s\S]*?)<\/li>/g)].map(
    ([, uid, body]) => ({ uid: uid!, current: body!.includes('data-current="true"'), text: body! }),
  );

export { silentAuthError } from '../support/flows.ts';
