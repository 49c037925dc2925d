// A withdrawal reaches the source agency at once (docs/claim-sources.md, section 3): a distributed
// token a requesting system already holds gets nothing from the source once the citizen withdraws
// consent, the consent expires, or an administrator ends the citizen's sessions. The source here
// is built from the docs only: it decrypts and checks the bearer token, and takes One-ID's
// Security Event Tokens (RFC 8417, pushed as RFC 8935) at its events endpoint.
import { createServer, type Server } from 'node:http';
import {
  compactDecrypt,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWTPayload,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { runCli } from '../support/cli.ts';
import { enrolCitizen, registerClient } from '../support/flows.ts';
// Systems allowed agency-held items are fapi2 clients (docs/fapi.md): PAR, private_key_jwt, DPoP.
import { fetchUserInfo, registerFapiRp, signInFapi } from '../support/fapi-flows.ts';

const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

let app: TestApp;
let source: Server;
let sourceUrl: string;
let encPrivateKey: CryptoKey;
/** The distributed tokens (`jti`) the source refuses, as One-ID's events told it. */
const revoked = new Set<string>();
const events: { set: JWTPayload; header: Record<string, unknown> }[] = [];
// The source's events endpoint fails this many times before accepting (One-ID must retry).
let failNextEvents = 0;

beforeAll(async () => {
  app = await startTestApp({
    OUTBOUND_PRIVATE_HOSTS: '127.0.0.1',
    BACKCHANNEL_POLL_MS: '100',
    BACKCHANNEL_RETRY_BASE_MS: '50',
    SESSION_SWEEP_SECONDS: '1',
  });
  const sig = await generateKeyPair('ES256');
  const sigJwk = {
    ...(await exportJWK(sig.publicKey)),
    kid: 'permits-1',
    alg: 'ES256',
    use: 'sig',
  };
  const enc = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
  encPrivateKey = enc.privateKey;
  const encJwk = { ...(await exportJWK(enc.publicKey)), kid: 'permits-enc-1', use: 'enc' };
  const oneIdJwks = createRemoteJWKSet(new URL(`${app.issuer}/jwks`));
  source = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.url === '/jwks') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [sigJwk, encJwk] }));
      return;
    }
    if (req.url === '/events' && req.method === 'POST') {
      // RFC 8935 2.2: a SET, verified like any One-ID token; 202 once it is taken in.
      try {
        if (req.headers['content-type'] !== 'application/secevent+jwt') throw new Error('type');
        if (failNextEvents > 0) {
          failNextEvents -= 1;
          res.statusCode = 503;
          res.end();
          return;
        }
        const { payload, protectedHeader } = await jwtVerify(body, oneIdJwks, {
          issuer: app.issuer,
          audience: `${sourceUrl}/permits`,
          typ: 'secevent+jwt',
        });
        const subject = payload.sub_id as { format: string; iss: string; jti: string };
        if (!(payload.events as Record<string, unknown>)[SESSION_REVOKED]) throw new Error('event');
        if (subject.format !== 'jwt_id' || subject.iss !== app.issuer) throw new Error('subject');
        revoked.add(subject.jti);
        events.push({ set: payload, header: { ...protectedHeader } });
        res.statusCode = 202;
        res.end();
      } catch {
        res.statusCode = 400;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ err: 'invalid_request' }));
      }
      return;
    }
    if (req.url === '/permits' && req.method === 'GET') {
      try {
        const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
        const { plaintext, protectedHeader } = await compactDecrypt(token, encPrivateKey);
        if (protectedHeader.cty !== 'JWT') throw new Error('not a nested JWT');
        const { payload } = await jwtVerify(plaintext, oneIdJwks, {
          issuer: app.issuer,
          audience: `${sourceUrl}/permits`,
          typ: 'at+jwt',
        });
        if (revoked.has(String(payload.jti))) throw new Error('revoked');
        res.setHeader('content-type', 'application/jwt');
        res.end(
          await new SignJWT({ parking_permit: 'A-1234' })
            .setProtectedHeader({ alg: 'ES256', kid: sigJwk.kid })
            .setIssuer(sourceUrl)
            .setAudience(app.issuer)
            .setIssuedAt()
            .setExpirationTime('5m')
            .sign(sig.privateKey),
        );
      } catch {
        res.statusCode = 401;
        res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
        res.end();
      }
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
  sourceUrl = `http://127.0.0.1:${(source.address() as { port: number }).port}`;
  const sourceClient = await registerClient(app, {
    redirect_uris: ['https://permits.example.go.kr/cb'],
    agency: '주차관리기관',
  });
  await app.services.catalogue.put(
    {
      name: 'parking_permit',
      label: { ko: '거주자 주차 허가', en: 'Resident parking permit' },
      description: { ko: '거주자 우선주차 허가 번호', en: 'Your resident parking permit number' },
      sensitivity: 'medium',
      scopes: ['parking'],
      source: 'agency',
      sourceAgency: '주차관리기관',
      sourceEndpoint: `${sourceUrl}/permits`,
      sourceJwksUri: `${sourceUrl}/jwks`,
      sourceClientId: sourceClient.clientId,
      sourceEventsUri: `${sourceUrl}/events`,
      delivery: 'distributed',
    },
    'test',
  );
  await app.reloadKeys();
});
afterAll(async () => {
  source?.close();
  await app?.stop();
});

