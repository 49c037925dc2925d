// Back-channel logout (OpenID Connect Back-Channel Logout 1.0) made durable: the engine mints
// and POSTs logout tokens itself (`client.backchannelLogout(sub, sid)`), but inline, once, while
// the citizen's logout page waits. Here each provider's method is replaced by one that queues
// the token (src/sessions); the worker later calls the engine's original method to send it.
import type Provider from 'oidc-provider';
import type { ClientService } from '../../clients/index.ts';
import { UndeliverableError, type Delivery, type LogoutReason } from '../../sessions/index.ts';
import { randomToken } from '../../shared/index.ts';

type LogoutCapable = {
  clientId: string;
  backchannelLogoutUri?: string | undefined;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
};
type SendLogout = LogoutCapable['backchannelLogout'];

const originals = new WeakMap<Provider, SendLogout>();

export type Enqueue = (d: {
  clientId: string;
  accountId: string;
  sid: string;
  reason: LogoutReason;
}) => Promise<void>;

/**
 * Replaces `provider.Client.prototype.backchannelLogout` with a function that queues the token
 * (RP-initiated logout then only writes a row and moves on). Call once per provider built.
 */
export const installBackchannelQueue = (provider: Provider, enqueue: Enqueue) => {
  const proto = provider.Client.prototype as unknown as LogoutCapable;
  if (originals.has(provider)) return;
  originals.set(provider, proto.backchannelLogout);
  proto.backchannelLogout = async function queueLogoutToken(
    this: LogoutCapable,
    sub: string,
    sid: string | undefined,
  ) {
    // The engine passes the account id as `sub`: the token's pairwise `sub` is derived from it
    // when minted. Every session gives every client a sid, so it is always there.
    if (!sid) throw new TypeError('back-channel logout without a sid');
    await enqueue({ clientId: this.clientId, accountId: sub, sid, reason: 'logout' });
  };
};

/**
 * Sends one queued token with the engine's own code: mints it (pairwise `sub`, `sid` when the
 * client registered backchannel_logout_session_required, `events`, fresh `jti`, signed with
 * the client's ID token algorithm) and POSTs it; throws unless the receiver answers 200 or 204.
 * A client disabled since is still told (the admin disabling it wants its sessions ended).
 */
export const createLogoutTokenSender =
  ({ provider, clients }: { provider: () => Provider; clients: ClientService }) =>
  async (delivery: Pick<Delivery, 'clientId' | 'accountId' | 'sid'>): Promise<void> => {
    const current = provider();
    const original = originals.get(current);
    if (!original) throw new TypeError('installBackchannelQueue was not called for this provider');
    let client = (await current.Client.find(delivery.clientId)) as unknown as
      LogoutCapable | undefined;
    if (!client) {
      const record = await clients.find(delivery.clientId);
      if (!record) throw new UndeliverableError(`client ${delivery.clientId} no longer exists`);
      // Not `active`: build it from its metadata. The secret is never used for logout tokens
      // (they are signed with One-ID's keys), but the engine's schema wants one to be present.
      const metadata = {
        ...record.metadata,
        client_id: record.clientId,
        ...(record.secretSealed && { client_secret: randomToken(32) }),
      };
      client = new (current.Client as unknown as new (metadata: object) => LogoutCapable)(metadata);
    }
    if (!client.backchannelLogoutUri)
      throw new UndeliverableError(`client ${delivery.clientId} has no backchannel_logout_uri`);
    await original.call(client, delivery.accountId, delivery.sid);
  };
