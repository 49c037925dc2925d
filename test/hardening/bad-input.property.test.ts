// Bad input, property-based (fast-check): malformed and hostile requests at every endpoint that
// reads input (authorization, token, userinfo, introspection, revocation, PAR, registration,
// logout, passkey sign-in and enrolment ceremonies, certificate sign-in, the admin API): huge
// bodies, wrong content types, broken JSON, bad base64url, malformed JWTs, JWKs and
// certificates, unicode, SQL and template injection. Never a 500, never a hang (each request
// must answer within 5 s), and memory stays bounded over the run. fast-check shrinks a failure
// to the smallest request that still fails and prints it with its seed.
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { authorizationRequest, discover, enrolCitizen, registerClient } from '../support/flows.ts';
import { certificateEnv, createTestPki, type TestPki } from '../auth/certificate-login/support.ts';

// A full collection before each heap reading, so the comparison measures what stays, not garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

type Req = {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | undefined;
  label: string;
};

let app: TestApp;
let pki: TestPki;
let client: Awaited<ReturnType<typeof registerClient>>;
let login: { path: string; cookie: string; csrf: string };
let enrol: { path: string; cookie: string; csrf: string };

const cookieOf = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

beforeAll(async () => {
  pki = await createTestPki();
  app = await startTestApp({
    ...certificateEnv(pki),
    DCR_ENABLED: 'true',
    // Limits high enough that the input reaches the handlers (rate-limits.test.ts tests them).
    RATE_LIMIT_SIGNIN_PER_MINUTE: '100000',
    RATE_LIMIT_ACCOUNT_PER_MINUTE: '100000',
    RATE_LIMIT_ENROLMENT_PER_MINUTE: '100000',
    RATE_LIMIT_TOKEN_PER_MINUTE: '100000',
    RATE_LIMIT_ADMIN_PER_MINUTE: '100000',
  });
  await enrolCitizen(app);
  client = await registerClient(app);
  const config = await discover(app, client);
  const session = createBrowserSession();
  const { res, url } = await session.follow(
    (await authorizationRequest(config, client.redirectUri)).url.toString(),
    app.issuer,
  );
  login = {
    path: new URL(url).pathname,
    cookie: cookieOf(session.jar),
    csrf: csrfFrom(await res.text()),
  };
  const { url: enrolUrl } = await app.services.accounts.enrolCitizen(
    { name: '김퍼즈', birthdate: '1999-09-09' },
    'test',
  );
  const enrolSession = createBrowserSession();
  const page = await enrolSession.request(enrolUrl);
  enrol = {
    path: new URL(enrolUrl).pathname,
    cookie: cookieOf(enrolSession.jar),
    csrf: csrfFrom(await page.text()),
  };
});
afterAll(async () => {
  await app?.stop();
  await pki?.close();
});

// --- hostile values ---------------------------------------------------------------------------
const INJECTIONS = [
  "' OR '1'='1' --",
  "'; DROP TABLE accounts; --",
  '" OR ""="',
  '1; SELECT pg_sleep(10)',
  '{{7*7}}',
  '${7*7}',
  '<%= 7*7 %>',
  '#{7*7}',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '../../../../etc/passwd',
  '%00',
  '\u0000',
  '\uFFFF',
  '\uD800',
  '\u202E\u0041',
  '홍길동',
  '👩‍👩‍👧‍👦',
  '__proto__',
  'constructor',
  '{"$ne":null}',
  'javascript:alert(1)',
  'http://169.254.169.254/latest/meta-data/',
  '\r\nX-Injected: 1',
];
const text = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.string({ maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.nat({ max: 20_000 }).map((n) => 'A'.repeat(n)),
);
/** A path segment: hostile text percent-encoded (lone surrogates made well-formed), or raw broken escapes. */
const pathPart = fc.oneof(
  text.map((t) =>
    encodeURIComponent(
      t.replace(
        /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
        '\uFFFD',
      ),
    ),
  ),
  fc.constantFrom(
    '%',
    '%%',
    '%E0%A4%A',
    '%c0%ae%c0%ae',
    '..',
    '%2e%2e',
    '%00',
    ';',
    '%FF',
    '%u0041',
  ),
);
const headerSafe = fc.stringMatching(/^[\x21-\x7e]{0,120}$/);
const b64u = fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b).toString('base64url'));
const brokenB64 = fc.oneof(
  b64u,
  b64u.map((s) => `${s}==`),
  b64u.map((s) => s.replace(/-/g, '+').replace(/_/g, '/')),
  text,
  fc.constant('!!!not base64!!!'),
);
const json = fc.jsonValue({ maxDepth: 3 });
const jwk = fc.oneof(
  fc.record(
    {
      kty: fc.constantFrom('EC', 'RSA', 'OKP', 'oct', 'x'),
      crv: fc.constantFrom('P-256', 'P-384', 'Ed25519', 'none'),
      x: brokenB64,
      y: brokenB64,
      n: brokenB64,
      e: brokenB64,
      kid: text,
      alg: fc.constantFrom('ES256', 'none', 'HS256', 'RS1'),
    },
    { requiredKeys: [] },
  ),
  json,
);
const certificate = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b).toString('base64')),
  fc.constant(
    `-----BEGIN CERTIFICATE-----\n${randomBytes(300).toString('base64')}\n-----END CERTIFICATE-----`,
  ),
  fc.constant(Buffer.from([0x30, 0x82, 0xff, 0xff, 0x30, 0x80]).toString('base64')), // DER claiming 65535 bytes, indefinite length inside
  text,
);
const segment = (value: fc.Arbitrary<unknown>) =>
  value.map((v) =>
    Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url'),
  );
