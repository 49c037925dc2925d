// The parts of the engine's configuration that decide which client metadata it accepts: shared
// by the provider (provider.ts) and the registration check (client-check.ts), so a client the
// admin API or the CLI accepts is one the engine will load. A feature that adds client metadata
// (mTLS, request objects, ...) is switched on here, and its fields in clients/metadata-policy.ts.
import type { ClientAuthMethod, Configuration } from 'oidc-provider';
import { ACR_VALUES } from '../../auth/index.ts';

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
  // What discovery advertises is what registration accepts (metadata-policy.ts); mutual TLS
  // adds self_signed_tls_client_auth where client certificates arrive (fapi-profile.ts).
  clientAuthMethods: [
    'client_secret_basic',
    'client_secret_post',
    'private_key_jwt',
    'none',
  ] as ClientAuthMethod[],
  // One-ID's per-client security profile (clients/security-profile.ts, read by fapi-profile.ts)
  // and its texts for My One-ID's directory (client-metadata.ts): kept by the engine, so dynamic
  // registration stores them and its answers carry them (RFC 7591 3.2.1).
  extraClientMetadata: {
    properties: ['security_profile', 'client_name#en', 'description', 'description#en'],
  },
  enabledJWA: {
    idTokenSigningAlgValues: ['ES256', 'RS256'],
    userinfoSigningAlgValues: ['ES256', 'RS256'],
    introspectionSigningAlgValues: ['ES256', 'RS256'],
    authorizationSigningAlgValues: ['ES256', 'RS256'],
    requestObjectSigningAlgValues: ['ES256', 'RS256', 'PS256'],
    dPoPSigningAlgValues: ['ES256', 'PS256', 'Ed25519'],
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
