// The sessions domain, wired: the service, the back-channel logout worker, and the periodic
// sweeps every instance runs (timed-out sessions, sessions ended without the engine, old rows).
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { ClientService } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import type { Metrics } from '../observability/index.ts';
import type { Clock } from '../shared/index.ts';
import { deleteFinishedBefore, type Delivery } from './delivery-repo.ts';
import { createDeliveryWorker } from './delivery-worker.ts';
import { createSessionService, type SessionEngine } from './session-service.ts';

const FINISHED_RETENTION_DAYS = 30;

type Deps = {
  knex: Knex;
  clock: Clock;
  issuer: string;
  clients: ClientService;
  log: Logger;
  /** BACKCHANNEL_* (logout token delivery), SESSION_SWEEP_SECONDS, REDIS_* (whether set). */
  config: Pick<Config, 'backchannel' | 'sessionSweepSeconds' | 'redis'>;
  /** Counts the logout tokens' delivery outcomes. */
  metrics: Pick<Metrics, 'recordBackchannelDelivery'>;
  /** The engine's port (src/oidc): its store's sessions, and the sender of one logout token. */
  engine: {
    sessionEngine: SessionEngine;
    sendLogoutToken: (delivery: Delivery) => Promise<void>;
  };
};

/** The session service itself, with the back-channel logout worker and the periodic sweeps. */
export const createSessionsModule = ({
  knex,
  clock,
  issuer,
  clients,
  log,
  config,
  metrics,
  engine,
}: Deps) => {
  const worker = createDeliveryWorker({
    knex,
    clock,
    issuer,
    send: engine.sendLogoutToken,
    settings: config.backchannel,
    log,
    onDelivery: (outcome) => metrics.recordBackchannelDelivery(outcome),
  });
  const service = createSessionService({
    knex,
    clock,
    issuer,
    clients,
    engine: engine.sessionEngine,
    onQueued: () => worker.kick(),
  });
  const timers: NodeJS.Timeout[] = [];
  const running = new Map<string, Promise<unknown>>();
  // A periodic job never overlaps itself (a slow database makes a run outlast its interval).
  const guarded = (name: string, job: () => Promise<unknown>) => () => {
    if (running.has(name)) return;
    const run: Promise<unknown> = job()
      .catch((err: unknown) => log.warn({ err }, `${name} failed`))
      .finally(() => running.delete(name));
    running.set(name, run);
  };

  /** One pass of the periodic work: timed-out sessions, then old rows. */
  const sweep = async () => {
    await service.sweepExpired();
    await service.forgetOld();
    await deleteFinishedBefore(
      knex,
      new Date(clock.now().getTime() - FINISHED_RETENTION_DAYS * 86400_000),
    );
  };

  return {
    ...service,
    worker,
    sweep,
    /** Starts the worker and the sweeps (servers only). */
    start() {
      if (timers.length) return;
      worker.start();
      // Without Redis the engine's store lived in this process: a restart has ended every session.
      if (!config.redis) guarded('lost session sweep', () => service.endLostSessions())();
      // Sessions an administrator ended from the CLI leave the store within a poll (a second at least).
      timers.push(
        setInterval(
          guarded('session purge', () => service.purgeEnded()),
          Math.max(config.backchannel.pollMs, 1000),
        ),
      );
      timers.push(setInterval(guarded('session sweep', sweep), config.sessionSweepSeconds * 1000));
      for (const timer of timers) timer.unref();
    },
    /** Stops polling and waits for what is in flight. */
    async stop() {
      for (const timer of timers.splice(0)) clearInterval(timer);
      await worker.stop();
      await Promise.all([...running.values()]);
    },
  };
};

export type SessionsModule = ReturnType<typeof createSessionsModule>;
