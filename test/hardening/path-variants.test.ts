// Path variants and prototype-property names at every route family (issue 13): a trailing slash,
// a double slash, dot segments, another case or an encoded slash must never reach a handler past
// its rate limit (routing and limiting see one canonical path: src/http/middleware/canonical-path.ts), a
// chunked body counts like one with a Content-Length, and no variant or name like `constructor`
// or `__proto__` gets a 5xx.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { registerClient } from '../support/flows.ts';
import { createAdmin } from '../admin/support.ts';
import { via } from './support.ts';

const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'prototype',
  'toString',
  'toLocaleString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  '__defineGetter__',
  '__lookupGetter__',
];

/**
 * The path sent as written (fetch would resolve dot segments itself): `{ status }` like a Response.
 * Never redirected; the body read and dropped.
 */
const send = (
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const url = new URL(base);
    const req = request(
      {
        host: '127.0.0.1',
        port: url.port,
        path,
        method: init.method ?? 'GET',
        headers: { host: url.host, ...init.headers },
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path}`)));
    req.on('error', reject);
    req.end(init.body);
  });

/** Spellings that name the same route once canonical: they share its limit. */
const sameRoute = (path: string) => [
  `${path}/`,
  `/${path}`,
  path.replace(/\/([^/]*)$/, '//$1'),
  `${path}//`,
  path.replace(/^\//, '/./'),
  `/nowhere/..${path}`,
  `/%2e%2e${path}`,
];
const encodedSlash = (path: string, slash: string) =>
  path.lastIndexOf('/') > 0
    ? path.replace(/\/([^/]*)$/, `${slash}$1`)
    : `/${slash}${path.slice(1)}`;
/** Spellings that are another (unknown) route: never the handler's answer. */
const otherRoute = (path: string) => [
  path.toUpperCase(),
  path.replace(
    /\/([a-z])([^/]*)$/,
    (_, first: string, rest: string) => `/${first.toUpperCase()}${rest}`,
  ),
  encodedSlash(path, '%2F'),
  encodedSlash(path, '%2f'),
];

describe('rate limits hold for every spelling of a path', () => {
  let app: TestApp;
  let client: Awaited<ReturnType<typeof registerClient>>;
  let adminToken: string;
  beforeAll(async () => {
    app = await startTestApp({
      TRUSTED_PROXIES: '127.0.0.1',
      RATE_LIMIT_SIGNIN_PER_MINUTE: '3',
      RATE_LIMIT_ENROLMENT_PER_MINUTE: '3',
      RATE_LIMIT_TOKEN_PER_MINUTE: '3',
      RATE_LIMIT_ADMIN_PER_MINUTE: '3',
    });
    client = await registerClient(app, {
      grant_types: ['authorization_code', 'client_credentials'],
      token_endpoint_auth_method: 'client_secret_post',
    });
    adminToken = (await createAdmin(app, 'platform')).token;
  });
  afterAll(() => app?.stop());

  const basic = () =>
    `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret!)}`).toString('base64')}`;
  const families: {
    name: string;
    path: string;
    send: (path: string, address: string) => Promise<{ status: number }>;
  }[] = [
    {
      name: 'token',
      path: '/token',
      send: (path, address) =>
        send(app.issuer, path, {
          method: 'POST',
          headers: via(address, {
            authorization: basic(),
            'content-type': 'application/x-www-form-urlencoded',
          }),
          body: 'grant_type=client_credentials',
        }),
    },
    {
      name: 'introspection',
      path: '/token/introspection',
      send: (path, address) =>
        send(app.issuer, path, {
          method: 'POST',
          headers: via(address, {
            authorization: basic(),
            'content-type': 'application/x-www-form-urlencoded',
          }),
          body: 'token=nothing',
        }),
    },
    {
      name: 'admin API',
      path: '/admin/api/me',
      send: (path, address) =>
        send(app.issuer, path, {
          headers: via(address, { authorization: `Bearer ${adminToken}` }),
        }),
    },
    {
      name: 'sign-in ceremony',
      path: '/interaction/some-uid/passkey/options',
      send: (path, address) =>
        send(app.issuer, path, {
          method: 'POST',
          headers: via(address, { 'content-type': 'application/json', accept: 'application/json' }),
          body: '{}',
        }),
    },
    {
      name: 'enrolment link',
      path: `/enrol/${'t'.repeat(43)}`,
      send: (path, address) => send(app.issuer, path, { headers: via(address) }),
    },
  ];

  it.each(families.map((f, i) => [f.name, f, i] as const))(
    '%s: past the limit, no spelling reaches the handler',
    async (_name, family, i) => {
      const address = `203.0.113.${100 + i}`;
      const handled: number[] = [];
      for (let n = 0; n < 3; n += 1) handled.push((await family.send(family.path, address)).status);
      expect(
        handled.every((s) => s !== 429 && s < 500),
        handled.join(','),
      ).toBe(true);
      expect((await family.send(family.path, address)).status).toBe(429);
      for (const variant of sameRoute(family.path))
        expect((await family.send(variant, address)).status, variant).toBe(429);
      for (const variant of otherRoute(family.path))
        expect([404, 429], variant).toContain((await family.send(variant, address)).status);
    },
  );

  it('counts a chunked token request (no Content-Length) like any other', async () => {
    const chunked = () =>
      fetch(`${app.issuer}/token`, {
        method: 'POST',
        headers: via('203.0.113.120', { 'content-type': 'application/x-www-form-urlencoded' }),
        body: new ReadableStream({
          start(controller) {
            const form = new URLSearchParams({
              grant_type: 'client_credentials',
              client_id: client.clientId,
              client_secret: client.clientSecret!,
            }).toString();
            controller.enqueue(new TextEncoder().encode(form.slice(0, 20)));
            controller.enqueue(new TextEncoder().encode(form.slice(20)));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
    // The engine still reads the body the limiter read: the allowed requests get tokens.
    for (let n = 0; n < 3; n += 1) expect((await chunked()).status, `#${n + 1}`).toBe(200);
    const limited = await chunked();
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });
});

