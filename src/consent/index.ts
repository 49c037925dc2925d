export { createCatalogueService } from './catalogue-service.ts';
export { createEngineCatalogue, type EngineCatalogue } from './engine-catalogue.ts';
export type { CatalogueService } from './catalogue-service.ts';
export type { CatalogueItem } from './catalogue-repo.ts';
export { createConsentService } from './consent-service.ts';
export type { ConsentService, Evaluation, PendingItem } from './consent-service.ts';
export type { ConsentRecord, ConsentSnapshot } from './consent-repo.ts';
export { activeConsentSnapshotSql, toConsentSnapshot } from './consent-repo.ts';
export { createMyDataService } from './my-data.ts';
export type { MyDataService } from './my-data.ts';
export { createSourceEvents, sourceEventQueue } from './source-events.ts';
export type { SourceEvents } from './source-events.ts';
export type { IssuedToken, RevocationReason, SourceEvent } from './source-event-repo.ts';
export { createSecurityEventSender } from './security-event-token.ts';
export type { EventSigner } from './security-event-token.ts';
export { createConsentModule, type ConsentModule } from './consent-module.ts';
export {
  createConsentEnding,
  type ConsentEndReason,
  type ConsentEnding,
} from './consent-ending.ts';