const jwt = fc.oneof(
  fc
    .tuple(
      segment(
        fc.record(
          {
            alg: fc.constantFrom('none', 'ES256', 'HS256', 'RS256', 'xyz'),
            typ: text,
            kid: text,
            jwk,
            x5c: fc.array(certificate, { maxLength: 3 }),
            crit: fc.array(text, { maxLength: 2 }),
          },
          { requiredKeys: [] },
        ),
      ),
      segment(json),
      brokenB64,
    )
    .map((parts) => parts.join('.')),
  fc.array(brokenB64, { maxLength: 6 }).map((parts) => parts.join('.')),
  text,
);
const anyValue = fc.oneof(
  text,
  jwt,
  brokenB64,
  json.map((j) => JSON.stringify(j)),
);
const form = fc
  .dictionary(
    fc.oneof(
      fc.constantFrom(
        'client_id',
        'redirect_uri',
        'scope',
        'response_type',
        'code',
        'code_verifier',
        'code_challenge',
        'grant_type',
        'refresh_token',
        'client_secret',
        'client_assertion',
        'client_assertion_type',
        'request',
        'request_uri',
        'claims',
        'nonce',
        'state',
        'prompt',
        'max_age',
        'acr_values',
        'ui_locales',
        'token',
        'token_type_hint',
        'id_token_hint',
        'post_logout_redirect_uri',
        'login_hint',
        'resource',
        '_csrf',
      ),
      text,
    ),
    anyValue,
    { maxKeys: 8 },
  )
  .map((d) => new URLSearchParams(d).toString());

// --- bodies and content types ----------------------------------------------------------------
type Body = { contentType?: string | undefined; body?: string | Uint8Array | undefined };
const jsonBody = (value: fc.Arbitrary<unknown>): fc.Arbitrary<Body> =>
  value.map((v) => ({ contentType: 'application/json', body: JSON.stringify(v) }));
