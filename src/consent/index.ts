export { createCatalogueService } from './catalogue-service.ts';
export type { CatalogueService } from './catalogue-service.ts';
export type { CatalogueItem } from './catalogue-repo.ts';
export { createConsentService } from './consent-service.ts';
export type { ConsentService, Evaluation, PendingItem } from './consent-service.ts';
export type { ConsentRecord } from './consent-repo.ts';
export { createMyDataService } from './my-data.ts';
export type { MyDataService } from './my-data.ts';
