// The baseline: a bare oidc-provider (its own in-memory adapter, one static client, a static
// account, ES256 like One-ID) in its own process. Its sign-in "flow" is the engine's own code
// flow with an auto-login: GET /interaction/:uid finishes the login and consent prompts at once
// (a saved Grant of the requested scopes), with no page, no WebAuthn, no consent record.
// Started by bench/run.ts: prints one JSON line `{ "port": N }` when listening.
import { generateKeyPairSync } from 'node:crypto';
import Provider, { type Configuration } from 'oidc-provider';
import { recordRequestSpans } from './request-spans.ts';

recordRequestSpans();

const port = Number(process.env.PORT ?? 0);
const issuer = process.env.ISSUER ?? `http://localhost:${port}`;
const clientId = process.env.BENCH_CLIENT_ID ?? 'bench-rp';
const clientSecret =
  process.env.BENCH_CLIENT_SECRET ?? 'bench-secret-0123456789abcdef0123456789abcdef';
const redirectUri = process.env.BENCH_REDIRECT_URI ?? 'http://localhost:4999/cb';

const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const account = {
  sub: 'bench-account',
  name: '홍길동',
  birthdate: '1990-01-01',
  email: 'hong@example.com',
  email_verified: true,
};

const configuration: Configuration = {
  jwks: { keys: [{ ...jwk, kid: 'bench-es256', alg: 'ES256', use: 'sig' }] as never },
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  cookies: { keys: ['bench-cookie-key-0123456789abcdef0123456789'] },
  claims: {
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    profile: ['name', 'birthdate'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ ...account, sub }) }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
  },
  pkce: { required: () => true },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 600,
    Interaction: 900,
    RefreshToken: 30 * 86400,
    Grant: 30 * 86400,
    Session: 1800,
  },
};

const provider = new Provider(issuer, configuration);

// Auto-login: the interaction ends with a login for the static account and a grant of what was asked.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([\w-]+)$/.exec(ctx.path);
  if (ctx.method !== 'GET' || !match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const grant = new provider.Grant({
    accountId: account.sub,
    clientId: String(details.params.client_id),
  });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(
    ctx.req,
    ctx.res,
    {
      login: { accountId: account.sub, acr: 'urn:one-id:loa:substantial', amr: ['swk', 'user'] },
      consent: { grantId },
    },
    { mergeWithLastSubmission: false },
  );
});

const server = provider.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : port, clientId, clientSecret, redirectUri })}\n`,
  );
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
