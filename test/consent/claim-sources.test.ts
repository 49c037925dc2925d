// Data held by another agency (OIDC Core 5.6.2): One-ID asks the source with a signed request and
// returns its signed answer as an aggregated claim, or hands the client a reference (endpoint and
// access token) as a distributed claim. A source that is down or slow leaves the claim out without
// failing userinfo, and a note in the log names the source but no personal data. An answer that
// carries more than was asked for and agreed to is refused: it is signed, so it cannot be trimmed.
// The citizen's sub at the source never reaches a client (pairwise subs stay unlinkable across
// agencies): the answer carries no sub but echoes the request's jti, and a distributed access
// token is encrypted for the source.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import {
  compactDecrypt,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWTPayload,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
// Systems allowed agency-held items are fapi2 clients (docs/fapi.md): PAR, private_key_jwt, DPoP.
import {
  fetchUserInfo,
  registerFapiRp as registerClient,
  signInFapi,
  type FapiRp,
} from '../support/fapi-flows.ts';

let app: TestApp;
let source: Server;
let sourceUrl: string;
// How the aggregated endpoint behaves: well, down, slow, or answering with something it must not.
let mode: 'ok' | 'down' | 'slow' | 'extra' | 'sub' | 'wrong-echo' | 'no-echo' | 'wrong-aud' = 'ok';
const seenRequests: { sub: string; claims: string[]; jti: string }[] = [];
const seenBearers: { sub: string; claims: string[] }[] = [];
const logLines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});
/** The app's log notes about claim sources written since `from`. */
const sourceNotes = (from: number) =>
  logLines
    .slice(from)
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((l) => typeof l.source === 'string');

// What the vehicle agency holds about each citizen it knows, by the sub it knows them by.
const VEHICLE_COUNT = 2;
const PERMIT = 'A-1234';

let encPrivateKey: CryptoKey;
const ENC_KID = 'vehicle-agency-enc-1';

beforeAll(async () => {
  app = await startTestApp(
    // The source runs on loopback, which One-ID calls only when OUTBOUND_PRIVATE_HOSTS names it.
    { CLAIM_SOURCE_TIMEOUT_MS: '500', OUTBOUND_PRIVATE_HOSTS: '127.0.0.1' },
    { app: { logger: createLogger('info', sink) } },
  );
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = {
    ...(await exportJWK(publicKey)),
    kid: 'vehicle-agency-1',
    alg: 'ES256',
    use: 'sig',
  };
  // The key One-ID encrypts distributed access tokens to: only this agency can read them.
  const enc = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
  encPrivateKey = enc.privateKey;
  const encJwk = { ...(await exportJWK(enc.publicKey)), kid: ENC_KID, alg: 'ECDH-ES', use: 'enc' };
  const oneIdJwks = createRemoteJWKSet(new URL(`${app.issuer}/jwks`));
  // A signed answer without sub: the source binds it to One-ID's request through request_jti.
  const answer = (claims: JWTPayload, audience?: string) => {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
      .setIssuer(sourceUrl)
      .setIssuedAt()
      .setExpirationTime('5m');
    return (audience ? jwt.setAudience(audience) : jwt).sign(privateKey);
  };
  const aggregatedAnswer = (request: JWTPayload) => {
    const asked = { vehicle_count: VEHICLE_COUNT, request_jti: request.jti };
    if (mode === 'extra') return answer({ ...asked, license_points: 7 }, app.issuer);
    if (mode === 'sub') return answer({ ...asked, sub: request.sub }, app.issuer);
    if (mode === 'wrong-echo') return answer({ ...asked, request_jti: randomUUID() }, app.issuer);
    if (mode === 'no-echo') return answer({ vehicle_count: VEHICLE_COUNT }, app.issuer);
    return answer(asked, mode === 'wrong-aud' ? `${sourceUrl}/claims` : app.issuer);
  };
  source = createServer(async (req, res) => {
    try {
      if (req.url === '/jwks' || req.url === '/jwks-sign-only') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: req.url === '/jwks' ? [jwk, encJwk] : [jwk] }));
        return;
      }
      if (req.url === '/permits' && req.method === 'GET') {
        // Distributed: the client calls with the access token One-ID issued for this endpoint,
        // which only this agency can decrypt; inside, One-ID's signed token.
        const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
        const { plaintext, protectedHeader } = await compactDecrypt(token, encPrivateKey);
        if (protectedHeader.cty !== 'JWT') throw new Error('not a nested JWT');
        const { payload } = await jwtVerify(plaintext, oneIdJwks, {
          issuer: app.issuer,
          audience: `${sourceUrl}/permits`,
          typ: 'at+jwt',
        });
        seenBearers.push({ sub: String(payload.sub), claims: payload.claims as string[] });
        res.setHeader('content-type', 'application/jwt');
        res.end(await answer({ parking_permit: PERMIT }));
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
      const { payload } = await jwtVerify(body, oneIdJwks, {
        issuer: app.issuer,
        audience: `${sourceUrl}/claims`,
        typ: 'claims-request+jwt',
      });
      seenRequests.push({
        sub: String(payload.sub),
        claims: payload.claims as string[],
        jti: String(payload.jti),
      });
      res.setHeader('content-type', 'application/jwt');
      res.end(await aggregatedAnswer(payload));
    } catch {
      res.statusCode = 401;
      res.end();
    }
  });
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
  sourceUrl = `http://127.0.0.1:${(source.address() as { port: number }).port}`;
});
afterAll(async () => {
  source?.close();
  await app?.stop();
});

