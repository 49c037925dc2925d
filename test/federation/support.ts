// Upstream identity providers for the federation tests, on 127.0.0.1 (a different host from
// One-ID's "localhost", so their cookies never mix in a real browser):
//   - startUpstream: a bare oidc-provider with test accounts (findAccount) and a tiny
//     interaction that signs in `next.accountId` at once and grants what was asked; it requires
//     PKCE (S256) of One-ID, as a careful upstream would (RFC 9700 2.1.1);
//   - startStubUpstream: a hand-written provider (discovery, JWKS, authorize, token) whose ID
//     tokens the test spoils on purpose (bad signature, wrong audience or nonce, expired); it
//     checks PKCE by hand (RFC 7636 4.6) and records what it saw;
//   - startHangingServer: accepts connections and never answers (a dead upstream).
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import Provider from 'oidc-provider';
import type { TestApp } from '../support/app.ts';
import type { BrowserSession } from '../support/browser-session.ts';

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const close = async (server: Server) => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
};
const readForm = async (req: IncomingMessage) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
};

export type UpstreamUser = {
  name?: string;
  birthdate?: string;
  phone_number?: string;
  phone_number_verified?: boolean;
  email?: string;
  email_verified?: boolean;
};

/** A real OpenID provider (oidc-provider) with One-ID registered as its client. */
export const startUpstream = async ({
  redirectUri,
  users,
}: {
  redirectUri: string;
  users: Record<string, UpstreamUser>;
}) => {
  const server = createServer();
  const issuer = await listen(server);
  const clientSecret = randomBytes(24).toString('base64url');
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const next = { accountId: Object.keys(users)[0]!, amr: ['pwd', 'otp', 'mfa', 'x-vendor-method'] };
  /** The PKCE parameters of every authorization request One-ID sent here. */
  const authorizations: { codeChallenge: string | null; codeChallengeMethod: string | null }[] = [];
  const provider = new Provider(issuer, {
    // oidc-provider requires PKCE of public clients only; this upstream requires it of One-ID too
    // (a request without code_challenge is refused, a wrong code_verifier is invalid_grant).
    pkce: { required: () => true },
    clients: [
      {
        client_id: 'one-id',
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: {
      keys: [
        { ...(await exportJWK(privateKey)), kid: 'upstream-1', alg: 'ES256', use: 'sig' },
      ] as never,
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name', 'birthdate'],
      phone: ['phone_number', 'phone_number_verified'],
      email: ['email', 'email_verified'],
    },
    findAccount: async (_ctx, id) =>
      users[id] ? { accountId: id, claims: async () => ({ sub: id, ...users[id] }) } : undefined,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
  });
  const engine = provider.callback();
  server.on('request', (req, res) => {
    if (req.url?.startsWith('/auth?')) {
      const query = new URL(req.url, issuer).searchParams;
      authorizations.push({
        codeChallenge: query.get('code_challenge'),
        codeChallengeMethod: query.get('code_challenge_method'),
      });
    }
    if (!req.url?.startsWith('/interaction/')) return void engine(req, res);
    // The upstream's own sign-in, reduced to "this person signed in with these methods".
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: next.accountId, amr: next.amr, acr: 'urn:upstream:acr:2' } },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      const grant = new provider.Grant({
        accountId: details.session!.accountId,
        clientId: String(details.params.client_id),
      });
      grant.addOIDCScope(String(details.params.scope));
      await provider.interactionFinished(
        req,
        res,
        { consent: { grantId: await grant.save() } },
        { mergeWithLastSubmission: true },
      );
    })().catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  return {
    issuer,
    clientId: 'one-id',
    clientSecret,
    next,
    users,
    authorizations,
    close: () => close(server),
  };
};

export type StubMode = 'good' | 'bad-signature' | 'wrong-audience' | 'wrong-nonce' | 'expired';

