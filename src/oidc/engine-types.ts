// What the HTTP layer sees of the engine: plain shapes, so nothing above src/oidc needs
// oidc-provider's own types (STYLE.md: http asks the oidc facade, never the engine).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConsentSnapshot } from '../consent/index.ts';

/** A request the facade reads the engine's cookies from: a koa context fits. */
export type EngineContext = {
  req: IncomingMessage;
  res: ServerResponse;
  /** Per-request memo (the interaction is read once per request). */
  state: object;
  /** The route's parameters (@koa/router): `uid` is the interaction the URL names. */
  params?: Record<string, string | undefined>;
};

/** The interaction this browser's cookie holds (the engine's interactionDetails, narrowed). */
export type InteractionDetails = {
  uid: string;
  prompt: { name: string };
  /** The authorization request's parameters, as the engine validated them. */
  params: Record<string, unknown>;
  /** The signed-in citizen (consent prompt); absent at the login prompt. */
  session?: { accountId: string } | undefined;
  /** The level the request requires (acr_values or an essential acr claim); undefined: any. */
  requiredAcr: string | undefined;
};

/**
 * What a sign-in proved: the login is recorded at `acr` only if that meets the request.
 * `consent`: the citizen's active consent for the client, when the sign-in read it (a passkey's,
 * with the credential); the authorization then decides from it without reading it again.
 */
export type ProvenLogin = {
  accountId: string;
  acr: string;
  amr: string[];
  consent?: ConsentSnapshot | undefined;
};

/** A registered, active client as the pages show it. */
export type ClientInfo = {
  clientId: string;
  clientName?: string | undefined;
  logoUri?: string | undefined;
  policyUri?: string | undefined;
  tosUri?: string | undefined;
  sectorIdentifier?: string | undefined;
};

/** The citizen of this browser's One-ID session (the engine's session cookie). */
export type EngineSession = {
  uid: string;
  accountId: string | undefined;
  acr: string | undefined;
  amr: string[] | undefined;
  loginTs: number | undefined;
  exp: number | undefined;
};

/** A bearer access token of the engine's store (opaque tokens: looked up, not parsed). */
export type AccessTokenInfo = {
  clientId: string | undefined;
  /** The citizen it was issued for (empty for the client_credentials grant's tokens). */
  accountId: string;
  scope: string | undefined;
  aud: unknown;
  isExpired: boolean;
  /** DPoP- or certificate-bound (RFC 9449, RFC 8705): its proof would have to be checked. */
  senderConstrained: boolean;
  /** The extra claims One-ID puts on admin API tokens (auth_time, acr). */
  extra: Record<string, unknown> | undefined;
};

/** An authorization code, with its single-use consume (the console redeems its own codes). */
export type AuthorizationCodeInfo = {
  clientId: string | undefined;
  redirectUri: string | undefined;
  isValid: boolean;
  codeChallenge: string | undefined;
  codeChallengeMethod: string | undefined;
  accountId: string | undefined;
  authTime: number | undefined;
  acr: string | undefined;
  amr: string[] | undefined;
  consume: () => Promise<void>;
};

/** The current engine as a request handler; a new object after every rebuild (key rotation). */
export type EngineApp = {
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
};

/** The engine's request as its pages get it: a koa context, which the HTTP layer renders on. */
export type EnginePageContext = { req: IncomingMessage; res: ServerResponse; status: number };

/**
 * The engine's own pages, rendered by the HTTP layer: everything they show is given to them
 * (the request's ui_locales, the client's name, the systems of the session).
 */
export type EnginePages = {
  error: (
    ctx: EnginePageContext,
    out: { error: string; error_description?: string | undefined },
    uiLocales: string | undefined,
  ) => Promise<void>;
  /** The sign-out question: `client` is the system asking, `systems` the ones the citizen would leave. */
  logout: (
    ctx: EnginePageContext,
    view: { form: string; client: string | undefined; systems: string[] },
  ) => Promise<void>;
  /** After sign-out: `client` when the citizen stayed signed in to One-ID, else the systems left. */
  postLogout: (
    ctx: EnginePageContext,
    view: { client: string | undefined; systems: string[] },
  ) => Promise<void>;
  /** The page for `temporarily_unavailable` (PostgreSQL or Redis down); else `error` renders it. */
  unavailable?: ((ctx: EnginePageContext) => Promise<void>) | undefined;
};
