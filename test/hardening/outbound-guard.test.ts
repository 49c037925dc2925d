// OUTBOUND_PRIVATE_HOSTS applies to every request One-ID makes, not only the engine's: claim
// sources (their endpoints, JWKS and events endpoints) and upstream identity providers on a
// loopback or private address are refused unless their host is listed (SSRF), like an agency
// system's jwks_uri or back-channel logout URI.
import { createServer, type Server } from 'node:http';
import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamClient, UpstreamFailure } from '../../src/federation/upstream-client.ts';
import { createClaimSources } from '../../src/oidc/claims/claim-sources.ts';
import { createLogger, createOutboundFetch, isSpecialUseAddress } from '../../src/shared/index.ts';

let server: Server;
let base: string;
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration')
      res.end(
        JSON.stringify({
          issuer: base,
          authorization_endpoint: `${base}/authorize`,
          token_endpoint: `${base}/token`,
          jwks_uri: `${base}/jwks`,
          response_types_supported: ['code'],
        }),
      );
    else res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => server?.close());

describe('the outbound SSRF guard', () => {
  it('knows the special-use addresses, IPv4-mapped ones included', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254'])
      expect(isSpecialUseAddress(a), a).toBe(true);
    for (const a of ['::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1'])
      expect(isSpecialUseAddress(a), a).toBe(true);
    for (const a of ['8.8.8.8', '211.234.10.1', '2001:4860::8888', '::ffff:8.8.8.8'])
      expect(isSpecialUseAddress(a), a).toBe(false);
  });

  it('refuses a loopback host unless OUTBOUND_PRIVATE_HOSTS lists it', async () => {
    const before = hits.length;
    await expect(createOutboundFetch([])(`${base}/x`)).rejects.toThrow();
    await expect(createOutboundFetch(['localhost'])(`${base}/x`)).rejects.toThrow();
    expect(hits.length, 'no request reached the host').toBe(before);
    expect((await createOutboundFetch(['127.0.0.1'])(`${base}/x`)).status).toBe(200);
  });

  it('applies to claim sources', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const sources = (hosts: string[]) =>
      createClaimSources({
        issuer: 'https://one-id.example',
        signer: async () => ({ key: privateKey, kid: 'k', alg: 'ES256' }),
        timeoutMs: 1000,
        log: createLogger('silent'),
        fetch: createOutboundFetch(hosts),
        remember: async () => {},
      });
    const item = {
      name: 'vehicle_count',
      label: { ko: '차량', en: 'Vehicles' },
      description: { ko: '차량', en: 'Vehicles' },
      sensitivity: 'low' as const,
      scopes: ['vehicle'],
      source: 'agency' as const,
      sourceAgency: '차량등록기관',
      sourceEndpoint: `${base}/claims`,
      sourceJwksUri: `${base}/jwks`,
      sourceClientId: 'vehicles',
      delivery: 'aggregated' as const,
    };
    const before = hits.length;
    await sources([]).resolve([item], async () => 'sub', { accountId: 'a', clientId: 'c' });
    expect(hits.length, 'the source was not called').toBe(before);
    // Listed, the request is made (the empty answer is then refused, which is not the point here).
    await sources(['127.0.0.1']).resolve([item], async () => 'sub', {
      accountId: 'a',
      clientId: 'c',
    });
    expect(hits.slice(before)).toEqual(['/claims']);
  });

  it('applies to upstream identity providers', async () => {
    const upstream = {
      id: 'up',
      issuer: base,
      clientId: 'one-id',
      clientSecret: 'secret',
      tokenEndpointAuthMethod: 'client_secret_basic' as const,
      scopes: ['openid'],
    };
    const checks = { state: 's', nonce: 'n', verifier: 'v'.repeat(43) };
    const client = (hosts: string[]) =>
      createUpstreamClient({
        redirectUri: 'https://one-id.example/federation/callback',
        timeoutMs: 1000,
        fetch: createOutboundFetch(hosts),
      });
    const before = hits.length;
    await expect(client([]).authorizationUrl(upstream, checks)).rejects.toBeInstanceOf(
      UpstreamFailure,
    );
    expect(hits.length, 'discovery was not fetched').toBe(before);
    const url = await client(['127.0.0.1']).authorizationUrl(upstream, checks);
    expect(url.href.startsWith(`${base}/authorize?`)).toBe(true);
  });
});
