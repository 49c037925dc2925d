// The interaction this browser's cookie holds, which must be the one the URL names. Read once
// per request: the login page's federation section and the page itself share the read.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { AppError } from '../../shared/index.ts';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
type WithDetails = { interactionDetails?: Promise<Details> };

const refuse = (description: string) =>
  new AppError('ERR_INTERACTION_EXPIRED', description, { status: 400 });

/** The URL's interaction (`:uid`), optionally required to be at the login prompt; 400 otherwise. */
export const interactionOf = async (
  ctx: Context,
  provider: Provider,
  options: { loginOnly?: boolean } = {},
): Promise<Details> => {
  const state = ctx.state as WithDetails;
  state.interactionDetails ??= provider.interactionDetails(ctx.req, ctx.res);
  const details = await state.interactionDetails;
  if (details.uid !== ctx.params.uid) throw refuse('interaction mismatch');
  if (options.loginOnly && details.prompt.name !== 'login') throw refuse('not a login prompt');
  return details;
};
