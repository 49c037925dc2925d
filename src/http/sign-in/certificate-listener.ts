// The mutual-TLS listener (CERT_LOGIN_PORT): the ONLY place One-ID asks browsers for a TLS
// client certificate, so no other page ever triggers the browser's certificate picker. It
// serves one route. The handshake accepts any certificate (rejectUnauthorized: false):
// One-ID validates the chain itself (anchors, revocation, usage, policy) and records the
// outcome under the single-use ticket the login page issued, then sends the browser back to
// the issuer, where the interaction cookie finishes the sign-in. It also serves /static/* for
// its own error pages, and the engine's client endpoints to systems authenticating with a client
// certificate (RFC 8705 mtls_endpoint_aliases: token, PAR, introspection, revocation, userinfo).
import type { EngineApp } from '../../oidc/index.ts';
import { createServer, type Server } from 'node:https';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import type { CertificateLoginService } from '../../auth/certificate/index.ts';
import { errorHandler } from '../middleware/errors.ts';
import { createIssuerOrigin } from '../middleware/issuer-origin.ts';
import { securityHeaders } from '../middleware/security.ts';
import { limitSlowClients } from '../middleware/slow-clients.ts';
import { staticRoutes } from '../render/static-routes.ts';
import type { Views } from '../render/views.ts';

const MAX_CHAIN = 10;

/** The peer's certificates as DER, leaf first, as the handshake delivered them. */
export const peerChain = (peer: DetailedPeerCertificate | Record<string, never>): Buffer[] => {
  const ders: Buffer[] = [];
  let current = peer as DetailedPeerCertificate | undefined;
  while (current?.raw && ders.length < MAX_CHAIN && !ders.some((der) => der.equals(current!.raw))) {
    ders.push(current.raw);
    current = current.issuerCertificate;
  }
  return ders;
};

/** The engine's endpoints a client reaches with its certificate (oidc/fapi-profile.ts MTLS_ENGINE_PATHS). */
const ENGINE_MTLS_PATH = /^\/(?:token(?:\/introspection|\/revocation)?|request|me)$/;

type Deps = {
  certificates: CertificateLoginService;
  issuer: string;
  /** This listener's own origin (`https://<issuer host>:<CERT_LOGIN_PORT>`): the only Host it answers. */
  origin: string;
  /** The current engine (rebuilt when keys change); its mTLS endpoints are served here. */
  engine?: (() => EngineApp) | undefined;
  /** PEM server certificate (with its chain) and key for the issuer's host name. */
  tlsCert: string | Buffer;
  tlsKey: string | Buffer;
  /** The trust anchors: their names go in the CertificateRequest so browsers offer matching certificates. */
  trustAnchorsPem: string;
  views: Views;
  log: Logger;
};

export const createCertificateListener = ({
  certificates,
  issuer,
  origin,
  tlsCert,
  tlsKey,
  trustAnchorsPem,
  views,
  log,
  engine,
}: Deps) => {
  const app = new Koa();
  app.silent = true;
  const router = new Router();
  router.get('/certificate/tls', async (ctx) => {
    const socket = ctx.req.socket as TLSSocket;
    const ticket = typeof ctx.query.ticket === 'string' ? ctx.query.ticket : undefined;
    const { uid } = await certificates.acceptTlsCertificate(
      ticket,
      peerChain(socket.getPeerCertificate(true)),
      { ip: socket.remoteAddress },
    );
    ctx.status = 303;
    ctx.redirect(
      `${issuer}/interaction/${encodeURIComponent(uid)}/certificate/complete?ticket=${encodeURIComponent(ticket!)}`,
    );
  });
  // Its error pages load the stylesheet from this origin too.
  staticRoutes(router);
  // HSTS covers every port of the host: only when the issuer itself is https.
  app.use(securityHeaders({ hsts: new URL(issuer).protocol === 'https:' }));
  // Browsers come here directly (the handshake is ours), never through a proxy.
  app.use(
    createIssuerOrigin({ origin, trustedProxies: [] }).middleware(errorHandler({ views, log })),
  );
  // The engine answers its own endpoints, errors included (OAuth error bodies).
  if (engine)
    app.use(async (ctx, next) => {
      if (!ENGINE_MTLS_PATH.test(ctx.path)) return next();
      ctx.respond = false;
      await engine().handle(ctx.req, ctx.res);
    });
  app.use(errorHandler({ views, log }));
  app.use(router.routes());
  app.use(router.allowedMethods());

  // The same bounds on slow senders as the main listener (slow-clients.ts).
  const server: Server = limitSlowClients(
    createServer(
      {
        cert: tlsCert,
        key: tlsKey,
        ca: trustAnchorsPem,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
      },
      app.callback(),
    ),
  );
  server.on('tlsClientError', (err) =>
    log.debug({ err }, 'certificate listener: TLS handshake failed'),
  );

  return {
    server,
    /** Starts listening; resolves with the bound port. */
    listen: (port: number, host: string) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
};

export type CertificateListener = ReturnType<typeof createCertificateListener>;
