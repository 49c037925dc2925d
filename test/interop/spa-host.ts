// A single-page agency app for the oidc-client-ts driver: one static page on a loopback HTTP
// server, opened as http://localhost:<port>/ (WebAuthn on One-ID needs the RP ID `localhost`,
// and the SPA's origin is what One-ID's CORS policy matches against the registered
// redirect_uris). The page loads oidc-client-ts's own browser bundle and jose's browser build
// from node_modules: no CDN, no bundler. Everything the page does is in its script below.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, normalize, sep } from 'node:path';
import { freePort } from '../support/app.ts';

const require = createRequire(import.meta.url);
// `require` resolves to dist/umd/oidc-client-ts.js; the IIFE bundle (global `oidc`) sits next to it.
const OIDC_CLIENT_TS = join(
  dirname(dirname(require.resolve('oidc-client-ts'))),
  'browser',
  'oidc-client-ts.min.js',
);
// jose's "default" export is its Web API build (dist/webapi), plain ES modules a browser imports as they are.
const JOSE_DIR = dirname(require.resolve('jose'));

// Ports Chromium refuses to load ("unsafe ports", net/base/port_util.cc) above 1024. freePort()
// hands out ephemeral ports, far above them, but a refusal would look like a mysterious timeout.
const UNSAFE_PORTS = new Set([
  1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669,
  6679, 6697, 10080,
]);

export type SpaConfig = { authority: string; clientId: string };

/**
 * The page: a UserManager configured as oidc-client-ts's README shows (authority, client_id,
 * redirect_uri, post_logout_redirect_uri, scope; response_type `code` and PKCE S256 are its
 * defaults), `loadUserInfo: true` so that sign-in also fetches userinfo. `/callback` finishes a
 * sign-in with signinCallback(), `/?state=…` a sign-out with signoutCallback(); the outcome is
 * `window.spaDone`. `window.spa` holds what the test triggers, as an app's buttons would.
 */
const page = (config: SpaConfig) => `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Agency SPA (oidc-client-ts)</title>
<script src="/vendor/oidc-client-ts.js"></script>
<script type="module">
import { createRemoteJWKSet, jwtVerify } from '/vendor/jose/index.js';
const config = ${JSON.stringify(config).replace(/</g, '\\u003c')};
const mgr = new oidc.UserManager({
  authority: config.authority,
  client_id: config.clientId,
  redirect_uri: location.origin + '/callback',
  post_logout_redirect_uri: location.origin + '/',
  scope: 'openid profile email',
  loadUserInfo: true,
});
const plain = (user) => user && { id_token: user.id_token, access_token: user.access_token, refresh_token: user.refresh_token, scope: user.scope, profile: user.profile };
const failed = (error) => ({ ok: false, error: error.error, error_description: error.error_description, message: String(error.message) });
window.spa = {
  metadata: () => mgr.metadataService.getMetadata(),
  signIn: (args) => { void mgr.signinRedirect(args); },
  signOut: (args) => { void mgr.signoutRedirect(args); },
  user: async () => plain(await mgr.getUser()),
  refresh: () => mgr.signinSilent().then((user) => ({ ok: true, user: plain(user) }), failed),
  // Test instrumentation, not app code: plants a spent refresh token to see One-ID refuse it.
  refreshWithSpent: async (spent) => {
    const user = await mgr.getUser();
    const current = user.refresh_token;
    user.refresh_token = spent;
    await mgr.storeUser(user);
    try {
      return await window.spa.refresh();
    } finally {
      user.refresh_token = current;
      await mgr.storeUser(user);
    }
  },
  // oidc-client-ts only decodes the ID token: the app verifies it (signature, iss, aud, exp).
  verifyIdToken: async (idToken) => {
    const metadata = await mgr.metadataService.getMetadata();
    const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(metadata.jwks_uri)), { issuer: metadata.issuer, audience: config.clientId });
    return payload;
  },
};
const here = new URL(location.href);
window.spaDone = here.pathname === '/callback'
  ? mgr.signinCallback().then((user) => ({ ok: true, user: plain(user) }), failed)
  : here.searchParams.has('state')
    ? mgr.signoutCallback().then((response) => ({ ok: true, userState: response && response.userState }), failed)
    : Promise.resolve({ ok: true });
</script>
<h1>Agency SPA</h1>
</html>
`;

const send = (
  res: import('node:http').ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
) => {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
};

/** Starts the SPA's static server on 127.0.0.1; `configure` sets the page's settings once the client is registered. */
export const startSpaHost = async () => {
  let port = await freePort();
  while (UNSAFE_PORTS.has(port)) port = await freePort();
  let config: SpaConfig | undefined;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    void (async () => {
      if (req.method !== 'GET') return send(res, 405, 'text/plain', 'method not allowed');
      if (path === '/' || path === '/callback')
        return config
          ? send(res, 200, 'text/html; charset=utf-8', page(config))
          : send(res, 503, 'text/plain', 'not configured');
      if (path === '/vendor/oidc-client-ts.js')
        return send(res, 200, 'text/javascript', await readFile(OIDC_CLIENT_TS));
      if (path.startsWith('/vendor/jose/') && path.endsWith('.js')) {
        const file = normalize(join(JOSE_DIR, path.slice('/vendor/jose/'.length)));
        if (!file.startsWith(JOSE_DIR + sep)) return send(res, 404, 'text/plain', 'not found');
        return send(res, 200, 'text/javascript', await readFile(file));
      }
      return send(res, 404, 'text/plain', 'not found');
    })().catch(() => send(res, 404, 'text/plain', 'not found'));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    origin: `http://localhost:${port}`,
    configure: (value: SpaConfig) => {
      config = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