/** A hand-made provider whose ID tokens are spoiled on request. */
export const startStubUpstream = async ({ subject = 'stub-user' }: { subject?: string } = {}) => {
  const server = createServer();
  const issuer = await listen(server);
  const kid = 'stub-1';
  const signing = await generateKeyPair('ES256');
  const rogue = await generateKeyPair('ES256');
  // pkce: what the last token request proved (RFC 7636 4.6: BASE64URL(SHA256(code_verifier)) == code_challenge).
  const state = {
    mode: 'good' as StubMode,
    tokenRequests: 0,
    pkce: undefined as { method: string | null; verified: boolean } | undefined,
  };
  const codes = new Map<
    string,
    { nonce: string; clientId: string; challenge: string | null; method: string | null }
  >();
  const json = (res: import('node:http').ServerResponse, body: unknown) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  };
  const idToken = async (entry: { nonce: string; clientId: string }) => {
    const now = Math.floor(Date.now() / 1000);
    const expired = state.mode === 'expired';
    const key: CryptoKey = state.mode === 'bad-signature' ? rogue.privateKey : signing.privateKey;
    return new SignJWT({
      nonce: state.mode === 'wrong-nonce' ? 'not-the-nonce-that-was-sent' : entry.nonce,
      amr: ['pwd'],
    })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(issuer)
      .setSubject(subject)
      .setAudience(state.mode === 'wrong-audience' ? 'some-other-client' : entry.clientId)
      .setIssuedAt(expired ? now - 1200 : now)
      .setExpirationTime(expired ? now - 600 : now + 300)
      .sign(key);
  };
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    void (async () => {
      if (url.pathname === '/.well-known/openid-configuration') {
        return json(res, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic'],
        });
      }
      if (url.pathname === '/jwks')
        return json(res, {
          keys: [{ ...(await exportJWK(signing.publicKey)), kid, alg: 'ES256', use: 'sig' }],
        });
      if (url.pathname === '/authorize') {
        const code = randomBytes(16).toString('base64url');
        codes.set(code, {
          nonce: url.searchParams.get('nonce') ?? '',
          clientId: url.searchParams.get('client_id') ?? '',
          challenge: url.searchParams.get('code_challenge'),
          method: url.searchParams.get('code_challenge_method'),
        });
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.search = new URLSearchParams({
          code,
          state: url.searchParams.get('state') ?? '',
        }).toString();
        res.writeHead(302, { location: back.href }).end();
        return;
      }
      if (url.pathname === '/token' && req.method === 'POST') {
        state.tokenRequests += 1;
        const form = await readForm(req);
        const code = form.get('code') ?? '';
        const entry = codes.get(code);
        codes.delete(code);
        const verifier = form.get('code_verifier');
        const verified = Boolean(
          entry?.challenge &&
          entry.method === 'S256' &&
          verifier &&
          createHash('sha256').update(verifier).digest('base64url') === entry.challenge,
        );
        state.pkce = { method: entry?.method ?? null, verified };
        if (!entry || !verified)
          return void res
            .writeHead(400, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: 'invalid_grant' }));
        return json(res, {
          access_token: randomBytes(16).toString('base64url'),
          token_type: 'Bearer',
          expires_in: 300,
          id_token: await idToken(entry),
        });
      }
      res.writeHead(404).end();
    })().catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
  return { issuer, state, close: () => close(server) };
};

/** Accepts connections and never answers. */
export const startHangingServer = async () => {
  const server = createServer(() => undefined);
  const url = await listen(server);
  return { url, close: () => close(server) };
};

/** A URL on 127.0.0.1 where nothing listens (connection refused). */
export const closedUrl = async () => {
  const server = createServer();
  const url = await listen(server);
  await close(server);
  return url;
};

/** Registers an upstream in One-ID (as the platform administrator would, with the CLI). */
export const registerUpstream = (app: TestApp, upstream: Record<string, unknown>) =>
  app.services.federation.upstreams.add(
    {
      client_id: 'one-id',
      scopes: ['openid', 'profile', 'phone'],
      display_name: { ko: '테스트 신원 제공자', en: 'Test identity provider' },
      ...upstream,
    },
    'test',
  );

/**
 * The government mobile-ID upstream as `gov`: substantial, linking on name, birthdate and phone
 * number, and enrolling citizens it cannot link.
 */
export const registerMobileId = (app: TestApp, gov: { issuer: string; clientSecret: string }) =>
  registerUpstream(app, {
    id: 'gov',
    issuer: gov.issuer,
    client_secret: gov.clientSecret,
    acr: 'urn:one-id:loa:substantial',
    claims: { name: 'name', birthdate: 'birthdate', phone_number: 'phone_number' },
    match: ['name', 'birthdate', 'phone_number'],
    enrolment: true,
    display_name: { ko: '모바일 신분증', en: 'Mobile ID' },
  });

/** Takes a test's upstreams off every sign-in page (the PostgreSQL run shares one database across test files). */
export const retireUpstreams = (app: TestApp, ids: string[]) =>
  app.knex('upstream_providers').whereIn('id', ids).update({ status: 'disabled' });

/**
 * Follows redirects across One-ID and the upstreams until a page answers or the browser would
 * reach `stopAt` (the agency's callback, which no server answers here).
 */
export const browse = async (
  session: BrowserSession,
  url: string,
  stopAt: string,
  init: Parameters<BrowserSession['request']>[1] = {},
) => {
  let current = url;
  let res = await session.request(current, init);
  for (let hops = 0; hops < 20 && res.status >= 300 && res.status < 400; hops += 1) {
    current = new URL(res.headers.get('location')!, current).href;
    if (current.startsWith(stopAt)) return { res, url: current, html: '' };
    res = await session.request(current);
  }
  return { res, url: current, html: await res.text() };
};

/** The login page's button for an upstream (its form's action), or undefined when it is not offered. */
export const upstreamButton = (html: string, id: string) =>
  new RegExp(`action="(/interaction/[\\w-]+/upstream/${id})"`).exec(html)?.[1];
