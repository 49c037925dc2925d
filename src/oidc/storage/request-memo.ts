// Records read ahead for the engine's next adapter calls in the same engine request: a token's
// find brings its Grant and Session in the same round trip, and the engine's Grant.find and
// Session.findByUid that follow are served from here. Scoped to the request (oidc-provider runs
// each request inside an AsyncLocalStorage context, `Provider.ctx`), each entry served once and
// everything dropped on any write, so nothing read here can outlive the request that read it:
// a revocation or logout always takes effect for the next request.
// The engine's request context comes from createEngineAdapter (engine-adapter.ts): the CLI
// uses the adapter without loading the engine, and keeps nothing.
import type { AdapterPayload } from 'oidc-provider';

let engineContext: () => object | undefined = () => undefined;
/** Called once by the engine's configuration module with `() => Provider.ctx`. */
export const useEngineContext = (context: () => object | undefined) => {
  engineContext = context;
};

export const createRequestMemo = () => {
  const memos = new WeakMap<object, Map<string, AdapterPayload | undefined>>();
  return {
    /** Whether a read ahead can be kept (inside an engine request). */
    active: () => engineContext() !== undefined,
    /** Keeps what the store holds under `key` (undefined: nothing) for one later `take`. */
    put(key: string, value: AdapterPayload | undefined) {
      const ctx = engineContext();
      if (!ctx) return;
      let memo = memos.get(ctx);
      if (!memo) memos.set(ctx, (memo = new Map()));
      memo.set(key, value);
    },
    /** What was read ahead under `key` in this request, once; undefined when nothing was. */
    take(key: string): { value: AdapterPayload | undefined } | undefined {
      const ctx = engineContext();
      const memo = ctx && memos.get(ctx);
      if (!memo?.has(key)) return undefined;
      const value = memo.get(key);
      memo.delete(key);
      return { value };
    },
    /** Drops this request's reads ahead: called on every write through the adapter. */
    clear() {
      const ctx = engineContext();
      if (ctx) memos.delete(ctx);
    },
  };
};
