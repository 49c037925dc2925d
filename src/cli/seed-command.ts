// `seed accounts --count N [--with-passkeys] [--with-consents --client ID] [--start I] [--seed LABEL]`:
// synthetic citizens for load tests (seed-accounts.ts). Refused when NODE_ENV=production.
import type { Config } from '../config/index.ts';
import { AppError } from '../shared/index.ts';
import type { CliContext } from './cli-context.ts';
import { DEFAULT_SEED, seedAccounts } from './seed-accounts.ts';

type Options = Record<string, string | boolean | undefined>;

/** What needs no database: run before it is opened, so a production database is never touched. */
export const checkSeedAccounts = (config: Pick<Config, 'production'>, o: Options): void => {
  if (config.production)
    throw new AppError(
      'ERR_USAGE',
      'seed accounts writes synthetic citizens with derivable passkeys: refused when NODE_ENV=production',
    );
  const count = Number(o.count);
  if (!Number.isInteger(count) || count < 1)
    throw new AppError('ERR_USAGE', '--count must be a positive whole number');
  if (o.start !== undefined && !(Number.isInteger(Number(o.start)) && Number(o.start) >= 0))
    throw new AppError('ERR_USAGE', '--start must be a whole number, 0 or more');
  if (o['with-consents'] && typeof o.client !== 'string')
    throw new AppError(
      'ERR_USAGE',
      '--with-consents needs --client CLIENT_ID (the client the consents are for)',
    );
};

export const runSeedAccounts = async (ctx: CliContext, o: Options): Promise<string> => {
  checkSeedAccounts(ctx.config, o);
  const count = Number(o.count);
  const start = Number(o.start ?? 0);
  const seed = typeof o.seed === 'string' ? o.seed : DEFAULT_SEED;
  const began = performance.now();
  let shown = 0;
  const seeding = seedAccounts(ctx.knex, {
    count,
    start,
    seed,
    withPasskeys: Boolean(o['with-passkeys']),
    consentClient: o['with-consents'] ? (o.client as string) : undefined,
    // COPY on PostgreSQL; the embedded PGlite takes multi-row INSERTs.
    copy: Boolean(ctx.config.databaseUrl),
    onProgress: (done) => {
      if (done - shown < 100_000 && done < count) return;
      shown = done;
      process.stderr.write(
        `\r${done.toLocaleString('en')} / ${count.toLocaleString('en')} accounts  ${Math.round(done / ((performance.now() - began) / 1000)).toLocaleString('en')}/s`,
      );
    },
  });
  // COPY takes no duplicates: a range (partly) seeded before fails on its keys (PGlite's INSERTs skip them).
  const result = await seeding.catch((error: unknown) => {
    if ((error as { code?: unknown }).code !== '23505') throw error;
    throw new AppError(
      'ERR_SEED_OVERLAP',
      `seed "${seed}": accounts #${start}..#${start + count - 1} overlap accounts seeded before (${(error as Error).message}); add more with --start ${start + count} or use another --seed`,
      { cause: error },
    );
  });
  process.stderr.write('\n');
  return `Seeded ${result.accounts} account(s) #${start}..#${start + count - 1} (seed "${seed}"${o['with-passkeys'] ? ', with passkeys' : ''}${o['with-consents'] ? `, with consents for ${String(o.client)}` : ''}) in ${result.seconds.toFixed(1)} s: ${result.perSecond} accounts/s.`;
};
