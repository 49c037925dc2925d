// Federation: sign-in through upstream OpenID Connect providers (One-ID as their relying party)
// with account linking, and agency account links (docs/federation.md).
export { createFederationModule, federationRedirectUri } from './federation-module.ts';
export type { FederationEngineHooks, FederationModule } from './federation-module.ts';
export { createUpstreamService, toUpstreamView } from './upstream-service.ts';
export type { UpstreamChangeContext, UpstreamService, UpstreamView } from './upstream-service.ts';
export { parseUpstream, upstreamSchema } from './upstream-metadata.ts';
export type { UpstreamInput, UpstreamSettings } from './upstream-metadata.ts';
export type { UpstreamStatus } from './upstream-repo.ts';
export type {
  FederatedLogin,
  FederationLoginService,
  FederationOutcome,
} from './federation-login-service.ts';
export { AGENCY_MEMBER_CLAIM } from './agency-link-service.ts';
export type { AgencyLinkService, AgencyLinkView } from './agency-link-service.ts';
export { FEDERATION_AMR, RFC8176_AMR, federatedAmr } from './amr.ts';
export { ATTRIBUTES, mapAttributes, normalisePhone } from './attribute-mapping.ts';
export type { Attribute, Attributes } from './attribute-mapping.ts';
