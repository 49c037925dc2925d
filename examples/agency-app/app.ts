// An agency web app that signs citizens in with One-ID, using openid-client v6 as documented:
// authorization code + PKCE (S256), state and nonce; the claims from the ID token and userinfo;
// RP-initiated logout; and a back-channel logout endpoint that ends the local session.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRemoteJWKSet, importJWK } from 'jose';
import * as oidc from 'openid-client';
import type { AgencyConfig } from './config.ts';
import { createLogoutTokenVerifier, LogoutTokenError } from './logout-token.ts';
import { errorPage, homePage } from './pages.ts';
import { createSessionStore, type Session } from './sessions.ts';

const COOKIE = 'agency_session';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

type Log = (message: string) => void;

/** The client authentication One-ID registered for this app: private_key_jwt or a client secret. */
const clientAuth = async (config: AgencyConfig): Promise<oidc.ClientAuth> => {
  if (config.clientPrivateJwk) {
    const { kid, alg = 'ES256' } = config.clientPrivateJwk;
    const key = (await importJWK(config.clientPrivateJwk, alg)) as CryptoKey;
    return oidc.PrivateKeyJwt(kid ? { key, kid } : key);
  }
  return oidc.ClientSecretBasic(config.clientSecret!);
};

/** Discovery plus client settings; plain http is allowed only for a One-ID on this machine. */
export const discoverOneId = async (config: AgencyConfig): Promise<oidc.Configuration> => {
  const insecure = config.issuer.protocol === 'http:';
  if (insecure && !LOOPBACK.has(config.issuer.hostname))
    throw new Error(`ISSUER: ${config.issuer.href} must use https (http only for localhost)`);
  let configuration: oidc.Configuration;
  try {
    configuration = await oidc.discovery(
      config.issuer,
      config.clientId,
      undefined,
      await clientAuth(config),
      {
        execute: insecure ? [oidc.allowInsecureRequests] : [],
        timeout: 10,
      },
    );
  } catch (cause) {
    const reason = (cause as Error & { cause?: Error }).cause?.message ?? (cause as Error).message;
    throw new Error(
      `One-ID discovery at ${new URL('.well-known/openid-configuration', `${config.issuer.href.replace(/\/$/, '')}/`).href} failed: ${reason}`,
      { cause },
    );
  }
  // Also verify the ID token's signature against One-ID's JWKS (OIDC Core 3.1.3.7).
  oidc.enableNonRepudiationChecks(configuration);
  return configuration;
};

const cookieOf = (req: IncomingMessage) =>
  (req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim().split('='))
    .find(([name]) => name === COOKIE)?.[1];

const readForm = async (req: IncomingMessage, limit = 16 * 1024): Promise<URLSearchParams> => {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
};

export type AgencyAppOptions = { log?: Log; configuration?: oidc.Configuration };