describe('every route family, every spelling and every prototype-property name', () => {
  let app: TestApp;
  let adminToken: string;
  beforeAll(async () => {
    app = await startTestApp({
      RATE_LIMIT_SIGNIN_PER_MINUTE: '100000',
      RATE_LIMIT_ACCOUNT_PER_MINUTE: '100000',
      RATE_LIMIT_ENROLMENT_PER_MINUTE: '100000',
      RATE_LIMIT_TOKEN_PER_MINUTE: '100000',
      RATE_LIMIT_ADMIN_PER_MINUTE: '100000',
    });
    adminToken = (await createAdmin(app, 'platform')).token;
  });
  afterAll(() => app?.stop());

  // One path per family of routes: the engine's, sign-in, enrolment, My One-ID, the console, the
  // admin and agency-links APIs, federation, sessions, static files, health.
  const FAMILIES = [
    '/.well-known/openid-configuration',
    '/jwks',
    '/auth',
    '/auth/some-uid',
    '/token',
    '/token/introspection',
    '/token/revocation',
    '/me',
    '/request',
    '/session/end',
    '/session/end/confirm',
    '/interaction/some-uid',
    '/interaction/some-uid/passkey/options',
    '/interaction/some-uid/certificate/challenge',
    `/enrol/${'t'.repeat(43)}`,
    '/account',
    '/account/consents/some-id/withdraw',
    '/account/security',
    '/admin',
    '/admin/clients/some-id',
    '/admin/api/me',
    '/admin/api/clients/some-id',
    '/admin/api/agencies/some-name',
    '/api/agency-links',
    '/federation/callback',
    '/static/app.css',
    '/healthz',
  ];

  const paths = FAMILIES.flatMap((path) => [
    path,
    ...sameRoute(path),
    ...otherRoute(path),
    ...PROTOTYPE_NAMES.flatMap((name) => [
      path.replace(/\/[^/]*$/, `/${name}`),
      `${path}/${name}`,
      `/${name}${path}`,
    ]),
  ]);

  it('never answers 5xx', { timeout: 180_000 }, async () => {
    const failures: string[] = [];
    for (const path of new Set(paths))
      for (const method of ['GET', 'POST']) {
        const res = await send(app.issuer, path, {
          method,
          headers: {
            ...(path.includes('/admin/api') && { authorization: `Bearer ${adminToken}` }),
            ...(method === 'POST' && { 'content-type': 'application/x-www-form-urlencoded' }),
          },
          ...(method === 'POST' && { body: 'a=1' }),
        });
        if (res.status >= 500) failures.push(`${method} ${path}: ${res.status}`);
      }
    expect(failures).toEqual([]);
  });

  it('answers a static file named after a prototype property with 404', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const res = await send(app.issuer, `/static/${name}`);
      expect(res.status, name).toBe(404);
    }
    expect((await send(app.issuer, '/static/app.css')).status).toBe(200);
  });
});