const purpose = { ko: '감면 자격 확인', en: 'Discount eligibility' };

/** A citizen signed in to a fresh requesting system; returns what it holds after userinfo. */
const holdDistributedToken = async () => {
  const citizen = await enrolCitizen(app);
  const browser = createBrowserSession();
  const client = await registerFapiRp(app, {
    agency: '세무기관',
    allowed_claims: [{ claim: 'parking_permit', purpose, required: true, retention_days: 30 }],
  });
  const { tokens } = await signInFapi(app, client, browser, citizen.authenticator, {
    scope: 'openid parking',
  });
  const userinfo = (await fetchUserInfo(
    client,
    tokens.access_token,
    tokens.claims()!.sub,
  )) as Record<string, any>;
  const reference = userinfo._claim_sources[userinfo._claim_names.parking_permit] as {
    endpoint: string;
    access_token: string;
  };
  const redeem = () =>
    fetch(reference.endpoint, { headers: { authorization: `Bearer ${reference.access_token}` } });
  expect((await redeem()).status, 'the held token works before').toBe(200);
  const jti = String(
    decodeInner(
      new TextDecoder().decode(
        (await compactDecrypt(reference.access_token, encPrivateKey)).plaintext,
      ),
    ).jti,
  );
  return { citizen, browser, client, redeem, jti };
};
const decodeInner = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as JWTPayload;

/** Waits for the source to have been told to refuse `jti`. */
const eventFor = async (jti: string) => {
  const deadline = Date.now() + 25_000;
  while (!revoked.has(jti)) {
    expect(Date.now(), 'the source was told').toBeLessThan(deadline);
    await new Promise((r) => setTimeout(r, 50));
  }
  return events.find((e) => (e.set.sub_id as { jti: string }).jti === jti)!;
};

describe('a withdrawal reaching the source agency', () => {
  it('tells the source to refuse a held distributed token as soon as the citizen withdraws consent', async () => {
    const { citizen, browser, client, redeem, jti } = await holdDistributedToken();
    const [consent] = await app
      .knex('consents')
      .where({ account_id: citizen.account.id, client_id: client.clientId });
    const account = await browser.follow(`${app.issuer}/account`, app.issuer);
    const withdrawn = await browser.request(
      `${app.issuer}/account/consents/${consent.id}/withdraw`,
      { method: 'POST', form: { _csrf: csrfFrom(await account.res.text()) } },
    );
    expect(withdrawn.status).toBe(302);
    const { set, header } = await eventFor(jti);
    expect(header).toMatchObject({ typ: 'secevent+jwt', alg: 'ES256' });
    expect(set).toMatchObject({
      iss: app.issuer,
      aud: `${sourceUrl}/permits`,
      sub_id: { format: 'jwt_id', iss: app.issuer, jti },
      events: {
        [SESSION_REVOKED]: {
          initiating_entity: 'user',
          reason_admin: { en: 'consent_withdrawn' },
          event_timestamp: expect.any(Number),
        },
      },
    });
    // Nothing naming the citizen: the source learns which token, not who or which system.
    expect(JSON.stringify(set)).not.toMatch(new RegExp(`${citizen.account.id}|${client.clientId}`));
    expect((await redeem()).status).toBe(401);
    const audit = await app
      .knex('audit_events')
      .where({ action: 'claims.source-event.delivered', subject: `account:${citizen.account.id}` });
    expect(audit.map((a) => a.details)).toEqual([
      expect.objectContaining({ reason: 'consent_withdrawn', clientId: client.clientId }),
    ]);
  });

  it('tells the source when the consent expires', async () => {
    const { citizen, client, redeem, jti } = await holdDistributedToken();
    // The sweep (every second here) closes a consent past its expiry as it would after CONSENT_MAX_AGE_DAYS.
    await app
      .knex('consents')
      .where({ account_id: citizen.account.id, client_id: client.clientId })
      .update({ expires_at: new Date(Date.now() - 1000) });
    const { set } = await eventFor(jti);
    expect(set.events).toMatchObject({
      [SESSION_REVOKED]: { initiating_entity: 'policy', reason_admin: { en: 'consent_expired' } },
    });
    expect((await redeem()).status).toBe(401);
  });

  it('tells the source when an administrator ends the citizen sessions, retrying until it accepts', async () => {
    const { citizen, redeem, jti } = await holdDistributedToken();
    failNextEvents = 2;
    const cli = await runCli(app, 'sessions', 'end', '--account', citizen.account.id);
    expect(cli.stdout).toContain('1 claim source event(s) queued');
    const { set } = await eventFor(jti);
    expect(failNextEvents).toBe(0);
    expect(set.events).toMatchObject({
      [SESSION_REVOKED]: { initiating_entity: 'admin', reason_admin: { en: 'sessions_ended' } },
    });
    expect((await redeem()).status).toBe(401);
    const [row] = await app.knex('source_event_deliveries').where({ token_jti: jti });
    expect(row.status).toBe('delivered');
    // Two refused attempts, then the one accepted (more only if an attempt timed out under load).
    expect(row.attempts).toBeGreaterThanOrEqual(3);
  }, 90_000);
});
