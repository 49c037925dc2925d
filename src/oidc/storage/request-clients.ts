// What the engine's own client lookup found in the current request, kept for the rest of that
// request: oidc-provider runs each request inside an AsyncLocalStorage context (`Provider.ctx`,
// the koa context its hooks such as findAccount receive). The token and userinfo endpoints look
// the client up first; findAccount then needs when that client was last disabled, and reads it
// here instead of asking the client registry (and its version token in Redis) a second time.
import Provider from 'oidc-provider';

const seen = new WeakMap<object, Map<string, number | undefined>>();

/** Called by the client adapter when the engine looks a client up. */
export const noteClientTokensNotBefore = (
  clientId: string,
  tokensNotBefore: number | undefined,
): void => {
  const ctx = Provider.ctx;
  if (!ctx) return;
  let clients = seen.get(ctx);
  if (!clients) seen.set(ctx, (clients = new Map()));
  clients.set(clientId, tokensNotBefore);
};

/** What this request's lookup of the client found, or undefined when it did not look it up. */
export const clientTokensNotBeforeSeen = (
  ctx: object,
  clientId: string,
): { tokensNotBefore: number | undefined } | undefined => {
  const clients = seen.get(ctx);
  return clients?.has(clientId) ? { tokensNotBefore: clients.get(clientId) } : undefined;
};
