// Sign-in through an upstream identity provider, inside One-ID's own sign-in (an engine
// interaction). Typical flow for the HTTP layer:
//   1. start(uid, upstreamId)     -> the upstream's authorization URL; state, nonce and PKCE
//      verifier stay server-side (KV), bound to the interaction, single-use, 10 minutes.
//   2. complete(uid, query)       -> code exchange and ID token validation (openid-client), then
//      the identity (issuer, sub) is looked up: linked -> signed in at the upstream's level;
//      not linked -> a pending link (KV, 10 minutes) the citizen resolves on the linking page:
//   3. linkWithProof (passkey, or any One-ID sign-in in the same interaction: signedIn),
//      confirmMatch (the configured attributes match exactly one account) or enrol (the
//      upstream may create accounts, and no account has the attributes the match rule names).
//      Each returns the login to finish the interaction with.
import type { Knex } from 'knex';
import type { AccountService } from '../accounts/index.ts';
import { appendAudit, type AuditEvent } from '../audit/index.ts';
import { ACR, acrRank, satisfiesAcr } from '../auth/index.ts';
import { AppError, isAppError, newId, randomToken, type Clock } from '../shared/index.ts';
import type { KvStore } from '../store/index.ts';
import { FEDERATION_AMR, federatedAmr } from './amr.ts';
import { canMatch, mapAttributes, type Attributes } from './attribute-mapping.ts';
import {
  federationExpired,
  upstreamAcr,
  upstreamDenied,
  upstreamRejected,
  upstreamUnavailable,
  upstreamUnknown,
} from './federation-errors.ts';
import {
  countSignInMethods,
  deleteIdentity,
  findAccountsByAttributes,
  findIdentity,
  hasIdentityAtIssuer,
  insertIdentity,
  listIdentities,
  recordIdentityUse,
  type LinkMethod,
} from './federated-identity-repo.ts';
import { classify, type UpstreamClient } from './upstream-client.ts';
import type { UpstreamService } from './upstream-service.ts';

const FLOW_TTL_SECONDS = 600;
const PENDING_TTL_SECONDS = 600;
const flowKey = (state: string) => `fed:flow:${state}`;
const pendingKey = (uid: string) => `fed:pending:${uid}`;

type Flow = { uid: string; upstreamId: string; state: string; nonce: string; verifier: string };

/** A verified upstream identity not linked yet, as kept server-side for its interaction. */
type Pending = {
  upstreamId: string;
  issuer: string;
  subject: string;
  attributes: Attributes;
  acr: string;
  amr: string[];
  /** The one account the upstream's attributes matched (never shown, only confirmed). */
  candidate?: string | undefined;
  /** Some account (active or disabled) has the attributes of the match rule: no enrolment. */
  accountExists?: boolean | undefined;
  /** The citizen chose to prove an account by signing in on the sign-in page. */
  proof?: 'sign-in' | undefined;
  expiresAt: number;
};

/** A pending link as read ahead for signedIn (opaque to the caller). */
export type PendingLink = Pending;

/** What finishes the engine's login prompt. */
export type FederatedLogin = { accountId: string; acr: string; amr: string[] };
export type FederationOutcome = { kind: 'signed-in'; login: FederatedLogin } | { kind: 'link' };

type RequestContext = { ip?: string | undefined };
type Deps = {
  knex: Knex;
  kv: KvStore;
  clock: Clock;
  accounts: AccountService;
  upstreams: UpstreamService;
  client: UpstreamClient;
  log?: { warn: (obj: object, msg: string) => void } | undefined;
};

const higher = (a: string, b: string) => (acrRank(a) >= acrRank(b) ? a : b);
const strong = (acr: string | undefined) => acrRank(acr) >= acrRank(ACR.substantial);