export const createAgencyApp = async (config: AgencyConfig, options: AgencyAppOptions = {}) => {
  const log = options.log ?? ((message: string) => console.log(message));
  const configuration = options.configuration ?? (await discoverOneId(config));
  const metadata = configuration.serverMetadata();
  const sessions = createSessionStore();
  const verifyLogoutToken = createLogoutTokenVerifier({
    issuer: metadata.issuer,
    clientId: config.clientId,
    keys: createRemoteJWKSet(new URL(metadata.jwks_uri!), { timeoutDuration: 5000 }),
    algorithms: metadata.id_token_signing_alg_values_supported ?? ['RS256'],
  });
  const secure = new URL(config.redirectUri).protocol === 'https:';

  const setCookie = (res: ServerResponse, session: Session) =>
    res.setHeader(
      'Set-Cookie',
      `${COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`,
    );
  const html = (res: ServerResponse, status: number, body: string) => {
    res
      .writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      })
      .end(body);
  };
  const redirect = (res: ServerResponse, location: string, status = 303) => {
    res.writeHead(status, { location, 'cache-control': 'no-store' }).end();
  };

  const routes: Record<
    string,
    (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>
  > = {
    'GET /': async (req, res, url) => {
      const session = sessions.get(cookieOf(req));
      const state = url.searchParams.get('state');
      const signedOut = Boolean(session?.logoutState && state === session.logoutState);
      html(
        res,
        200,
        homePage(
          session,
          signedOut ? 'One-ID에서 로그아웃했습니다. / You have signed out of One-ID.' : undefined,
        ),
      );
    },

    // Sign in: a fresh PKCE verifier, state and nonce per attempt, kept server-side.
    'GET /login': async (req, res) => {
      const session = sessions.get(cookieOf(req)) ?? sessions.create();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      session.pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier };
      const authorizationUrl = oidc.buildAuthorizationUrl(configuration, {
        redirect_uri: config.redirectUri,
        scope: config.scope,
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state: session.pending.state,
        nonce: session.pending.nonce,
        ...(config.acrValues && { acr_values: config.acrValues }),
      });
      setCookie(res, session);
      redirect(res, authorizationUrl.href, 302);
    },

    'GET /callback': async (req, res, url) => {
      const previous = sessions.get(cookieOf(req));
      const pending = previous?.pending;
      if (!previous || !pending)
        return html(
          res,
          400,
          errorPage(400, 'no_pending_sign_in', 'start again from the home page'),
        );
      delete previous.pending;
      // The registered redirect URI exactly, with One-ID's response parameters.
      const currentUrl = new URL(config.redirectUri);
      currentUrl.search = url.search;
      let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
      try {
        tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        });
      } catch (error) {
        // e.g. access_denied when the citizen declines on the consent page.
        const { error: code = 'sign_in_failed', error_description: description } = error as {
          error?: string;
          error_description?: string;
        };
        log(`sign-in failed: ${code} ${description ?? (error as Error).message}`);
        const status = code === 'access_denied' ? 403 : 400;
        return html(res, status, errorPage(status, code, description ?? (error as Error).message));
      }
      const claims = tokens.claims()!;
      const userinfo = await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub);
      // A new session id at sign-in (no fixation); the old one is dropped.
      sessions.destroy(previous.id);
      const session = sessions.create({
        user: {
          sub: claims.sub,
          sid: typeof claims.sid === 'string' ? claims.sid : undefined,
          idToken: tokens.id_token!,
          idTokenClaims: { ...claims },
          userinfo: { ...userinfo },
        },
      });
      setCookie(res, session);
      redirect(res, '/');
    },

    // RP-initiated logout: end the local session, then One-ID's (end_session_endpoint).
    'POST /logout': async (req, res) => {
      const session = sessions.get(cookieOf(req));
      const form = await readForm(req);
      if (!session || form.get('_csrf') !== session.csrf)
        return html(res, 403, errorPage(403, 'forbidden', 'stale or missing form token'));
      if (!session.user) return redirect(res, '/');
      const idTokenHint = session.user.idToken;
      delete session.user;
      session.logoutState = oidc.randomState();
      redirect(
        res,
        oidc.buildEndSessionUrl(configuration, {
          id_token_hint: idTokenHint,
          post_logout_redirect_uri: config.postLogoutRedirectUri,
          state: session.logoutState,
        }).href,
      );
    },

    // Back-channel logout (OpenID Connect Back-Channel Logout 1.0, 2.5-2.8): One-ID posts a
    // logout token when the citizen's One-ID session ends; the app ends its own sessions.
    'POST /backchannel-logout': async (req, res) => {
      const form = await readForm(req);
      const logoutToken = form.get('logout_token');
      const reply = (status: number, body?: object) => {
        res
          .writeHead(status, {
            'cache-control': 'no-store',
            ...(body && { 'content-type': 'application/json' }),
          })
          .end(body ? JSON.stringify(body) : undefined);
      };
      if (!logoutToken)
        return reply(400, {
          error: 'invalid_request',
          error_description: 'logout_token is required',
        });
      try {
        const { sid, sub } = await verifyLogoutToken(logoutToken);
        const ended = sessions.endFor({ sid, sub });
        log(`back-channel logout: ended ${ended} session(s)`);
        reply(200);
      } catch (error) {
        if (!(error instanceof LogoutTokenError)) throw error;
        log(`back-channel logout refused: ${error.message}`);
        reply(400, { error: 'invalid_request', error_description: error.message });
      }
    },
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://app.invalid');
    const route = routes[`${req.method} ${url.pathname}`];
    if (!route) return html(res, 404, errorPage(404, 'not_found'));
    route(req, res, url).catch((error: Error & { status?: number }) => {
      log(`error on ${req.method} ${url.pathname}: ${error.stack ?? error.message}`);
      if (!res.headersSent)
        html(res, error.status ?? 500, errorPage(error.status ?? 500, 'server_error'));
      else res.end();
    });
  });

  return {
    config,
    configuration,
    sessions,
    server,
    listen: (port = config.port, host = 'localhost') =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve((server.address() as { port: number }).port));
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};

export type AgencyApp = Awaited<ReturnType<typeof createAgencyApp>>;
