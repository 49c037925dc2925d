// The agency app's settings, from the environment: every problem is named, then it stops.
export type AgencyConfig = Readonly<{
  issuer: URL;
  clientId: string;
  /** client_secret_basic (what `clients add` prints once), or ... */
  clientSecret: string | undefined;
  /** ... private_key_jwt (recommended): a private JWK whose public half is registered with One-ID. */
  clientPrivateJwk: (JsonWebKey & { kid?: string; alg?: string }) | undefined;
  port: number;
  redirectUri: string;
  postLogoutRedirectUri: string;
  scope: string;
  acrValues: string | undefined;
}>;

const absoluteUrl = (name: string, value: string, problems: string[]): URL | undefined => {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
    return url;
  } catch {
    problems.push(`${name}: must be an absolute http(s) URL`);
    return undefined;
  }
};

export const agencyConfigFromEnv = (env: Record<string, string | undefined>): AgencyConfig => {
  const problems: string[] = [];
  const port = Number(env.PORT || 4000);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    problems.push('PORT: must be a port number');
  if (!env.ISSUER)
    problems.push("ISSUER: is required (One-ID's issuer, e.g. http://localhost:3000)");
  if (!env.CLIENT_ID)
    problems.push('CLIENT_ID: is required (printed by `npm run cli -- clients add`)');
  let clientPrivateJwk: AgencyConfig['clientPrivateJwk'];
  if (env.CLIENT_PRIVATE_JWK) {
    try {
      clientPrivateJwk = JSON.parse(env.CLIENT_PRIVATE_JWK) as NonNullable<
        AgencyConfig['clientPrivateJwk']
      >;
      if (!clientPrivateJwk.d)
        problems.push('CLIENT_PRIVATE_JWK: must be a private JWK (with "d")');
    } catch {
      problems.push('CLIENT_PRIVATE_JWK: must be a JSON Web Key');
    }
  }
  if (!env.CLIENT_SECRET && !clientPrivateJwk)
    problems.push('CLIENT_SECRET or CLIENT_PRIVATE_JWK: one is required');
  if (env.CLIENT_SECRET && clientPrivateJwk)
    problems.push('CLIENT_SECRET and CLIENT_PRIVATE_JWK: give one, not both');
  const issuer = env.ISSUER ? absoluteUrl('ISSUER', env.ISSUER, problems) : undefined;
  const redirectUri = env.REDIRECT_URI || `http://localhost:${port}/callback`;
  const redirect = absoluteUrl('REDIRECT_URI', redirectUri, problems);
  const postLogoutRedirectUri =
    env.POST_LOGOUT_REDIRECT_URI || (redirect ? `${redirect.origin}/` : '');
  absoluteUrl('POST_LOGOUT_REDIRECT_URI', postLogoutRedirectUri, problems);
  if (problems.length)
    throw new Error(
      `Invalid agency app configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  return Object.freeze({
    issuer: issuer!,
    clientId: env.CLIENT_ID!,
    clientSecret: env.CLIENT_SECRET || undefined,
    clientPrivateJwk,
    port,
    redirectUri,
    postLogoutRedirectUri,
    scope: env.SCOPE || 'openid profile email',
    acrValues: env.ACR_VALUES || undefined,
  });
};
