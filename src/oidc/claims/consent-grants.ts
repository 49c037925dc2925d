// The engine's grants, derived from the citizen's consent record on every authorization
// (loadExistingGrant). A grant carries exactly the decided scopes, the granted claims and, as
// rejected, every declined or not-allowed item, so the engine's consent prompt asks for what is
// still undecided and tokens and userinfo release only what was agreed.
import type { KoaContextWithOIDC, Grant } from 'oidc-provider';
import type { ConsentService } from '../../consent/index.ts';

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
  }: {
    consent: ConsentService;
    isFirstParty: (clientId: string) => boolean;
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
      const evaluation = await consent.evaluate(accountId, clientId, requested);
      // No decision yet: no grant, so the engine's consent prompt runs.
      if (!evaluation.consentId) return undefined;
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
    if (desired.consentId)
      await consent.grantIssued(desired.consentId, grantId, async (id) =>
        Boolean(await Grant.find(id)),
      );
    return grant;
  };
