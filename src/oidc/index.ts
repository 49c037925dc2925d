// The OIDC engine's module: the one way into oidc-provider for the layers above (STYLE.md).
export { createOidcModule, type OidcModule } from './oidc-module.ts';
export { createEngineKeys, type EngineKeys } from './keys/engine-keys.ts';
export { engineCookieNames } from './provider.ts';
export { createEngineMetadataCheck } from './clients/client-check.ts';
export type { AdminEngine } from './clients/admin-engine.ts';
export type { Interactions } from './interactions.ts';
export type {
  AccessTokenInfo,
  AuthorizationCodeInfo,
  ClientInfo,
  EngineApp,
  EngineContext,
  EnginePageContext,
  EnginePages,
  EngineSession,
  InteractionDetails,
  ProvenLogin,
} from './engine-types.ts';
import type { OidcModule } from './oidc-module.ts';

/** What the HTTP layer uses of the engine: the facade, token look-ups, the current engine. */
export type OidcFacade = Pick<OidcModule, 'interactions' | 'tokens' | 'engine'>;
