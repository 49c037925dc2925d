// Consent is evaluated against the catalogue the engine was built with (its scopes and claims
// come from it), re-read whenever the engine is rebuilt: not one query per authorization.
import type { CatalogueService } from './catalogue-service.ts';

export const createEngineCatalogue = (catalogue: CatalogueService) => {
  let current: ReturnType<CatalogueService['list']> | undefined;
  return {
    ...catalogue,
    list: () =>
      (current ??= catalogue.list().catch((error: unknown) => {
        current = undefined;
        throw error;
      })),
    /** The engine is being rebuilt: the next read takes the catalogue as it is now. */
    renew: () => void (current = undefined),
  };
};

export type EngineCatalogue = ReturnType<typeof createEngineCatalogue>;
