export { createMetrics, errorLabel } from './metrics.ts';
export type {
  BackchannelOutcome,
  EngineRequest,
  Metrics,
  SignInMethod,
  SignInOutcome,
} from './metrics.ts';
export { safeError } from './safe-error.ts';
