export { createSessionsModule } from './sessions-module.ts';
export type { SessionsModule } from './sessions-module.ts';
export { createSessionService } from './session-service.ts';
export type {
  SessionEngine,
  SessionService,
  SessionSnapshot,
  SessionView,
} from './session-service.ts';
export { createDeliveryWorker, UndeliverableError } from './delivery-worker.ts';
export type { DeliveryQueue, QueuedDelivery } from './delivery-worker.ts';
export type { DeliveryOutcome, DeliverySettings, DeliveryWorker } from './delivery-worker.ts';
export type { Delivery, DeliveryStatus, LogoutReason } from './delivery-repo.ts';
export type { EndReason, SessionClient, SessionRecord } from './session-repo.ts';
export { retryDelayMs } from './backoff.ts';
export { deviceLabel, networkOf } from './device.ts';
