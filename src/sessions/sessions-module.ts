// The sessions domain, wired: the service, the back-channel logout worker, and the periodic
// sweeps every instance runs (timed-out sessions, sessions ended without the engine, old rows).
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { ClientService } from '../clients/index.ts';
import type { Clock } from '../shared/index.ts';
import { deleteFinishedBefore, type Delivery } from './delivery-repo.ts';
import {
  createDeliveryWorker,
  type DeliveryOutcome,
  type DeliverySettings,
} from './delivery-worker.ts';
import { createSessionService, type SessionEngine } from './session-service.ts';

const FINISHED_RETENTION_DAYS = 30;

type Deps = {
  knex: Knex;
  clock: Clock;
  issuer: string;
  clients: ClientService;
  log: Logger;
  settings: { backchannel: DeliverySettings; sweepSeconds: number };
  /** The engine's store (servers); absent in the CLI, where only the database is touched. */
  engine?: SessionEngine | undefined;
  /** Sends one logout token (servers); without it this instance queues but never sends. */
  send?: ((delivery: Delivery) => Promise<void>) | undefined;
  onDelivery?: ((outcome: DeliveryOutcome) => void) | undefined;
  /** The engine's store lives in this process (no Redis): a restart has ended every session. */
  ephemeralStore?: boolean;
};

export const createSessionsModule = ({
  knex,
  clock,
  issuer,
  clients,
  log,
  settings,
  engine,
  send,
  onDelivery,
  ephemeralStore = false,
}: Deps) => {
  const worker = send
    ? createDeliveryWorker({
        knex,
        clock,
        issuer,
        send,
        settings: settings.backchannel,
        log,
        onDelivery,
      })
    : undefined;
  const service = createSessionService({
    knex,
    clock,
    issuer,
    clients,
    engine,
    onQueued: () => worker?.kick(),
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
    service,
    worker,
    sweep,
    /** Starts the worker and the sweeps (servers only). */
    start() {
      if (!worker || !engine || timers.length) return;
      worker.start();
      if (ephemeralStore) guarded('lost session sweep', () => service.endLostSessions())();
      // Sessions an administrator ended from the CLI leave the store within a poll (a second at least).
      timers.push(
        setInterval(
          guarded('session purge', () => service.purgeEnded()),
          Math.max(settings.backchannel.pollMs, 1000),
        ),
      );
      timers.push(setInterval(guarded('session sweep', sweep), settings.sweepSeconds * 1000));
      for (const timer of timers) timer.unref();
    },
    /** Stops polling and waits for what is in flight. */
    async stop() {
      for (const timer of timers.splice(0)) clearInterval(timer);
      await worker?.stop();
      await Promise.all([...running.values()]);
    },
  };
};

export type SessionsModule = ReturnType<typeof createSessionsModule>;
