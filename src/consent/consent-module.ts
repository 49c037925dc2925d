// The consent domain for a server: the consent service (evaluated against the engine's
// catalogue), the data overview of My One-ID, and the distributed tokens' sources with their
// durable event queue (RFC 8417 SETs, sent by the same worker kind as back-channel logout).
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { AuditService } from '../audit/index.ts';
import type { ClientService } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import { createDeliveryWorker } from '../sessions/index.ts';
import type { Clock, OutboundFetch } from '../shared/index.ts';
import type { CatalogueService } from './catalogue-service.ts';
import { createConsentService } from './consent-service.ts';
import { createEngineCatalogue } from './engine-catalogue.ts';
import { createMyDataService } from './my-data.ts';
import { createSecurityEventSender, type EventSigner } from './security-event-token.ts';
import { createSourceEvents, sourceEventQueue } from './source-events.ts';

type Deps = {
  knex: Knex;
  clock: Clock;
  issuer: string;
  clients: ClientService;
  catalogue: CatalogueService;
  audit: AuditService;
  /** CONSENT_MAX_AGE_DAYS, and the BACKCHANNEL_* delivery settings the events are sent with. */
  config: Pick<Config, 'consentMaxAgeDays' | 'backchannel'>;
  /** One-ID's current ES256 key (src/oidc/keys/engine-keys.ts): signs the events. */
  signer: () => Promise<EventSigner>;
  fetch: OutboundFetch;
  log: Logger;
};

/** The consent service itself, with the engine's catalogue, My One-ID's data and the sources. */
export const createConsentModule = (deps: Deps) => {
  const { knex, clock, issuer, clients, catalogue, log } = deps;
  const { backchannel } = deps.config;
  const engineCatalogue = createEngineCatalogue(catalogue);
  const consent = createConsentService({
    knex,
    clock,
    clients,
    catalogue: engineCatalogue,
    maxAgeDays: deps.config.consentMaxAgeDays,
  });
  // A withdrawal reaches the sources of the distributed tokens the client holds.
  const worker = createDeliveryWorker({
    knex,
    clock,
    issuer,
    queue: sourceEventQueue,
    send: createSecurityEventSender({
      issuer,
      signer: deps.signer,
      fetch: deps.fetch,
      timeoutMs: backchannel.timeoutMs,
    }),
    settings: backchannel,
    log,
  });
  const sourceEvents = createSourceEvents({ knex, clock, issuer, onQueued: () => worker.kick() });
  return {
    ...consent,
    engineCatalogue,
    sourceEvents,
    worker,
    myData: createMyDataService({ consent, clients, catalogue, audit: deps.audit }),
  };
};

export type ConsentModule = ReturnType<typeof createConsentModule>;
