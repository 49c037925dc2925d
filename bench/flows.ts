// The whole sign-in as a browser and an agency system do it, over real HTTP:
//   One-ID:   GET /auth (PKCE S256) -> GET /interaction/:uid (login page, CSRF token)
//             -> POST passkey/options -> assertion signed here (software authenticator, the
//             seeded account's key) -> POST passkey/verify -> GET /auth/:uid (remembered consent,
//             no consent page) -> redirect_uri?code -> POST /token (client_secret_basic; ES256 ID token).
//   Baseline: GET /auth -> GET /interaction/:uid (auto-login: login + grant at once)
//             -> GET /auth/:uid -> redirect_uri?code -> POST /token.
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { createBrowser, type Http } from './http.ts';

export type Target = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  kind: 'one-id' | 'baseline';
};
/** The target a started bench server (bench/targets.ts) is. */
export const targetOf = (
  server: Pick<Target, 'issuer' | 'clientId' | 'clientSecret' | 'redirectUri'>,
  kind: Target['kind'],
): Target => ({
  issuer: server.issuer,
  clientId: server.clientId,
  clientSecret: server.clientSecret,
  redirectUri: server.redirectUri,
  kind,
});
export type Signer = { credentialId: string; privateKey: KeyObject };
export type Tokens = { access_token: string; refresh_token?: string; id_token: string };

const b64u = (b: Buffer) => b.toString('base64url');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest();

/** navigator.credentials.get() by a synced passkey (counter 0, UV): what an authenticator returns. */
export const assertion = (
  request: { challenge: string; rpId?: string },
  signer: Signer,
  origin: string,
) => {
  const rpId = request.rpId ?? new URL(origin).hostname;
  const authData = Buffer.concat([
    sha(rpId),
    Buffer.from([0x01 | 0x04 | 0x08 | 0x10]),
    Buffer.alloc(4),
  ]);
  const clientData = Buffer.from(
    JSON.stringify({
      type: 'webauthn.get',
      challenge: request.challenge,
      origin,
      crossOrigin: false,
    }),
  );
  return {
    id: signer.credentialId,
    rawId: signer.credentialId,
    type: 'public-key',
    response: {
      clientDataJSON: b64u(clientData),
      authenticatorData: b64u(authData),
      signature: b64u(
        sign('sha256', Buffer.concat([authData, sha(clientData)]), signer.privateKey),
      ),
    },
    clientExtensionResults: {},
    authenticatorAttachment: 'platform',
  };
};

export const basic = (t: Pick<Target, 'clientId' | 'clientSecret'>) =>
  `Basic ${Buffer.from(`${encodeURIComponent(t.clientId)}:${encodeURIComponent(t.clientSecret)}`).toString('base64')}`;

const fail = (step: string, status: number, body: string): never => {
  throw new Error(`${step}: HTTP ${status} ${body.slice(0, 200)}`);
};

/** One complete sign-in with a fresh browser; returns the token response. */
export const signInFlow = async (
  http: Http,
  target: Target,
  signer: Signer | undefined,
  scope = 'openid profile email',
): Promise<Tokens> => {
  const browser = createBrowser(http);
  const verifier = b64u(randomBytes(32));
  const params = new URLSearchParams({
    client_id: target.clientId,
    redirect_uri: target.redirectUri,
    response_type: 'code',
    scope,
    code_challenge: b64u(sha(verifier)),
    code_challenge_method: 'S256',
    state: b64u(randomBytes(12)),
    nonce: b64u(randomBytes(12)),
  });
  let { reply, url } = await browser.follow(`${target.issuer}/auth?${params}`, target.issuer);
  if (target.kind === 'one-id') {
    if (reply.status !== 200) fail('login page', reply.status, reply.body);
    const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(reply.body)?.[1] ?? '';
    const path = new URL(url).pathname;
    const headers = { 'content-type': 'application/json', 'x-csrf-token': csrf };
    const options = await browser.go(`${target.issuer}${path}/passkey/options`, {
      method: 'POST',
      headers,
      body: '{}',
    });
    if (options.status !== 200) fail('passkey options', options.status, options.body);
    const verify = await browser.go(`${target.issuer}${path}/passkey/verify`, {
      method: 'POST',
      headers,
      body: JSON.stringify(
        assertion(JSON.parse(options.body), signer!, new URL(target.issuer).origin),
      ),
    });
    if (verify.status !== 200) fail('passkey verify', verify.status, verify.body);
    ({ reply, url } = await browser.follow(
      new URL(JSON.parse(verify.body).location, target.issuer).toString(),
      target.issuer,
    ));
  }
  if (!url.startsWith(target.redirectUri))
    fail(`expected the callback, got ${url}`, reply.status, reply.body);
  const code = new URL(url).searchParams.get('code');
  if (!code) fail(`no code in ${url}`, reply.status, reply.body);
  const token = await http.send(`${target.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(target), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: code!,
      redirect_uri: target.redirectUri,
      code_verifier: verifier,
    }).toString(),
  });
  if (token.status !== 200) fail('token', token.status, token.body);
  return JSON.parse(token.body) as Tokens;
};

export type FlowResult = {
  flows: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  firstError?: string | undefined;
};

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;

/** `connections` browsers signing in back to back for `seconds`; latency is per whole flow (ms). */
export const runFlows = async (
  http: Http,
  target: Target,
  connections: number,
  seconds: number,
  signerFor: (n: number) => Signer | undefined,
): Promise<FlowResult> => {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let n = 0;
  const began = performance.now();
  const deadline = began + seconds * 1000;
  const user = async () => {
    while (performance.now() < deadline) {
      const start = performance.now();
      try {
        await signInFlow(http, target, signerFor(n++));
        latencies.push(performance.now() - start);
      } catch (error) {
        errors += 1;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, user));
  const elapsed = (performance.now() - began) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    flows: latencies.length,
    errors,
    seconds: elapsed,
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    firstError,
  };
};
