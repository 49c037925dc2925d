// Accounts kept in process for the token paths (the engine's findAccount: ID tokens, userinfo,
// refresh), so a userinfo or refresh does not read the account row each time (issue 16 item 4).
// Accounts change only by `accounts import` (profiles), which publishes the `accounts` topic after
// each batch that changed one: every instance drops what it kept. Kept only while this instance
// hears the change feed (Redis pub/sub); otherwise, and on the embedded default, every call reads
// the row. Entries live at most ACCOUNT_CACHE_MS, a bound should a message be lost. Withdrawing a
// consent does not go through this cache: it revokes the grant, which every token read checks.
import type { ChangeFeed } from '../store/index.ts';
import type { Account } from './account-repo.ts';

export const ACCOUNTS_TOPIC = 'accounts';
const ACCOUNT_CACHE_MS = 30_000;
const ACCOUNT_CACHE_MAX = 50_000;

export const createAccountCache = (
  load: (id: string) => Promise<Account | undefined>,
  feed: ChangeFeed | undefined,
) => {
  let generation = 0;
  const kept = new Map<string, { account: Account; at: number }>();
  feed?.on(ACCOUNTS_TOPIC, () => {
    generation += 1;
    kept.clear();
  });
  return async (id: string): Promise<Account | undefined> => {
    if (!feed?.live()) return load(id);
    const entry = kept.get(id);
    if (entry && Date.now() - entry.at < ACCOUNT_CACHE_MS) return entry.account;
    const started = generation;
    const account = await load(id);
    // A load that overlapped a change is returned but not kept; an unknown id is not kept either
    // (an account being created elsewhere must be found as soon as it exists).
    if (started === generation && account) {
      if (kept.size >= ACCOUNT_CACHE_MAX) kept.delete(kept.keys().next().value!);
      kept.set(id, { account, at: Date.now() });
    }
    return account;
  };
};
