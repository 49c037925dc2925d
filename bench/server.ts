// One-ID as a benchmark target, in its own process (started by bench/run.ts and bench/scale.ts):
// the real app from the environment (PostgreSQL + Redis, or the embedded default), plus its
// fixtures: the bench client (client_secret_basic; code, refresh and client-credentials grants;
// name/birthdate/email allowed) and BENCH_SEED_ACCOUNTS seeded citizens, each with a synced
// passkey and a remembered consent for that client. Prints one JSON line when listening; stops
// gracefully on SIGTERM (so `node --cpu-prof` writes its profile).
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { DEFAULT_SEED, seedAccounts } from '../src/cli/seed-accounts.ts';
import { createLogger } from '../src/shared/index.ts';
import { recordRequestSpans } from './request-spans.ts';

recordRequestSpans();

const BENCH_CLIENT = {
  clientId: 'bench-rp',
  clientSecret: 'bench-secret-0123456789abcdef0123456789abcdef',
  redirectUri: 'http://localhost:4999/cb',
};

const purpose = { ko: '벤치마크', en: 'Benchmark' };

const main = async () => {
  const config = loadConfig(process.env);
  const app = await createApp(config, { logger: createLogger(process.env.LOG_LEVEL ?? 'warn') });
  if (!(await app.services.clients.exists(BENCH_CLIENT.clientId))) {
    await app.services.clients.addClient(
      {
        client_id: BENCH_CLIENT.clientId,
        client_name: 'Benchmark RP',
        agency: 'Benchmark Agency',
        redirect_uris: [BENCH_CLIENT.redirectUri],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        allowed_claims: ['name', 'birthdate', 'email'].map((claim) => ({
          claim,
          purpose,
          required: true,
          retention_days: 30,
        })),
      },
      'bench',
      { clientSecret: BENCH_CLIENT.clientSecret },
    );
  }
  const accounts = Number(process.env.BENCH_SEED_ACCOUNTS ?? 0);
  const seed = process.env.BENCH_SEED ?? DEFAULT_SEED;
  if (accounts > 0)
    await seedAccounts(app.knex, {
      count: accounts,
      seed,
      withPasskeys: true,
      consentClient: BENCH_CLIENT.clientId,
    });
  const port = await app.listen(config.port, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ port, ...BENCH_CLIENT, seed })}\n`);
  const stop = async () => {
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
};

main().catch((error) => {
  process.stderr.write(
    `bench server failed: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
