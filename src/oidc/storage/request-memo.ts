// Records read ahead for the engine's next adapter calls in the same request: a token's find
// brings its Grant (and its Session, for a token that expires with it) in the same round trip,
// and the engine's Grant.find and Session.findByUid that follow are served from here; an Interaction read is served to the
// request's next read of it (the sign-in pages read it, then the engine reads it again to record
// the result). Scoped to the request (oidc-provider runs each of its requests inside an
// AsyncLocalStorage context, `Provider.ctx`; the sign-in pages' calls into the engine run inside
// withinRequest), each entry served once and everything dropped on any write, so nothing read
// here can outlive the request that read it: a revocation or logout always takes effect for the
// next request.
// The engine's request context comes from createEngineAdapter (engine-adapter.ts): the CLI
// uses the adapter without loading the engine, and keeps nothing.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AdapterPayload } from 'oidc-provider';

let engineContext: () => object | undefined = () => undefined;
/** Called once by the engine's configuration module with `() => Provider.ctx`. */
export const useEngineContext = (context: () => object | undefined) => {
  engineContext = context;
};

/** The engine's request now running (its koa context), if any; never loads the engine. */
export const currentEngineRequest = (): object | undefined => engineContext();

const pages = new AsyncLocalStorage<object>();
/**
 * Runs `work` (a call into the engine from our own pages, outside the engine's requests) as part
 * of `request` (the page's HTTP request): calls of one request share its reads ahead.
 */
export const withinRequest = <T>(request: object, work: () => T): T => pages.run(request, work);

const currentRequest = () => engineContext() ?? pages.getStore();

export const createRequestMemo = () => {
  const memos = new WeakMap<object, Map<string, AdapterPayload | undefined>>();
  return {
    /** Whether a read ahead can be kept (inside a request). */
    active: () => currentRequest() !== undefined,
    /** Keeps what the store holds under `key` (undefined: nothing) for one later `take`. */
    put(key: string, value: AdapterPayload | undefined) {
      const ctx = currentRequest();
      if (!ctx) return;
      let memo = memos.get(ctx);
      if (!memo) memos.set(ctx, (memo = new Map()));
      memo.set(key, value);
    },
    /** What was read ahead under `key` in this request, once; undefined when nothing was. */
    take(key: string): { value: AdapterPayload | undefined } | undefined {
      const ctx = currentRequest();
      const memo = ctx && memos.get(ctx);
      if (!memo?.has(key)) return undefined;
      const value = memo.get(key);
      memo.delete(key);
      return { value };
    },
    /** Drops this request's reads ahead: called on every write through the adapter. */
    clear() {
      const ctx = currentRequest();
      if (ctx) memos.delete(ctx);
    },
  };
};
