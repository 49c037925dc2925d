// Data held by another agency: One-ID asks the source with a signed request and returns its signed
// answer as an aggregated claim (OIDC Core 5.6.2); a source that is down or slow leaves the claim
// out without failing userinfo.
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { authorizationRequest, discover, enrolCitizen, registerClient, signIn } from '../support/flows.ts';

let app: TestApp;
let source: Server;
let sourceUrl: string;
let mode: 'ok' | 'down' | 'slow' = 'ok';
const seenRequests: { sub: string; claims: string[] }[] = [];

beforeAll(async () => {
  app = await startTestApp({ CLAIM_SOURCE_TIMEOUT_MS: '500' });
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'vehicle-agency-1', alg: 'ES256' };
  const oneIdJwks = createRemoteJWKSet(new URL(`${app.issuer}/jwks`));
  source = createServer(async (req, res) => {
    if (req.url === '/jwks') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    if (mode === 'down') {
      res.statusCode = 503;
      res.end();
      return;
    }
    if (mode === 'slow') await new Promise((r) => setTimeout(r, 3000));
    // The source checks that One-ID really asked, for this endpoint.
    const { payload } = await jwtVerify(body, oneIdJwks, { issuer: app.issuer, audience: `${sourceUrl}/claims` });
    seenRequests.push({ sub: String(payload.sub), claims: payload.claims as string[] });
    const answer = await new SignJWT({ vehicle_count: 2 }).setProtectedHeader({ alg: 'ES256', kid: jwk.kid }).setIssuer(sourceUrl).setSubject(String(payload.sub)).setIssuedAt().setExpirationTime('5m').sign(privateKey);
    res.setHeader('content-type', 'application/jwt');
    res.end(answer);
  });
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
  sourceUrl = `http://127.0.0.1:${(source.address() as { port: number }).port}`;
});
afterAll(async () => {
  source?.close();
  await app?.stop();
});

describe('claims held by another agency', () => {
  let config: oidc.Configuration;
  let accessToken: string;
  let sourceSub: string;

  beforeAll(async () => {
    // The source agency is itself a registered system: the citizen's sub there names them.
    const sourceClient = await registerClient(app, { redirect_uris: ['https://vehicles.example.go.kr/cb'], agency: '차량등록기관' });
    await app.services.catalogue.put(
      {
        name: 'vehicle_count',
        label: { ko: '보유 차량 수', en: 'Vehicles owned' },
        description: { ko: '등록된 차량 수', en: 'Number of registered vehicles' },
        sensitivity: 'medium',
        scopes: ['vehicle'],
        source: 'agency',
        sourceAgency: '차량등록기관',
        sourceEndpoint: `${sourceUrl}/claims`,
        sourceJwksUri: `${sourceUrl}/jwks`,
        sourceClientId: sourceClient.clientId,
        delivery: 'aggregated',
      },
      'test',
    );
    await app.reloadKeys();
    const citizen = await enrolCitizen(app);
    const client = await registerClient(app, { allowed_claims: [{ claim: 'name', purpose: { ko: '본인 확인', en: 'Identity' }, required: true, retention_days: 30 }, { claim: 'vehicle_count', purpose: { ko: '감면 자격 확인', en: 'Discount eligibility' }, required: true, retention_days: 30 }] });
    config = await discover(app, client);
    const request = await authorizationRequest(config, client.redirectUri, { scope: 'openid profile vehicle' });
    const callback = await signIn(app, createBrowserSession(), citizen.authenticator, request.url);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    accessToken = tokens.access_token;
    // The citizen's sub at the source is the source's pairwise sub, not this client's.
    const sourceConfig = await discover(app, sourceClient);
    const sourceRequest = await authorizationRequest(sourceConfig, sourceClient.redirectUri, { scope: 'openid' });
    const sourceCallback = await signIn(app, createBrowserSession(), citizen.authenticator, sourceRequest.url);
    sourceSub = (await oidc.authorizationCodeGrant(sourceConfig, new URL(sourceCallback), { pkceCodeVerifier: sourceRequest.verifier, expectedState: sourceRequest.state, expectedNonce: sourceRequest.nonce })).claims()!.sub;
    expect(tokens.claims()!.sub).not.toBe(sourceSub);
  });

  it('returns an aggregated claim signed by the source, verifiable against its JWKS', async () => {
    mode = 'ok';
    const userinfo = (await oidc.fetchUserInfo(config, accessToken, oidc.skipSubjectCheck)) as Record<string, any>;
    expect(userinfo._claim_names).toEqual({ vehicle_count: 'src1' });
    const jwt = userinfo._claim_sources.src1.JWT as string;
    const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(`${sourceUrl}/jwks`)), { issuer: sourceUrl });
    expect(payload.vehicle_count).toBe(2);
    expect(payload.sub).toBe(sourceSub);
    expect(seenRequests.at(-1)).toEqual({ sub: sourceSub, claims: ['vehicle_count'] });
    expect(userinfo.name).toBeTruthy();
  });

  it('answers without the claim when the source is down', async () => {
    mode = 'down';
    const userinfo = (await oidc.fetchUserInfo(config, accessToken, oidc.skipSubjectCheck)) as Record<string, unknown>;
    expect(userinfo.name).toBeTruthy();
    expect(userinfo).not.toHaveProperty('_claim_sources');
  });

  it('answers within the timeout when the source hangs', async () => {
    mode = 'slow';
    const started = Date.now();
    const userinfo = (await oidc.fetchUserInfo(config, accessToken, oidc.skipSubjectCheck)) as Record<string, unknown>;
    expect(Date.now() - started).toBeLessThan(2500);
    expect(userinfo).not.toHaveProperty('_claim_names');
  });
});
