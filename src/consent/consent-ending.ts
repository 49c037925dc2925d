// Ending a consent is one use case, whichever way it ends (the citizen withdraws it on My One-ID,
// or it expires, CONSENT_MAX_AGE_DAYS): its grants are revoked at once (every token issued
// under it stops working), the client is signed out of the citizen's live sessions
// (back-channel logout), and the sources of the distributed tokens it holds are told to refuse
// them (RFC 8417 SETs). The expiry sweep runs here too, on SESSION_SWEEP_SECONDS.
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { ConsentRecord } from './consent-repo.ts';
import type { ConsentService } from './consent-service.ts';
import type { SourceEvents } from './source-events.ts';

export type ConsentEndReason = 'consent_withdrawn' | 'consent_expired';

type Deps = {
  /** The consent module: its service and the distributed tokens' sources (consent-module.ts). */
  consent: ConsentService & { sourceEvents: SourceEvents };
  /** The engine's port (src/oidc): revokes grants and every token issued under them. */
  engine: { revokeGrants: (grantIds: string[]) => Promise<void> };
  /** The sessions' port (src/sessions logoutClient): signs the client out of live sessions. */
  sessions: {
    logoutClient: (
      accountId: string,
      clientId: string,
      reason: ConsentEndReason,
      options: { actor: string },
    ) => Promise<unknown>;
  };
  log: Logger;
  /** SESSION_SWEEP_SECONDS: how often the expiry sweep runs. */
  config: Pick<Config, 'sessionSweepSeconds'>;
};

export const createConsentEnding = ({ consent, engine, sessions, log, config }: Deps) => {
  const { sourceEvents } = consent;
  /** The consent (already marked ended and audited) stops the data everywhere. */
  const endConsent = async (
    accountId: string,
    clientId: string,
    reason: ConsentEndReason,
    { grantIds, actor }: { grantIds: string[]; actor: string },
  ): Promise<void> => {
    await engine.revokeGrants(grantIds);
    await sessions.logoutClient(accountId, clientId, reason, { actor });
    await sourceEvents.revoke(accountId, clientId, reason);
  };

  /** Closes the consents past their expiry, a batch at a time, then forgets old source events. */
  const sweep = async () => {
    for (;;) {
      const expired = await consent.expireDue();
      for (const c of expired)
        await endConsent(c.accountId, c.clientId, 'consent_expired', {
          grantIds: c.grantIds,
          actor: 'system',
        });
      if (expired.length < 100) break;
    }
    await sourceEvents.forgetOld();
  };

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  return {
    endConsent,
    sweep,

    /**
     * The citizen withdraws one of their consents (audited as `consent.withdrawn`), which then
     * ends; undefined when it is not theirs, unknown, or already ended (nothing changed).
     */
    async withdraw(
      accountId: string,
      consentId: string,
      context: { ip?: string } = {},
    ): Promise<ConsentRecord | undefined> {
      const actor = `account:${accountId}`;
      const record = await consent.withdraw(accountId, consentId, actor, context);
      if (record)
        await endConsent(accountId, record.clientId, 'consent_withdrawn', {
          grantIds: record.grantIds,
          actor,
        });
      return record;
    },

    /** Starts the expiry sweep (servers only); a run never overlaps the previous one. */
    start() {
      if (timer) return;
      timer = setInterval(() => {
        running ??= sweep()
          .catch((err: unknown) => log.warn({ err }, 'consent sweep failed'))
          .finally(() => (running = undefined));
      }, config.sessionSweepSeconds * 1000);
      timer.unref();
    },
    /** Stops the sweep and waits for a run in flight. */
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
};

export type ConsentEnding = ReturnType<typeof createConsentEnding>;
