// The instance's listeners and their graceful stop: the main one (slow senders cut, requests
// tracked for the drain), the metrics one (METRICS_PORT) and the mutual-TLS certificate one.
import type { Server } from 'node:http';
import type Koa from 'koa';
import type { Metrics } from '../observability/index.ts';
import { trackRequests } from './middleware/graceful-stop.ts';
import { startMetricsServer } from './middleware/metrics.ts';
import { limitSlowClients } from './middleware/slow-clients.ts';

type Deps = {
  metrics: Metrics;
  /** METRICS_PORT and METRICS_HOST: a listener of its own for GET /metrics, when set. */
  metricsAt: { port?: number | undefined; host: string };
  /** The certificate listener and its CERT_LOGIN_PORT, when certificate login runs over mTLS. */
  certificate?:
    | { listen: (port: number, host: string) => Promise<number>; close: () => Promise<void> }
    | undefined;
  certificatePort?: number | undefined;
};

export const createListeners = ({ metrics, metricsAt, certificate, certificatePort }: Deps) => {
  let server: Server | undefined;
  let requests: ReturnType<typeof trackRequests> | undefined;
  let metricsServer: Server | undefined;
  return {
    /** True once a graceful stop began (/readyz answers 503). */
    draining: () => requests?.draining() ?? false,
    /** Starts listening; resolves with the bound port (0 picks a free one). */
    async listen(app: Koa, port: number, host: string) {
      const bound = await new Promise<number>((resolve, reject) => {
        server = app.listen(port, host, () => {
          const address = server!.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
        requests = trackRequests(server);
        // A client must send its whole request within 30 s and its headers within 15 s (slow senders).
        limitSlowClients(server);
        server.once('error', reject);
      });
      if (metricsAt.port !== undefined)
        metricsServer ??= await startMetricsServer(metrics, metricsAt.port, metricsAt.host);
      if (certificate && certificatePort !== undefined)
        await certificate.listen(certificatePort, host);
      return bound;
    },
    /**
     * First step of a graceful stop (main.ts): /readyz answers 503 and connections are no longer
     * kept alive, while every request is still served. close() follows after the drain period.
     */
    drain: () => requests?.drain(),
    /** No new connections; in-flight requests finish. */
    async close() {
      await certificate?.close();
      // Keep-alive connections close as soon as their last request is answered; requests still
      // running after 10 s are cut, so pools close before main.ts's 15 s deadline (graceful-stop.ts).
      if (requests) await requests.stop(10_000);
      if (metricsServer) {
        metricsServer.close();
        metricsServer.closeAllConnections();
      }
    },
  };
};
