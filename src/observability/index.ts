export { createMetrics, errorLabel } from './metrics.ts';
export type {
  BackchannelOutcome,
  EngineRequest,
  Metrics,
  SignInMethod,
  SignInOutcome,
} from './metrics.ts';
export { observeProvider, safeError } from './provider-events.ts';
