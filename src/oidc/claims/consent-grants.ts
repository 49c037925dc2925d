// The engine's grants, derived from the citizen's consent record on every authorization
// (loadExistingGrant). A grant carries exactly the decided scopes, the granted claims and, as
// rejected, every declined or not-allowed item, so the engine's consent prompt asks for what is
// still undecided and tokens and userinfo release only what was agreed.
import type { KoaContextWithOIDC, Grant } from 'oidc-provider';
import type { ConsentService, ConsentSnapshot } from '../../consent/index.ts';

/** The interaction result's key for the consent a sign-in read (interactions.ts loginResult). */
export const KNOWN_CONSENT = 'oneIdConsent';

/**
 * The consent the sign-in that ends at this request read, if any: only right after the login
 * (a later result, e.g. the consent prompt's, merges the login's and must read afresh: the
 * decision changed the consent). Why deciding from it is safe although it may be seconds old:
 * the grant made from it is recorded on the consent by the session save at the end of this
 * request, and only if the consent is still active then (src/sessions/session-repo.ts); if it
 * was withdrawn or expired meanwhile the grant is revoked before the answer leaves (its code
 * never works), and a withdrawal that commits after that recording revokes the grant with the
 * consent's others. A consent that changed otherwise only ever granted more (decide adds), so
 * an older snapshot never releases an item the citizen has not agreed to.
 */
const knownConsent = (ctx: KoaContextWithOIDC): ConsentSnapshot | undefined => {
  const result = ctx.oidc.result as Record<string, unknown> | undefined;
  return result && !result.consent
    ? (result[KNOWN_CONSENT] as ConsentSnapshot | undefined)
    : undefined;
};

type Desired = {
  consentId: string | undefined;
  grantScopes: string[];
  grantClaims: string[];
  rejectedClaims: string[];
};

const sameSet = (a: string[] | undefined, b: string[]) => {
  const left = new Set((a ?? []).filter(Boolean));
  return left.size === new Set(b).size && b.every((x) => left.has(x));
};

const matches = (grant: Grant, d: Desired) => {
  const g = grant as unknown as {
    openid?: { scope?: string; claims?: string[] };
    rejected?: { openid?: { claims?: string[] } };
  };
  return (
    sameSet(g.openid?.scope?.split(' '), d.grantScopes) &&
    sameSet(g.openid?.claims, d.grantClaims) &&
    sameSet(g.rejected?.openid?.claims, d.rejectedClaims)
  );
};

/** The scopes and claims an authorization request asks for. */
export const requestedOf = (ctx: KoaContextWithOIDC) => ({
  scopes: [...(ctx.oidc.requestParamOIDCScopes ?? [])],
  claims: [...(ctx.oidc.requestParamClaims ?? [])],
});

export const createLoadExistingGrant =
  ({
    consent,
    isFirstParty,
    grantIssued,
  }: {
    consent: ConsentService;
    isFirstParty: (clientId: string) => boolean;
    /**
     * Records a grant made under a consent (withdrawal revokes them all) with the session's save
     * at the end of this request, in the same statement (session-mirror.ts).
     */
    grantIssued: (consentId: string, grantId: string) => void;
  }) =>
  async (ctx: KoaContextWithOIDC): Promise<Grant | undefined> => {
    const { oidc } = ctx;
    const accountId = oidc.session!.accountId!;
    const clientId = oidc.client!.clientId;
    const requested = requestedOf(ctx);
    let desired: Desired;
    if (isFirstParty(clientId)) {
      desired = {
        consentId: undefined,
        grantScopes: requested.scopes,
        grantClaims: requested.claims,
        rejectedClaims: [],
      };
    } else {
      const evaluation = await consent.evaluate(accountId, clientId, requested, knownConsent(ctx));
      // No decision yet: no grant, so the engine's consent prompt runs.
      if (!evaluation.consentId) return undefined;
      // Every new session's sign-in records a grant: the ended ones are dropped now and then.
      if (evaluation.pruneDue)
        await consent.pruneGrants(evaluation.consentId, async (id) =>
          Boolean(await oidc.provider.Grant.find(id)),
        );
      desired = evaluation;
    }
    const { Grant } = oidc.provider;
    const currentId = oidc.session!.grantIdFor(clientId);
    const current = currentId ? await Grant.find(currentId) : undefined;
    if (current && matches(current, desired)) return current;
    const grant = new Grant({ accountId, clientId });
    if (desired.grantScopes.length) grant.addOIDCScope(desired.grantScopes.join(' '));
    if (desired.grantClaims.length) grant.addOIDCClaims(desired.grantClaims);
    if (desired.rejectedClaims.length) grant.rejectOIDCClaims(desired.rejectedClaims);
    const grantId = await grant.save();
    if (desired.consentId) grantIssued(desired.consentId, grantId);
    return grant;
  };