export const createFederationLoginService = ({
  knex,
  kv,
  clock,
  accounts,
  upstreams,
  client,
  log,
}: Deps) => {
  const audit = (...events: AuditEvent[]) =>
    knex.transaction(async (trx) => {
      for (const event of events) await appendAudit(trx, event);
    });

  const readPending = async (uid: string): Promise<Pending | undefined> => {
    const raw = await kv.get(pendingKey(uid));
    return raw ? (JSON.parse(raw) as Pending) : undefined;
  };
  const takePending = async (uid: string): Promise<Pending> => {
    const raw = await kv.take(pendingKey(uid));
    if (!raw) throw federationExpired();
    return JSON.parse(raw) as Pending;
  };

  /** What the linking page offers for interaction `uid`, or the error that says why nothing. */
  const linkChoices = async (uid: string) => {
    const pending = await readPending(uid);
    if (!pending) return federationExpired;
    const upstream = await upstreams.find(pending.upstreamId);
    if (!upstream || upstream.status !== 'active') return upstreamUnknown;
    const { name, birthdate } = pending.attributes;
    return {
      upstream: {
        id: upstream.id,
        name: upstream.displayName,
        logoUri: upstream.logoUri ?? undefined,
      },
      attributes: pending.attributes,
      matchRule: upstream.matchRule,
      canConfirm: Boolean(pending.candidate),
      canEnrol:
        upstream.enrolment &&
        strong(pending.acr) &&
        Boolean(name && birthdate) &&
        !pending.accountExists,
      /** An account has these attributes but cannot be offered (several, disabled, or linked there already). */
      accountExists: Boolean(pending.accountExists) && !pending.candidate,
      awaitingSignIn: pending.proof === 'sign-in',
    };
  };

  const activeAccount = async (accountId: string) => {
    const account = await accounts.findById(accountId);
    if (!account || account.status !== 'active')
      throw new AppError(
        'ERR_ACCOUNT_DISABLED',
        'This account cannot sign in. Please contact a service counter.',
        { status: 403 },
      );
    return account;
  };

  /** Links the pending identity to `accountId` inside `trx` (audited there). */
  const link = async (
    trx: Knex.Transaction,
    pending: Pending,
    accountId: string,
    method: LinkMethod,
    context: RequestContext,
  ) => {
    const existing = await findIdentity(trx, pending.issuer, pending.subject);
    if (existing && existing.accountId !== accountId)
      throw new AppError(
        'ERR_FEDERATION_ALREADY_LINKED',
        'This identity is already linked to another One-ID account.',
        { status: 409 },
      );
    if (!existing) {
      await insertIdentity(trx, {
        id: newId(),
        upstreamId: pending.upstreamId,
        issuer: pending.issuer,
        subject: pending.subject,
        accountId,
        linkedBy: method,
        lastUsedAt: clock.now(),
      });
    }
    await appendAudit(trx, {
      action: 'auth.federation.linked',
      actor: `account:${accountId}`,
      subject: `account:${accountId}`,
      ip: context.ip,
      details: { upstream: pending.upstreamId, method },
    });
  };

  return {
    /**
     * Starts a sign-in at the upstream for interaction `uid`; returns the URL to redirect to.
     * Throws when the upstream is unknown, below the requested `acr_values`, or unreachable.
     */
    async start(
      uid: string,
      upstreamId: string,
      request: { acrValues?: string | undefined; uiLocales?: string | undefined } = {},
    ): Promise<string> {
      const upstream = await upstreams.active(upstreamId);
      if (!upstream) throw upstreamUnknown();
      if (!satisfiesAcr(upstream.acr, request.acrValues)) throw upstreamAcr();
      const checks = { state: randomToken(24), nonce: randomToken(24), verifier: randomToken(48) };
      let url: URL;
      try {
        url = await client.authorizationUrl(upstream, checks, { uiLocales: request.uiLocales });
      } catch (error) {
        const failure = classify(error);
        log?.warn(
          { upstream: upstream.id, host: new URL(upstream.issuer).host, reason: failure.reason },
          'upstream identity provider unavailable',
        );
        throw upstreamUnavailable(upstream.displayName.en, failure);
      }
      await kv.set(
        flowKey(checks.state),
        JSON.stringify({ uid, upstreamId, ...checks } satisfies Flow),
        FLOW_TTL_SECONDS,
      );
      return url.href;
    },

    /** The interaction a callback's `state` belongs to (without using it up). */
    async flowInteraction(state: unknown): Promise<string | undefined> {
      if (typeof state !== 'string' || !/^[\w-]{16,128}$/.test(state)) return undefined;
      const raw = await kv.get(flowKey(state));
      return raw ? (JSON.parse(raw) as Flow).uid : undefined;
    },

    /** Completes the upstream's callback (its query) for interaction `uid`. */
    async complete(
      uid: string,
      query: URLSearchParams,
      context: RequestContext = {},
    ): Promise<FederationOutcome> {
      const state = query.get('state');
      const raw = state && /^[\w-]{16,128}$/.test(state) ? await kv.take(flowKey(state)) : null;
      const flow = raw ? (JSON.parse(raw) as Flow) : undefined;
      // Single-use and bound to the interaction this browser holds.
      if (!flow || flow.uid !== uid) throw federationExpired();
      const upstream = await upstreams.active(flow.upstreamId);
      if (!upstream) throw upstreamUnknown();
      const name = upstream.displayName.en;
      let verified;
      try {
        verified = await client.exchange(
          upstream,
          new URL(`${client.redirectUri}?${query.toString()}`),
          flow,
          Object.values(upstream.claimMapping).filter((c): c is string => Boolean(c)),
        );
      } catch (error) {
        const failure = classify(error);
        if (failure.kind === 'unavailable')
          log?.warn(
            { upstream: upstream.id, host: new URL(upstream.issuer).host, reason: failure.reason },
            'upstream identity provider unavailable',
          );
        await audit({
          action: 'auth.federation.rejected',
          actor: 'anonymous',
          ip: context.ip,
          details: {
            upstream: upstream.id,
            kind: failure.kind,
            reason: failure.reason.slice(0, 300),
          },
        });
        throw failure.kind === 'unavailable'
          ? upstreamUnavailable(name, failure)
          : failure.kind === 'denied'
            ? upstreamDenied(name)
            : upstreamRejected(name, failure);
      }
      // The level is the upstream's configured one, never more; the methods its RFC 8176 ones plus `fed`.
      const identity = {
        upstreamId: upstream.id,
        issuer: verified.issuer,
        subject: verified.subject,
        attributes: mapAttributes(verified.claims, upstream.claimMapping),
        acr: upstream.acr,
        amr: federatedAmr(verified.claims.amr),
      };
      const linked = await findIdentity(knex, identity.issuer, identity.subject);
      if (linked) {
        const { id: accountId } = await activeAccount(linked.accountId);
        await knex.transaction(async (trx) => {
          await recordIdentityUse(trx, linked.id, clock.now());
          await appendAudit(trx, {
            action: 'auth.federation.verified',
            actor: `account:${accountId}`,
            subject: `account:${accountId}`,
            ip: context.ip,
            details: { upstream: upstream.id, acr: identity.acr, amr: identity.amr },
          });
        });
        return { kind: 'signed-in', login: { accountId, acr: identity.acr, amr: identity.amr } };
      }
      // First time: the one account the configured attributes match (active, and with no other
      // identity at this issuer) is offered for confirmation; two or more, a disabled one, or one
      // linked at this issuer already need proof. Enrolment is for citizens with no account: when
      // any account has these attributes, a new one would be a duplicate (or get round a disabling).
      let candidate: string | undefined;
      let accountExists = false;
      if (canMatch(identity.attributes, upstream.matchRule)) {
        const matches = await findAccountsByAttributes(
          knex,
          Object.fromEntries(upstream.matchRule.map((a) => [a, identity.attributes[a]])),
        );
        accountExists = matches.length > 0;
        const [only] = matches;
        if (
          matches.length === 1 &&
          only!.status === 'active' &&
          !(await hasIdentityAtIssuer(knex, only!.id, identity.issuer))
        )
          candidate = only!.id;
      }
      const pending: Pending = {
        ...identity,
        candidate,
        accountExists,
        expiresAt: clock.now().getTime() + PENDING_TTL_SECONDS * 1000,
      };
      await kv.set(pendingKey(uid), JSON.stringify(pending), PENDING_TTL_SECONDS);
      return { kind: 'link' };
    },

    /** The linking page's choices; refuses when no link waits or its provider is gone. */
    async linkOptions(uid: string) {
      const choices = await linkChoices(uid);
      if (typeof choices === 'function') throw choices();
      return choices;
    },

    /**
     * The same, or undefined when there is nothing to offer: what the login page asks on every
     * view, where no link is waiting almost always (no error built for that).
     */
    async pendingLinkOptions(uid: string) {
      const choices = await linkChoices(uid);
      return typeof choices === 'function' ? undefined : choices;
    },

    /** Links after the citizen proved an existing account (passkey on the linking page). */
    async linkWithProof(
      uid: string,
      proof: FederatedLogin & { method: 'passkey' },
      context: RequestContext = {},
    ): Promise<FederatedLogin> {
      const pending = await takePending(uid);
      await activeAccount(proof.accountId);
      await knex.transaction((trx) => link(trx, pending, proof.accountId, proof.method, context));
      // Two sign-ins happened: the stronger level holds, and both sets of methods were used.
      return {
        accountId: proof.accountId,
        acr: higher(pending.acr, proof.acr),
        amr: [...new Set([...pending.amr, ...proof.amr])],
      };
    },

    /** Links to the one account the configured attributes matched, on the citizen's confirmation. */
    async confirmMatch(uid: string, context: RequestContext = {}): Promise<FederatedLogin> {
      const pending = await takePending(uid);
      if (!pending.candidate) throw federationExpired();
      const accountId = pending.candidate;
      await activeAccount(accountId);
      await knex.transaction((trx) => link(trx, pending, accountId, 'match', context));
      return { accountId, acr: pending.acr, amr: pending.amr };
    },

    /** Creates an account from the upstream's attributes (only where the upstream may enrol). */
    async enrol(uid: string, context: RequestContext = {}): Promise<FederatedLogin> {
      const pending = await takePending(uid);
      const upstream = await upstreams.find(pending.upstreamId);
      const { name, birthdate, email, phone_number: phone } = pending.attributes;
      if (
        !upstream?.enrolment ||
        upstream.status !== 'active' ||
        !strong(pending.acr) ||
        !name ||
        !birthdate ||
        pending.accountExists
      ) {
        throw new AppError(
          'ERR_FEDERATION_NO_ENROLMENT',
          'A One-ID account cannot be created from this sign-in service.',
          { status: 403 },
        );
      }
      const accountId = await knex.transaction(async (trx) => {
        const account = await accounts.createCitizen(trx, {
          name,
          birthdate,
          ...(email && { email }),
          ...(phone && { phone }),
        });
        await appendAudit(trx, {
          action: 'accounts.created.federation',
          actor: `account:${account.id}`,
          subject: `account:${account.id}`,
          ip: context.ip,
          details: { upstream: pending.upstreamId },
        });
        await link(trx, pending, account.id, 'enrolment', context);
        return account.id;
      });
      return { accountId, acr: pending.acr, amr: pending.amr };
    },

    /** The citizen will prove an account by signing in on the sign-in page (e.g. a certificate). */
    async deferToSignIn(uid: string): Promise<void> {
      const pending = await readPending(uid);
      if (!pending) throw federationExpired();
      const left = Math.floor((pending.expiresAt - clock.now().getTime()) / 1000);
      if (left < 1) throw federationExpired();
      await kv.set(
        pendingKey(uid),
        JSON.stringify({ ...pending, proof: 'sign-in' } satisfies Pending),
        left,
      );
    },

    /**
     * Interaction `uid`'s pending link, read now: the engine asks for it as the interaction is
     * resumed, so the read goes with the engine's own first read (one Redis round trip), and
     * hands it to signedIn (a failed read is signedIn's failure, reported there).
     */
    pendingLink(uid: string): Promise<PendingLink | undefined> {
      const read = readPending(uid);
      read.catch(() => undefined); // awaited by signedIn, if the interaction ends with a sign-in
      return read;
    },

    /**
     * Called when interaction `uid` ended with a sign-in: links a pending identity the citizen
     * asked to link this way, when the sign-in was One-ID's own (passkey, certificate).
     * The citizen is signed in either way (the engine has finished the interaction), so a link
     * that cannot be made (the identity was linked to another account meanwhile, a sign-in below
     * `substantial`) is audited as `auth.federation.link_failed`, on their activity list too.
     */
    async signedIn(
      uid: string,
      login: { accountId: string; acr?: string | undefined; amr?: string[] | undefined },
      /** The pending link as read ahead by pendingLink(uid); read now when absent. */
      readAhead?: Promise<PendingLink | undefined>,
    ): Promise<boolean> {
      const pending = await (readAhead ?? readPending(uid));
      if (pending?.proof !== 'sign-in' || (login.amr ?? []).includes(FEDERATION_AMR)) return false;
      const taken = await takePending(uid).catch(() => undefined);
      if (!taken) return false;
      try {
        if (!strong(login.acr))
          throw new AppError(
            'ERR_FEDERATION_WEAK_SIGN_IN',
            'Linking needs a sign-in at substantial or higher.',
            { status: 403 },
          );
        await knex.transaction((trx) => link(trx, taken, login.accountId, 'sign-in', {}));
        return true;
      } catch (error) {
        const actor = `account:${login.accountId}`;
        await audit({
          action: 'auth.federation.link_failed',
          actor,
          subject: actor,
          details: {
            upstream: taken.upstreamId,
            method: 'sign-in',
            reason: isAppError(error) ? error.code : 'error',
          },
        });
        // An expected refusal ends here; anything else is also logged by the caller.
        if (isAppError(error)) return false;
        throw error;
      }
    },

    /** The citizen's linked identities, and whether each may be removed (one way to sign in stays). */
    async identities(accountId: string) {
      const [identities, methods] = await Promise.all([
        listIdentities(knex, accountId),
        countSignInMethods(knex, accountId),
      ]);
      return identities.map((i) => ({ ...i, removable: !i.upstreamActive || methods > 1 }));
    },

    /** Removes a linked identity, unless it is the account's last way to sign in. */
    async unlink(
      accountId: string,
      identityId: string,
      context: RequestContext = {},
    ): Promise<void> {
      await knex.transaction(async (trx) => {
        const before = await countSignInMethods(trx, accountId);
        const removed = await deleteIdentity(trx, accountId, identityId);
        if (!removed)
          throw new AppError(
            'ERR_FEDERATION_NOT_LINKED',
            'This sign-in service is not linked to your account.',
            { status: 404 },
          );
        const after = await countSignInMethods(trx, accountId);
        if (after < 1 && after < before)
          throw new AppError(
            'ERR_LAST_SIGN_IN_METHOD',
            'You cannot remove your only way to sign in.',
            { status: 409 },
          );
        await appendAudit(trx, {
          action: 'auth.federation.unlinked',
          actor: `account:${accountId}`,
          subject: `account:${accountId}`,
          ip: context.ip,
          details: { upstream: removed.upstreamId },
        });
      });
    },
  };
};

export type FederationLoginService = ReturnType<typeof createFederationLoginService>;