const allow = (claim: string) => ({
  claim,
  purpose: { ko: '감면 자격 확인', en: 'Discount eligibility' },
  required: true,
  retention_days: 30,
});

describe('claims held by another agency', () => {
  const browser = createBrowserSession();
  let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
  let config: FapiRp;
  let accessToken: string;
  let sourceSub: string;
  let clientSub: string;
  // A client of another sector asking for the distributed items.
  let permitConfig: FapiRp;
  let permitAccessToken: string;
  let permitSub: string;

  const signInAs = (client: FapiRp, params: Record<string, string>) =>
    signInFapi(app, client, browser, citizen.authenticator, params);
  /** Header and payload of a JWS as text, which is all a client can read of it. */
  const readable = (jwt: string) =>
    jwt
      .split('.')
      .slice(0, 2)
      .map((part) => Buffer.from(part, 'base64url').toString('utf8'))
      .join('');
  /** Nothing that names the citizen: no sub of any sector, no account id, no name. */
  const identifying = () =>
    new RegExp(`${sourceSub}|${clientSub}|${permitSub}|${citizen.account.id}|홍길동`);
  /** The citizen's userinfo at the vehicle client and at the permit client. */
  const vehicleUserinfo = async () =>
    (await fetchUserInfo(config, accessToken, clientSub)) as Record<string, any>;
  const permitUserinfo = async () =>
    (await fetchUserInfo(permitConfig, permitAccessToken, permitSub)) as Record<string, any>;
  /** The one source note logged since `from`: a warning about `claims` that names nobody. */
  const onlyWarning = (from: number, claims: string[], reason: string) => {
    const [note, ...more] = sourceNotes(from);
    expect(more).toEqual([]);
    expect(note).toMatchObject({ level: 40, source: new URL(sourceUrl).host, claims, reason });
    expect(JSON.stringify(note)).not.toMatch(identifying());
    return note!;
  };

  beforeAll(async () => {
    // The source agency is itself a registered system: the citizen's sub there names them.
    const sourceClient = await registerClient(app, {
      redirect_uris: ['https://vehicles.example.go.kr/cb'],
      agency: '차량등록기관',
    });
    const item = {
      sensitivity: 'medium',
      source: 'agency',
      sourceAgency: '차량등록기관',
      sourceJwksUri: `${sourceUrl}/jwks`,
      sourceClientId: sourceClient.clientId,
    };
    for (const entry of [
      {
        name: 'vehicle_count',
        label: { ko: '보유 차량 수', en: 'Vehicles owned' },
        description: { ko: '등록된 차량 수', en: 'Number of registered vehicles' },
        scopes: ['vehicle'],
        sourceEndpoint: `${sourceUrl}/claims`,
        delivery: 'aggregated',
      },
      {
        name: 'parking_permit',
        label: { ko: '거주자 주차 허가', en: 'Resident parking permit' },
        description: { ko: '거주자 우선주차 허가 번호', en: 'Your resident parking permit number' },
        scopes: ['parking'],
        sourceEndpoint: `${sourceUrl}/permits`,
        sourceEventsUri: `${sourceUrl}/events`,
        delivery: 'distributed',
      },
      // A distributed item whose source publishes no encryption key: One-ID cannot hide the sub.
      {
        name: 'garage_permit',
        label: { ko: '차고지 증명', en: 'Garage certificate' },
        description: { ko: '차고지 증명 번호', en: 'Your garage certificate number' },
        scopes: ['garage'],
        sourceEndpoint: `${sourceUrl}/garages`,
        sourceJwksUri: `${sourceUrl}/jwks-sign-only`,
        sourceEventsUri: `${sourceUrl}/events`,
        delivery: 'distributed',
      },
    ])
      await app.services.catalogue.put({ ...item, ...entry }, 'test');
    await app.reloadKeys();
    citizen = await enrolCitizen(app);
    const client = await registerClient(app, {
      allowed_claims: [allow('name'), allow('vehicle_count')],
    });
    const signedIn = await signInAs(client, { scope: 'openid profile vehicle' });
    config = signedIn.rp;
    accessToken = signedIn.tokens.access_token;
    clientSub = signedIn.tokens.claims()!.sub;
    // The citizen's sub at the source is the source's pairwise sub, not this client's.
    sourceSub = (await signInAs(sourceClient, { scope: 'openid' })).tokens.claims()!.sub;
    expect(clientSub).not.toBe(sourceSub);
    const permitClient = await registerClient(app, {
      agency: '주차관리기관',
      allowed_claims: [allow('name'), allow('parking_permit'), allow('garage_permit')],
    });
    const permits = await signInAs(permitClient, { scope: 'openid profile parking garage' });
    permitConfig = permits.rp;
    permitAccessToken = permits.tokens.access_token;
    permitSub = permits.tokens.claims()!.sub;
    expect(permitSub).not.toBe(sourceSub);
  });

  it('returns an aggregated claim signed by the source, bound to the request, with nothing identifying the citizen', async () => {
    mode = 'ok';
    const userinfo = await vehicleUserinfo();
    expect(userinfo._claim_names).toEqual({ vehicle_count: 'src1' });
    const jwt = userinfo._claim_sources.src1.JWT as string;
    const { payload, protectedHeader } = await jwtVerify(
      jwt,
      createRemoteJWKSet(new URL(`${sourceUrl}/jwks`)),
      { issuer: sourceUrl },
    );
    expect(payload.vehicle_count).toBe(VEHICLE_COUNT);
    // One-ID named the citizen to the source by the source's sub; the answer the client gets
    // names nobody: only the item, who signed it, for whom (One-ID), when, and the request echo.
    const request = seenRequests.at(-1)!;
    expect(request).toMatchObject({ sub: sourceSub, claims: ['vehicle_count'] });
    expect(Object.keys(payload).sort()).toEqual([
      'aud',
      'exp',
      'iat',
      'iss',
      'request_jti',
      'vehicle_count',
    ]);
    expect(payload).toMatchObject({ aud: app.issuer, request_jti: request.jti });
    expect(Object.keys(protectedHeader).sort()).toEqual(['alg', 'kid']);
    expect(readable(jwt)).not.toMatch(identifying());
    expect(userinfo.name).toBeTruthy();
  });

  // Each answer is verifiably the source's, but would either hand a client the source-sector sub
  // (linkable across agencies) or is not provably the answer to this request for this citizen.
  it.each([
    ['carries sub', 'sub', 'answer carries sub'],
    ['echoes another request', 'wrong-echo', 'request_jti does not match the request'],
    ['does not echo the request', 'no-echo', 'request_jti does not match the request'],
    ['is addressed to someone other than One-ID', 'wrong-aud', 'unexpected "aud" claim value'],
  ] as const)(
    'refuses an aggregated answer that %s, and says so in the log',
    async (_, answerMode, reason) => {
      mode = answerMode;
      const from = logLines.length;
      const asked = seenRequests.length;
      const userinfo = await vehicleUserinfo();
      expect(seenRequests.length).toBe(asked + 1);
      expect(userinfo).not.toHaveProperty('_claim_names');
      expect(userinfo).not.toHaveProperty('_claim_sources');
      expect(userinfo).toMatchObject({ sub: clientSub, name: '홍길동' });
      onlyWarning(from, ['vehicle_count'], reason);
    },
  );

  it('refuses an answer that carries claims beyond those asked for, and says so in the log', async () => {
    mode = 'extra';
    const from = logLines.length;
    const asked = seenRequests.length;
    const userinfo = await vehicleUserinfo();
    expect(seenRequests.length).toBe(asked + 1);
    // The source's JWT would hand over license_points, which nobody agreed to: left out whole.
    expect(userinfo).not.toHaveProperty('_claim_names');
    expect(userinfo).not.toHaveProperty('_claim_sources');
    expect(JSON.stringify(userinfo)).not.toContain('license_points');
    expect(userinfo).toMatchObject({ sub: clientSub, name: '홍길동' });
    const [note, ...more] = sourceNotes(from);
    expect(more).toEqual([]);
    expect(note).toMatchObject({
      source: new URL(sourceUrl).host,
      claims: ['vehicle_count'],
      unexpected: ['license_points'],
    });
    expect(JSON.stringify(note)).not.toMatch(new RegExp(`${sourceSub}|${clientSub}|홍길동|eyJ`));
  });

  it('answers without the claim when the source is down, with a note naming the source', async () => {
    mode = 'down';
    const from = logLines.length;
    const userinfo = await vehicleUserinfo();
    expect(userinfo.name).toBeTruthy();
    expect(userinfo).not.toHaveProperty('_claim_sources');
    onlyWarning(from, ['vehicle_count'], 'status 503');
  });

  it('answers within the timeout when the source hangs, with a note saying so', async () => {
    mode = 'slow';
    const from = logLines.length;
    const started = Date.now();
    const userinfo = await vehicleUserinfo();
    expect(Date.now() - started).toBeLessThan(2500);
    expect(userinfo).not.toHaveProperty('_claim_names');
    expect(onlyWarning(from, ['vehicle_count'], 'timeout').ms).toBeGreaterThanOrEqual(400);
  });

  it('hands a distributed claim over as endpoint and an access token only the source can read, which the client redeems there', async () => {
    mode = 'ok';
    const asked = seenRequests.length;
    const userinfo = await permitUserinfo();
    // One-ID does not call the source itself for a distributed claim.
    expect(seenRequests.length).toBe(asked);
    const name = userinfo._claim_names.parking_permit as string;
    expect(userinfo._claim_names).toEqual({ parking_permit: name });
    const reference = userinfo._claim_sources[name] as { endpoint: string; access_token: string };
    expect(Object.keys(reference).sort()).toEqual(['access_token', 'endpoint']);
    expect(reference.endpoint).toBe(`${sourceUrl}/permits`);
    // What the client holds is a JWE (RFC 7516 compact: five parts) for the source's key: its
    // header names the key, and nothing else is readable.
    const token = reference.access_token;
    expect(token.split('.')).toHaveLength(5);
    expect(decodeProtectedHeader(token)).toMatchObject({
      alg: 'ECDH-ES',
      enc: 'A256GCM',
      cty: 'JWT',
      kid: ENC_KID,
    });
    expect(() => decodeJwt(token)).toThrow();
    expect(Buffer.from(token.split('.')[0]!, 'base64url').toString()).not.toMatch(identifying());
    // Inside, for the source's private key only: One-ID's signed token for that endpoint only,
    // short-lived, naming the citizen by the source's sub and the claims it may be redeemed for.
    const inner = new TextDecoder().decode((await compactDecrypt(token, encPrivateKey)).plaintext);
    const { payload: granted } = await jwtVerify(
      inner,
      createRemoteJWKSet(new URL(`${app.issuer}/jwks`)),
      { issuer: app.issuer, audience: `${sourceUrl}/permits`, typ: 'at+jwt' },
    );
    expect(granted).toMatchObject({ sub: sourceSub, claims: ['parking_permit'] });
    expect(granted.exp! - granted.iat!).toBe(300);
    expect(token).not.toContain(inner.split('.')[1]);
    // The client redeems it (OIDC Core 5.6.2: a bearer token at the endpoint) and checks the
    // answer against the source's keys; the answer names nobody either.
    const redeemed = await fetch(reference.endpoint, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(redeemed.status).toBe(200);
    const answer = await redeemed.text();
    const { payload } = await jwtVerify(answer, createRemoteJWKSet(new URL(`${sourceUrl}/jwks`)), {
      issuer: sourceUrl,
    });
    expect(payload.parking_permit).toBe(PERMIT);
    expect(readable(answer)).not.toMatch(identifying());
    expect(seenBearers.at(-1)).toEqual({ sub: sourceSub, claims: ['parking_permit'] });
    // The token is good at its own endpoint only: a request to another endpoint is refused there.
    const elsewhere = await fetch(`${sourceUrl}/claims`, {
      method: 'POST',
      headers: { 'content-type': 'application/jwt' },
      body: token,
    });
    expect(elsewhere.status).toBe(401);
  });

  it('leaves a distributed claim out, with a note, when its source publishes no encryption key', async () => {
    const from = logLines.length;
    const userinfo = await permitUserinfo();
    expect(Object.keys(userinfo._claim_names)).toEqual(['parking_permit']);
    expect(Object.keys(userinfo._claim_sources)).toHaveLength(1);
    onlyWarning(from, ['garage_permit'], 'no encryption key (use "enc") in the source JWKS');
  });

  it('puts an aggregated claim in the ID token when the claims parameter asks for it there', async () => {
    mode = 'ok';
    const client = await registerClient(app, {
      allowed_claims: [allow('name'), allow('vehicle_count')],
    });
    const { tokens } = await signInAs(client, {
      scope: 'openid',
      claims: JSON.stringify({ id_token: { vehicle_count: { essential: true } } }),
    });
    // openid-client has checked the ID token's signature, issuer, audience and nonce.
    const idToken = tokens.claims() as Record<string, any>;
    expect(idToken._claim_names).toEqual({ vehicle_count: 'src1' });
    const { payload } = await jwtVerify(
      idToken._claim_sources.src1.JWT,
      createRemoteJWKSet(new URL(`${sourceUrl}/jwks`)),
      { issuer: sourceUrl },
    );
    expect(payload).toMatchObject({
      aud: app.issuer,
      request_jti: seenRequests.at(-1)!.jti,
      vehicle_count: VEHICLE_COUNT,
    });
    expect(payload).not.toHaveProperty('sub');
  });

  it('leaves scope-requested agency claims out of the ID token (userinfo carries them) without asking the source for it', async () => {
    mode = 'ok';
    const client = await registerClient(app, {
      allowed_claims: [allow('name'), allow('vehicle_count')],
    });
    let asked = 0;
    const { tokens } = await signInFapi(
      app,
      client,
      browser,
      citizen.authenticator,
      { scope: 'openid profile vehicle' },
      () => (asked = seenRequests.length),
    );
    expect(tokens.claims()).not.toHaveProperty('_claim_names');
    expect(seenRequests.length).toBe(asked);
    const userinfo = (await fetchUserInfo(
      client,
      tokens.access_token,
      tokens.claims()!.sub,
    )) as Record<string, unknown>;
    expect(userinfo._claim_names).toEqual({ vehicle_count: 'src1' });
    expect(seenRequests.length).toBe(asked + 1);
  });
});