const hostileBody: fc.Arbitrary<Body> = fc.oneof(
  jsonBody(json),
  fc.record({
    contentType: fc.constant('application/json'),
    body: fc.constantFrom(
      '{',
      '{"a":',
      '[1,2',
      '{"__proto__":{"polluted":true}}',
      'null',
      '"str"',
      '\u0000',
      '{"a":1}garbage',
      '{'.repeat(5000),
    ),
  }),
  fc.record({
    contentType: fc.constantFrom(
      'application/x-www-form-urlencoded',
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-16',
      'application/jwt',
      'image/png',
      '*/*',
      ';;;',
    ),
    body: fc.oneof(form, text),
  }),
  form.map((body) => ({ contentType: 'application/x-www-form-urlencoded', body })),
  // Bigger than any limit (ours 64 KiB, the engine's 56 KiB): refused without being held in memory.
  fc
    .constantFrom(100 * 1024, 700 * 1024, 2 * 1024 * 1024)
    .map((size) => ({ contentType: 'application/json', body: new Uint8Array(size).fill(0x7b) })),
  fc.constant<Body>({}),
);
const passkeyResponse = fc.record(
  {
    id: anyValue,
    rawId: brokenB64,
    type: fc.constantFrom('public-key', 'x'),
    response: fc.record(
      {
        clientDataJSON: fc.oneof(
          brokenB64,
          segment(
            fc.record({
              type: fc.constantFrom('webauthn.get', 'webauthn.create', 'x'),
              challenge: text,
              origin: text,
            }),
          ),
        ),
        authenticatorData: brokenB64,
        signature: brokenB64,
        userHandle: brokenB64,
        attestationObject: brokenB64,
        transports: fc.array(text, { maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
    clientExtensionResults: json,
    identifier: text,
  },
  { requiredKeys: [] },
);

// --- requests, per endpoint ------------------------------------------------------------------
const withBody = (
  label: string,
  method: string,
  path: fc.Arbitrary<string>,
  body: fc.Arbitrary<Body>,
  headers: fc.Arbitrary<Record<string, string>> = fc.constant({}),
): fc.Arbitrary<Req> =>
  fc.tuple(path, body, headers).map(([p, b, h]) => ({
    label,
    method,
    path: p,
    headers: { ...h, ...(b.contentType && { 'content-type': b.contentType }) },
    body: b.body,
  }));
const query = (base: string) => form.map((q) => `${base}?${q}`);
const auth = fc.oneof(
  fc.constant({}),
  headerSafe.map((v) => ({ authorization: `Basic ${Buffer.from(v).toString('base64')}` })),
  headerSafe.map((v) => ({ authorization: `Bearer ${v}` })),
  headerSafe.map((v) => ({ authorization: `DPoP ${v}`, dpop: v })),
  fc.constant({ authorization: `Basic ${'A'.repeat(6000)}` }),
);
const ours = (kind: 'login' | 'enrol') => (kind === 'login' ? login : enrol);
const page = (kind: 'login' | 'enrol', json: boolean) =>
  fc.constant({
    cookie: ours(kind).cookie,
    'x-csrf-token': ours(kind).csrf,
    ...(json && { accept: 'application/json' }),
  });

/** Built once the app, client, interaction and enrolment link exist (they appear in the requests). */
const requests = (): fc.Arbitrary<Req> =>
  fc.oneof(
    fc.tuple(query('/auth'), fc.boolean()).map(([path, validClient]) => ({
      label: 'authorization',
      method: 'GET',
      path: validClient
        ? `${path}&client_id=${encodeURIComponent(client.clientId)}&redirect_uri=${encodeURIComponent(client.redirectUri)}`
        : path,
      headers: {},
    })),
    withBody('authorization POST', 'POST', fc.constant('/auth'), hostileBody),
    withBody('token', 'POST', fc.constant('/token'), hostileBody, auth),
    withBody(
      'token (client)',
      'POST',
      fc.constant('/token'),
      form.map((body) => ({
        contentType: 'application/x-www-form-urlencoded',
        body: `${body}&grant_type=authorization_code`,
      })),
      fc.constant({
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      }),
    ),
    withBody('userinfo', 'GET', fc.constant('/me'), fc.constant({}), auth),
    withBody('userinfo POST', 'POST', fc.constant('/me'), hostileBody, auth),
    withBody(
      'introspection',
      'POST',
      fc.constantFrom('/token/introspection', '/token/revocation'),
      hostileBody,
      auth,
    ),
    withBody('PAR', 'POST', fc.constant('/request'), hostileBody, auth),
    withBody(
      'registration',
      'POST',
      fc.constant('/reg'),
      fc.oneof(
        hostileBody,
        jsonBody(
          fc.record(
            {
              redirect_uris: fc.array(text, { maxLength: 3 }),
              jwks: fc.record({ keys: fc.array(jwk, { maxLength: 3 }) }),
              jwks_uri: text,
              client_name: text,
              token_endpoint_auth_method: text,
              sector_identifier_uri: text,
            },
            { requiredKeys: [] },
          ),
        ),
      ),
      auth,
    ),
    withBody('logout', 'GET', query('/session/end'), fc.constant({})),
    withBody(
      'passkey options',
      'POST',
      fc.constant(`${'{login}'}/passkey/options`),
      fc.oneof(
        hostileBody,
        jsonBody(fc.record({ identifier: text, _csrf: text }, { requiredKeys: [] })),
      ),
      fc.boolean().chain((j) => page('login', j)),
    ),
    withBody(
      'passkey verify',
      'POST',
      fc.constant(`${'{login}'}/passkey/verify`),
      fc.oneof(hostileBody, jsonBody(passkeyResponse)),
      fc.boolean().chain((j) => page('login', j)),
    ),
    withBody(
      'enrolment',
      'POST',
      fc.constantFrom(`${'{enrol}'}/options`, `${'{enrol}'}/verify`),
      fc.oneof(hostileBody, jsonBody(passkeyResponse)),
      fc.boolean().chain((j) => page('enrol', j)),
    ),
    withBody(
      'enrolment token',
      'GET',
      pathPart.map((t) => `/enrol/${t}`),
      fc.constant({}),
    ),
    withBody(
      'interaction',
      'GET',
      pathPart.map((t) => `/interaction/${t}`),
      fc.constant({}),
      page('login', false),
    ),
    withBody(
      'certificate verify',
      'POST',
      fc.constant(`${'{login}'}/certificate/verify`),
      fc.oneof(
        hostileBody,
        jsonBody(fc.record({ jws: jwt }, { requiredKeys: [] })),
        fc.record({
          contentType: fc.constant('application/x-www-form-urlencoded'),
          body: jwt.map((j) => new URLSearchParams({ jws: j, _csrf: login.csrf }).toString()),
        }),
      ),
      fc.boolean().chain((j) => page('login', j)),
    ),
    withBody(
      'certificate forwarded',
      'GET',
      fc.constant(`${'{login}'}/certificate/proxy`),
      fc.constant({}),
      fc
        .tuple(certificate, page('login', false))
        .map(([c, h]) => ({ ...h, 'client-cert': `:${c.replace(/[^A-Za-z0-9+/=]/g, '')}:` })),
    ),
    withBody(
      'certificate enrolment',
      'POST',
      fc.constant(`${'{login}'}/certificate/enrol`),
      fc.record({
        contentType: fc.constant('application/x-www-form-urlencoded'),
        body: fc
          .tuple(text, text)
          .map(([name, birthdate]) =>
            new URLSearchParams({ name, birthdate, _csrf: login.csrf }).toString(),
          ),
      }),
      page('login', false),
    ),
    withBody(
      'admin API',
      'GET',
      fc.array(pathPart, { maxLength: 3 }).map((s) => `/admin/api/${s.join('/')}`),
      fc.constant({}),
      auth,
    ),
    fc
      .tuple(
        fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE'),
        fc.array(pathPart, { maxLength: 3 }),
        hostileBody,
        auth,
      )
      .map(([method, s, b, h]) => ({
        label: 'admin API write',
        method,
        path: `/admin/api/${s.join('/')}`,
        headers: { ...h, ...(b.contentType && { 'content-type': b.contentType }) },
        body: b.body,
      })),
    fc
      .tuple(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
        fc.array(pathPart, { maxLength: 4 }),
        hostileBody,
      )
      .map(([method, s, b]): Req => ({
        label: 'anything',
        method,
        path: `/${s.join('/')}`,
        headers: b.contentType ? { 'content-type': b.contentType } : {},
        body: b.body,
      })),
  );

const send = async (req: Req) => {
  const path = req.path.replace('{login}', login.path).replace('{enrol}', enrol.path);
  const hasBody = req.body !== undefined && !['GET', 'HEAD'].includes(req.method);
  return fetch(`${app.issuer}${path}`, {
    method: req.method,
    headers: req.headers,
    ...(hasBody && { body: req.body as BodyInit }),
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  });
};

describe('hostile input at every endpoint', () => {
  it('never gets a 500 or a hang, and memory stays bounded', { timeout: 180_000 }, async () => {
    const byLabel = new Map<string, number[]>();
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    await fc.assert(
      fc.asyncProperty(requests(), async (req) => {
        const res = await send(req);
        await res.arrayBuffer();
        byLabel.set(req.label, [...(byLabel.get(req.label) ?? []), res.status]);
        expect(res.status, `${req.method} ${req.path.slice(0, 120)} (${req.label})`).toBeLessThan(
          500,
        );
      }),
      { numRuns: 400 },
    );
    if (process.env.FUZZ_REPORT)
      console.log(
        Object.fromEntries(
          [...byLabel].map(([k, v]) => [
            k,
            Object.entries(
              v.reduce<Record<number, number>>((a, x) => ({ ...a, [x]: (a[x] ?? 0) + 1 }), {}),
            )
              .map(([st, n]) => `${st}x${n}`)
              .join(' '),
          ]),
        ),
      );
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    // Hundreds of requests, dozens of bodies up to 2 MiB: what stays is caches and counters, not bodies.
    expect(growth, `heap grew by ${Math.round(growth / 1048576)} MiB`).toBeLessThan(
      48 * 1024 * 1024,
    );
    // Every endpoint was reached, and not only by refusals of the request's shape.
    expect(byLabel.size, [...byLabel.keys()].join(', ')).toBe(21);
    expect(await app.services.audit.verify()).toMatchObject({ ok: true });
  });
});
