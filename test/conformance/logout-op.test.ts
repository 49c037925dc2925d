// OpenID Foundation "RP-Initiated Logout OP" and "Back-Channel Logout OP" profiles, the checks
// that can run here, named after the OpenID Foundation suite's test modules.
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type TestApp } from '../support/app.ts';
import { createBrowserSession, type BrowserSession } from '../support/browser-session.ts';
import { enrolCitizen, signIn } from '../support/flows.ts';
import { confirmLogout, startOneId } from '../interop/support.ts';
import { createRp, type Rp } from './support.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let rp: Rp;
let receiverPort: number;
let receiver: Server;
const received: string[] = [];

beforeAll(async () => {
  // The receiver is on localhost, which the engine's SSRF guard refuses unless allowed.
  app = await startOneId({ OUTBOUND_PRIVATE_HOSTS: 'localhost', BACKCHANNEL_POLL_MS: '50' });
  receiverPort = await freePort();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve));
  citizen = await enrolCitizen(app);
  rp = await createRp(app, {
    redirect_uris: [`http://localhost:${receiverPort}/cb`],
    post_logout_redirect_uris: [`http://localhost:${receiverPort}/logged-out`],
    backchannel_logout_uri: `http://localhost:${receiverPort}/backchannel`,
    backchannel_logout_session_required: true,
  });
});
afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  await app?.stop();
});

/** A signed-in browser and the ID token its sign-in produced. */
const signedIn = async (): Promise<{ session: BrowserSession; idToken: string }> => {
  const session = createBrowserSession();
  const request = rp.request({ nonce: 'logout-nonce' });
  const callback = await signIn(app, session, citizen.authenticator, request.url);
  return { session, idToken: (await rp.tokens(callback, request.verifier)).id_token };
};

const endSession = (params: Record<string, string>) =>
  `${rp.meta.end_session_endpoint}?${new URLSearchParams(params)}`;
const postLogoutUri = () => `http://localhost:${receiverPort}/logged-out`;

describe('RP-Initiated Logout OP', () => {
  it('oidcc-rp-initiated-logout: id_token_hint + post_logout_redirect_uri + state: back to the RP with the state', async () => {
    const { session, idToken } = await signedIn();
    const back = await confirmLogout(
      app,
      session,
      endSession({
        id_token_hint: idToken,
        post_logout_redirect_uri: postLogoutUri(),
        state: 'xyz',
      }),
    );
    expect(back.href).toBe(`${postLogoutUri()}?state=xyz`);
  });

  it('oidcc-rp-initiated-logout-no-state: the redirect carries no state', async () => {
    const { session, idToken } = await signedIn();
    expect(
      (
        await confirmLogout(
          app,
          session,
          endSession({ id_token_hint: idToken, post_logout_redirect_uri: postLogoutUri() }),
        )
      ).href,
    ).toBe(postLogoutUri());
  });

  it('oidcc-rp-initiated-logout-bad-post-logout-redirect-uri: an unregistered URI gets an error page', async () => {
    const { session, idToken } = await signedIn();
    const res = await session.request(
      endSession({
        id_token_hint: idToken,
        post_logout_redirect_uri: `http://localhost:${receiverPort}/elsewhere`,
        state: 's',
      }),
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri: a query added to the registered URI is another URI', async () => {
    const { session, idToken } = await signedIn();
    const res = await session.request(
      endSession({
        id_token_hint: idToken,
        post_logout_redirect_uri: `${postLogoutUri()}?foo=bar`,
      }),
    );
    expect(res.status).toBe(400);
  });

  it('oidcc-rp-initiated-logout-modified-id-token-hint: a tampered id_token_hint is refused', async () => {
    const { session, idToken } = await signedIn();
    const [header, payload, signature] = idToken.split('.');
    const tampered = `${header}.${payload}.${signature!.slice(0, -4)}AAAA`;
    const res = await session.request(
      endSession({ id_token_hint: tampered, post_logout_redirect_uri: postLogoutUri() }),
    );
    expect(res.status).toBe(400);
  });

  it('oidcc-rp-initiated-logout-bad-id-token-hint: an id_token_hint that is not a JWT is refused', async () => {
    const { session } = await signedIn();
    const res = await session.request(
      endSession({ id_token_hint: 'not-a-jwt', post_logout_redirect_uri: postLogoutUri() }),
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('oidcc-rp-initiated-logout-no-id-token-hint / -only-state / -no-params: no client known, so no redirect to it', async () => {
    const variants: Record<string, string>[] = [
      { post_logout_redirect_uri: postLogoutUri(), state: 's' },
      { state: 's' },
      {},
    ];
    for (const params of variants) {
      const { session } = await signedIn();
      const back = await confirmLogout(app, session, endSession(params));
      expect(back.origin).toBe(app.issuer);
      expect(back.pathname).toBe('/session/end/success');
    }
  });

  it("oidcc-rp-initiated-logout-no-post-logout-redirect-uri: One-ID's own signed-out page", async () => {
    const { session, idToken } = await signedIn();
    const back = await confirmLogout(app, session, endSession({ id_token_hint: idToken }));
    expect(back.pathname).toBe('/session/end/success');
    expect((await session.request(back)).status).toBe(200);
  });
});

describe('Back-Channel Logout OP', () => {
  it('oidcc-backchannel-rp-initiated-logout: a valid logout token reaches backchannel_logout_uri', async () => {
    const { session, idToken } = await signedIn();
    const { claims: idClaims } = await rp.idToken(idToken);
    received.length = 0;
    await confirmLogout(
      app,
      session,
      endSession({ id_token_hint: idToken, post_logout_redirect_uri: postLogoutUri() }),
    );
    for (const started = Date.now(); !received.length && Date.now() - started < 8000;)
      await new Promise((r) => setTimeout(r, 25));
    expect(received).toHaveLength(1);
    const token = received[0]!;
    expect(decodeProtectedHeader(token).typ).toBe('logout+jwt');
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(rp.meta.jwks_uri)), {
      issuer: app.issuer,
      audience: rp.client.clientId,
      typ: 'logout+jwt',
    });
    expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
    expect(payload.sub).toBe(idClaims.sub); // the RP's pairwise sub
    expect(payload.sid).toBe(idClaims.sid);
    expect(payload).not.toHaveProperty('nonce');
    expect(typeof payload.jti).toBe('string');
    expect(payload.iat).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
  });
});
