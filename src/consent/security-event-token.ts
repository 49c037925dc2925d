// Pushes a source event (source-events.ts) to the claim source: a Security Event Token (RFC 8417)
// signed with One-ID's current key, POSTed to the source's events endpoint as RFC 8935 push
// delivery. The event is OpenID CAEP's session-revoked, its subject the distributed token
// (OpenID SSF `jwt_id` subject format): the source refuses that token from then on.
import { SignJWT, type CryptoKey } from 'jose';
import type { OutboundFetch } from '../shared/index.ts';
import type { RevocationReason, SourceEvent } from './source-event-repo.ts';

export type EventSigner = { key: CryptoKey; kid: string; alg: string };

export const SESSION_REVOKED =
  'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

// CAEP 3.1 initiating_entity: who caused the revocation.
const INITIATED_BY: Record<RevocationReason, 'user' | 'policy' | 'admin'> = {
  consent_withdrawn: 'user',
  consent_expired: 'policy',
  sessions_ended: 'admin',
  account_disabled: 'admin',
};

/** Mints the SET for one queued event. Its `jti` is the event's id: a retry sends the same `jti`. */
export const securityEventToken = async (
  issuer: string,
  signer: EventSigner,
  event: SourceEvent,
): Promise<string> =>
  new SignJWT({
    sub_id: { format: 'jwt_id', iss: issuer, jti: event.tokenJti },
    events: {
      [SESSION_REVOKED]: {
        event_timestamp: Math.floor(event.createdAt.getTime() / 1000),
        initiating_entity: INITIATED_BY[event.reason],
        reason_admin: { en: event.reason },
      },
    },
  })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'secevent+jwt' })
    .setIssuer(issuer)
    .setAudience(event.audience)
    .setIssuedAt()
    .setJti(event.id)
    .sign(signer.key);

/** The worker's `send`: throws unless the source answers 202 Accepted (RFC 8935 2.2), so it retries. */
export const createSecurityEventSender =
  ({
    issuer,
    signer,
    fetch,
    timeoutMs,
  }: {
    issuer: string;
    signer: () => Promise<EventSigner>;
    fetch: OutboundFetch;
    timeoutMs: number;
  }) =>
  async (event: SourceEvent): Promise<void> => {
    const response = await fetch(event.eventsUri, {
      method: 'POST',
      headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json' },
      body: await securityEventToken(issuer, await signer(), event),
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    if (response.status !== 202) throw new Error(`status ${response.status}`);
  };
