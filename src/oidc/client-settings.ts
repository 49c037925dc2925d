// The parts of the engine's configuration that decide which client metadata it accepts: shared
// by the provider (provider.ts) and the registration check (client-check.ts), so a client the
// admin API or the CLI accepts is one the engine will load. A feature that adds client metadata
// (mTLS, request objects, ...) is switched on here, and its fields in clients/metadata-policy.ts.
import type { Configuration } from 'oidc-provider';
import { ACR_VALUES } from '../auth/index.ts';

export const clientSettings = {
  acrValues: ACR_VALUES,
  responseTypes: ['code'],
  subjectTypes: ['pairwise'],
  clientDefaults: {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    id_token_signed_response_alg: 'ES256',
    token_endpoint_auth_method: 'client_secret_basic',
    subject_type: 'pairwise',
  },
  // One-ID's texts for My One-ID's directory (clients/client-metadata.ts): kept by the engine,
  // so dynamic registration stores them and its answers carry them (RFC 7591 3.2.1).
  extraClientMetadata: { properties: ['client_name#en', 'description', 'description#en'] },
  // What discovery advertises is what registration accepts (metadata-policy.ts).
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
  enabledJWA: {
    idTokenSigningAlgValues: ['ES256', 'RS256'],
    userinfoSigningAlgValues: ['ES256', 'RS256'],
    introspectionSigningAlgValues: ['ES256', 'RS256'],
    authorizationSigningAlgValues: ['ES256', 'RS256'],
    requestObjectSigningAlgValues: ['ES256', 'RS256', 'PS256'],
    clientAuthSigningAlgValues: ['ES256', 'RS256', 'PS256'],
  },
} satisfies Configuration;

/** The engine features that add client metadata or grant types (provider.ts adds their policies). */
export const clientFeatures = {
  clientCredentials: { enabled: true },
  introspection: { enabled: true },
  revocation: { enabled: true },
  backchannelLogout: { enabled: true },
  rpInitiatedLogout: { enabled: true },
} satisfies NonNullable<Configuration['features']>;
