// Pairwise subjects through sector_identifier_uri (OIDC Core 8.1): an agency's systems on different
// hosts that declare one sector_identifier_uri get the same `sub` for a citizen, because the sector
// is that URI's host; the URI must serve a JSON array holding every redirect_uri of the client, and
// the engine fetches it when it loads the client. The sector is also the agency's: another agency
// declaring the same URI gets unrelated subs. The document is served here over https from
// loopback, which One-ID reaches only because OUTBOUND_PRIVATE_HOSTS names it.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';
import { createLeaf, createRootCa, OIDS } from '../support/pki.ts';

let app: TestApp;
let sectorServer: Server;
let sectorBase: string;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
/** What each path of the sector server answers (a JSON array of redirect URIs, or a status). */
const documents = new Map<string, string[] | number>();
const fetched: string[] = [];

// Node's fetch (which the engine uses) trusts only the public CAs: for this file, its global
// dispatcher also trusts the test root that signed the sector server's certificate.
const DISPATCHER = Symbol.for('undici.globalDispatcher.1');
type Dispatcher = { constructor: new (options: object) => unknown; close?: () => Promise<void> };
let previousDispatcher: Dispatcher | undefined;

beforeAll(async () => {
  const root = await createRootCa();
  const leaf = await createLeaf(root, { commonName: 'localhost', eku: [OIDS.serverAuth] });
  const key = Buffer.from(await crypto.subtle.exportKey('pkcs8', leaf.keys.privateKey)).toString(
    'base64',
  );
  sectorServer = createServer(
    { cert: leaf.pem, key: `-----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY-----\n` },
    (req, res) => {
      fetched.push(req.url ?? '');
      const doc = documents.get(req.url ?? '');
      if (doc === undefined || typeof doc === 'number') {
        res.statusCode = doc ?? 404;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(doc));
    },
  );
  await new Promise<void>((resolve) => sectorServer.listen(0, '127.0.0.1', resolve));
  sectorBase = `https://localhost:${(sectorServer.address() as AddressInfo).port}`;
  void Response; // loads Node's fetch, which installs its global dispatcher
  previousDispatcher = (globalThis as Record<symbol, Dispatcher>)[DISPATCHER];
  (globalThis as Record<symbol, unknown>)[DISPATCHER] = new previousDispatcher!.constructor({
    connect: { ca: [root.pem] },
  });

  app = await startTestApp({ OUTBOUND_PRIVATE_HOSTS: 'localhost' });
  citizen = await enrolCitizen(app);
});
afterAll(async () => {
  if (previousDispatcher) (globalThis as Record<symbol, unknown>)[DISPATCHER] = previousDispatcher;
  await app?.stop();
  sectorServer?.close();
});

type Client = Awaited<ReturnType<typeof registerClient>>;

/** The `sub` the client receives for the citizen (its callbacks are never opened: the code is read from the URL). */
const subAt = async (client: Client) => {
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri);
  const callback = await signIn(app, createBrowserSession(), citizen.authenticator, request.url);
  return (
    await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    })
  ).claims()!.sub;
};

const client = (agency: string, redirectUri: string, sectorPath?: string) =>
  registerClient(app, {
    agency,
    redirect_uris: [redirectUri],
    ...(sectorPath && { sector_identifier_uri: `${sectorBase}${sectorPath}` }),
  });

describe('pairwise subjects with sector_identifier_uri', () => {
  it("gives one sub across an agency's hosts that share a sector_identifier_uri, and another sub elsewhere", async () => {
    documents.set('/welfare/sector.json', [
      'https://apply.welfare.example/cb',
      'https://mobile.welfare.example/cb',
      'https://partner.example/cb',
    ]);
    const apply = await client(
      'Welfare Agency',
      'https://apply.welfare.example/cb',
      '/welfare/sector.json',
    );
    const mobile = await client(
      'Welfare Agency',
      'https://mobile.welfare.example/cb',
      '/welfare/sector.json',
    );
    // The same redirect host as `apply`, no sector_identifier_uri: its sector is that host.
    const ownHost = await client('Welfare Agency', 'https://apply.welfare.example/cb');
    // Another agency pointing at the same document.
    const partner = await client(
      'Partner Agency',
      'https://partner.example/cb',
      '/welfare/sector.json',
    );

    const subApply = await subAt(apply);
    expect(fetched).toContain('/welfare/sector.json');
    expect(await subAt(mobile)).toBe(subApply);
    expect(await subAt(apply)).toBe(subApply);
    const subOwnHost = await subAt(ownHost);
    const subPartner = await subAt(partner);
    expect(subOwnHost).not.toBe(subApply);
    expect(subPartner).not.toBe(subApply);
    expect(subPartner).not.toBe(subOwnHost);
  });

  it('refuses a client whose sector document does not list its redirect_uri, or cannot be fetched, with a readable page', async () => {
    documents.set('/other/sector.json', ['https://listed.example/cb']);
    documents.set('/broken/sector.json', 500);
    for (const refused of [
      await client('Welfare Agency', 'https://unlisted.example/cb', '/other/sector.json'),
      await client('Welfare Agency', 'https://broken.example/cb', '/broken/sector.json'),
    ]) {
      const request = await authorizationRequest(await discover(app, refused), refused.redirectUri);
      const res = await fetch(request.url, { redirect: 'manual' });
      // No redirect to an unverified redirect_uri: a page saying what is wrong, never a 500.
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain('<code>invalid_client_metadata</code>');
      expect(html).toContain('sector_identifier_uri');
    }
  });
});
