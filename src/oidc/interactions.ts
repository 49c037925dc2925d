// The facade the sign-in and consent pages use (STYLE.md: http asks src/oidc, never the engine):
// the interaction the URL names, and the ways it ends. Every sign-in method ends through
// finishLogin/loginLocation, which carry the one acr rule: a login at the level the method
// proved, or, when the request asked for more (acr_values or an essential acr claim, one
// derivation: requestedAcr), the engine's unmet_authentication_requirements (OIDC Core 3.1.2.6),
// never a login below the request.
import type Provider from 'oidc-provider';
import { requestedAcr, satisfiesAcr } from '../auth/index.ts';
import { AppError } from '../shared/index.ts';
import { KNOWN_CONSENT } from './claims/consent-grants.ts';
import type { EngineContext, InteractionDetails, ProvenLogin } from './engine-types.ts';
import { withinRequest } from './storage/request-memo.ts';

type WithDetails = { interactionDetails?: Promise<InteractionDetails> };

const refuse = (description: string) =>
  new AppError('ERR_INTERACTION_EXPIRED', description, { status: 400 });

/**
 * The interaction result for a sign-in that proved `login`, checked against the request. The
 * consent snapshot rides along for loadExistingGrant (claims/consent-grants.ts, knownConsent).
 */
const loginResult = (details: InteractionDetails, login: ProvenLogin) =>
  satisfiesAcr(login.acr, details.requiredAcr)
    ? {
        login: { accountId: login.accountId, acr: login.acr, amr: login.amr, remember: true },
        ...(login.consent && { [KNOWN_CONSENT]: login.consent }),
      }
    : {
        error: 'unmet_authentication_requirements',
        error_description: 'the requested level of assurance needs a stronger sign-in',
      };

/** `engine` is the current engine (it is rebuilt when keys change; interactions live in the store). */
export const createInteractions = (engine: () => Provider) => {
  /**
   * The URL's interaction (`:uid`), optionally required to be at the login prompt; 400
   * otherwise. Read once per request: the login page's sections and the page share the read.
   */
  const details = async (
    ctx: EngineContext,
    options: { loginOnly?: boolean } = {},
  ): Promise<InteractionDetails> => {
    const state = ctx.state as WithDetails;
    state.interactionDetails ??= withinRequest(ctx.req, () =>
      engine().interactionDetails(ctx.req, ctx.res),
    ).then((d) => ({
      uid: d.uid,
      prompt: { name: d.prompt.name },
      params: d.params as Record<string, unknown>,
      session: d.session?.accountId ? { accountId: d.session.accountId } : undefined,
      requiredAcr: requestedAcr(d.params as Record<string, unknown>),
    }));
    const found = await state.interactionDetails;
    if (found.uid !== ctx.params?.uid) throw refuse('interaction mismatch');
    if (options.loginOnly && found.prompt.name !== 'login') throw refuse('not a login prompt');
    return found;
  };

  // Within the page's request: the engine's read of the interaction is the one details made.
  const finish = (ctx: EngineContext, result: Record<string, unknown>, merge: boolean) =>
    withinRequest(ctx.req, () =>
      engine().interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge }),
    );

  return {
    details,

    /** Ends the interaction with the sign-in (or unmet_authentication_requirements): a 303. */
    async finishLogin(ctx: EngineContext, login: ProvenLogin): Promise<void> {
      await finish(ctx, loginResult(await details(ctx), login), false);
    },

    /** The same end as finishLogin, as the URL the page's script sends the browser to. */
    async loginLocation(ctx: EngineContext, login: ProvenLogin): Promise<string> {
      const result = loginResult(await details(ctx), login);
      return withinRequest(ctx.req, () =>
        engine().interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }),
      );
    },

    /** Resumes the authorization after a consent decision; the engine derives the grant from it. */
    finishConsent: (ctx: EngineContext) => finish(ctx, { consent: {} }, true),

    /** Ends the interaction with an OAuth error for the client (e.g. access_denied). */
    abort: (ctx: EngineContext, error: string, description: string) =>
      finish(ctx, { error, error_description: description }, false),
  };
};

export type Interactions = ReturnType<typeof createInteractions>;
