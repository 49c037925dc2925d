// Reads of the engine's state for One-ID's own routes (bearer tokens of the admin and agency
// APIs, the console's own authorization code, the browser's session), as plain values.
import type Provider from 'oidc-provider';
import type {
  AccessTokenInfo,
  AuthorizationCodeInfo,
  ClientInfo,
  EngineContext,
  EngineSession,
} from './engine-types.ts';

type Token = {
  clientId?: string | undefined;
  accountId?: string | undefined;
  scope?: string | undefined;
  aud?: unknown;
  isExpired: boolean;
  jkt?: string | undefined;
  'x5t#S256'?: string | undefined;
  extra?: Record<string, unknown> | undefined;
};

const tokenInfo = (token: Token, senderConstrained: boolean): AccessTokenInfo => ({
  clientId: token.clientId,
  accountId: token.accountId ?? '',
  scope: token.scope,
  aud: token.aud,
  isExpired: token.isExpired,
  senderConstrained,
  extra: token.extra,
});

/** `engine` is the current engine (rebuilt when keys change; its state lives in the store). */
export const createEngineLookups = (engine: () => Provider) => ({
  /** A registered, active client; undefined for an unknown or disabled one. */
  async findClient(clientId: string): Promise<ClientInfo | undefined> {
    const client = await engine().Client.find(clientId);
    if (!client) return undefined;
    return {
      clientId: client.clientId,
      clientName: client.clientName,
      logoUri: client.logoUri,
      policyUri: client.policyUri,
      tosUri: client.tosUri,
      sectorIdentifier: String(client.sectorIdentifier ?? ''),
    };
  },

  /** An access token issued to a citizen's authorization (e.g. for the admin API). */
  async findAccessToken(value: string): Promise<AccessTokenInfo | undefined> {
    const token = await engine().AccessToken.find(value);
    return token && tokenInfo(token as Token, token.isSenderConstrained());
  },

  /** An access token of the client_credentials grant (agency APIs). */
  async findClientCredentials(value: string): Promise<AccessTokenInfo | undefined> {
    const token = await engine().ClientCredentials.find(value);
    return token && tokenInfo(token as Token, Boolean(token.jkt || token['x5t#S256']));
  },

  /** An authorization code, for a first-party client that redeems its own (the console). */
  async findAuthorizationCode(value: string): Promise<AuthorizationCodeInfo | undefined> {
    const code = await engine().AuthorizationCode.find(value);
    if (!code) return undefined;
    return {
      clientId: code.clientId,
      redirectUri: code.redirectUri,
      isValid: code.isValid,
      codeChallenge: code.codeChallenge,
      codeChallengeMethod: code.codeChallengeMethod,
      accountId: code.accountId,
      authTime: code.authTime,
      acr: code.acr,
      amr: code.amr,
      consume: async () => void (await code.consume()),
    };
  },

  /** The browser's One-ID session (read only: reading does not renew it). */
  async currentSession(ctx: Pick<EngineContext, 'req' | 'res'>): Promise<EngineSession> {
    const session = await engine().Session.get(ctx as never);
    return {
      uid: session.uid,
      accountId: session.accountId,
      acr: session.acr,
      amr: session.amr,
      loginTs: session.loginTs,
      exp: session.exp,
    };
  },
});

export type EngineLookups = ReturnType<typeof createEngineLookups>;
