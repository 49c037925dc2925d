// How every sign-in method on the interaction pages ends (passkey, certificate, upstream): a
// login at the level the method proved, or, when the request asked for more (acr_values or an
// essential acr claim, one derivation: requestedAcr), the engine's
// unmet_authentication_requirements (OIDC Core 3.1.2.6), never a login below the request.
import { requestedAcr, satisfiesAcr } from '../deps.ts';

export type ProvenLogin = { accountId: string; acr: string; amr: string[] };

/** The level the interaction's authorization request requires (undefined: any). */
export const requiredLevel = (params: Record<string, unknown>) => requestedAcr(params);

/** The interaction result for a sign-in that proved `login` (its acr is what the method proved). */
export const signInResult = (params: Record<string, unknown>, login: ProvenLogin) =>
  satisfiesAcr(login.acr, requiredLevel(params))
    ? { login: { accountId: login.accountId, acr: login.acr, amr: login.amr, remember: true } }
    : {
        error: 'unmet_authentication_requirements',
        error_description: 'the requested level of assurance needs a stronger sign-in',
      };
