// Prometheus metrics (prom-client). One registry per app, never the library's global one, so
// apps started side by side (tests, a future admin listener) never mix their counters.
// Every label has a bounded set of values: no ids, paths, client ids or error texts.
import type { IncomingMessage } from 'node:http';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export type SignInMethod = 'passkey' | 'certificate';
export type SignInOutcome = 'success' | 'failure';
/** `failure`: one attempt failed and will be retried; `abandoned`: the last retry failed too. */
export type BackchannelOutcome = 'success' | 'failure' | 'abandoned';

const SIGN_IN_METHODS: SignInMethod[] = ['passkey', 'certificate'];
const SIGN_IN_OUTCOMES: SignInOutcome[] = ['success', 'failure'];
const BACKCHANNEL_OUTCOMES: BackchannelOutcome[] = ['success', 'failure', 'abandoned'];
const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'];
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** What the engine tells about a request it served (its route name, the client it identified). */
export type EngineRequest = { route: string; clientId?: string | undefined };

/** OAuth error codes are short snake_case words; anything else is folded into `other`. */
export const errorLabel = (code: unknown) =>
  typeof code === 'string' && /^[a-z_]{1,48}$/.test(code) ? code : 'other';

export const createMetrics = ({ defaultMetrics = true }: { defaultMetrics?: boolean } = {}) => {
  const registry = new Registry();
  // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_seconds, ...
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'oneid_http_requests_total',
    help: 'HTTP requests served, by method, route (a route pattern or the OIDC engine route name) and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'oneid_http_request_duration_seconds',
    help: 'Time to handle an HTTP request, by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const signIns = new Counter({
    name: 'oneid_signins_total',
    help: 'Citizen sign-in attempts, by method (passkey, certificate) and outcome (success, failure)',
    labelNames: ['method', 'outcome'] as const,
    registers,
  });
  const tokens = new Counter({
    name: 'oneid_tokens_issued_total',
    help: 'Successful token endpoint responses, by grant type',
    labelNames: ['grant_type'] as const,
    registers,
  });
  const backchannel = new Counter({
    name: 'oneid_backchannel_deliveries_total',
    help: 'Back-channel logout deliveries to agency systems, by outcome (success, failure, abandoned)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const oidcErrors = new Counter({
    name: 'oneid_oidc_errors_total',
    help: 'Errors answered by the OIDC engine, by engine event (grant.error, server_error, ...) and OAuth error code',
    labelNames: ['event', 'error'] as const,
    registers,
  });

  // Known series start at 0, so rate() and alerts work before the first event.
  for (const method of SIGN_IN_METHODS)
    for (const outcome of SIGN_IN_OUTCOMES) signIns.labels(method, outcome).inc(0);
  for (const outcome of BACKCHANNEL_OUTCOMES) backchannel.labels(outcome).inc(0);
  for (const grantType of GRANT_TYPES) tokens.labels(grantType).inc(0);

  const recordSignIn = (method: SignInMethod, outcome: SignInOutcome) =>
    signIns.labels(method, outcome).inc();
  // The engine serves its requests itself (raw req/res); it tags them here for our request log.
  const engineRequests = new WeakMap<IncomingMessage, EngineRequest>();

  return {
    registry,
    /** The text exposition format, for GET /metrics. */
    render: () => registry.metrics(),
    contentType: registry.contentType,

    /** One finished HTTP request. `route` must be a pattern or a route name, never a raw path. */
    recordRequest(method: string, route: string, status: number, seconds: number) {
      const m = METHODS.has(method) ? method : 'OTHER';
      // Label objects straight to inc/observe: labels() would build a child per call (every request).
      requests.inc({ method: m, route, status: String(status) });
      duration.observe({ method: m, route }, seconds);
    },

    /** Counts one sign-in attempt. Call it where the outcome is known (passkey and certificate login). */
    recordSignIn,

    /** Awaits a sign-in attempt and counts it: `success` when it resolves, `failure` when it throws (rethrown). */
    async observeSignIn<T>(method: SignInMethod, attempt: Promise<T>): Promise<T> {
      try {
        const result = await attempt;
        recordSignIn(method, 'success');
        return result;
      } catch (error) {
        recordSignIn(method, 'failure');
        throw error;
      }
    },

    recordTokenIssued(grantType: unknown) {
      tokens.inc({
        grant_type:
          typeof grantType === 'string' && GRANT_TYPES.includes(grantType) ? grantType : 'other',
      });
    },

    /** For the back-channel logout queue: one delivery attempt's outcome. */
    recordBackchannelDelivery(outcome: BackchannelOutcome) {
      backchannel.labels(outcome).inc();
    },

    recordOidcError(event: string, code: unknown) {
      oidcErrors.labels(event, errorLabel(code)).inc();
    },

    tagEngineRequest: (req: IncomingMessage, tag: EngineRequest) =>
      void engineRequests.set(req, tag),
    engineRequest: (req: IncomingMessage) => engineRequests.get(req),
  };
};

export type Metrics = ReturnType<typeof createMetrics>;
