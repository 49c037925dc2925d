// Process entry: read the environment, build the app, listen, stop gracefully on SIGTERM/SIGINT.
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config/index.ts';

const main = async () => {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `One-ID cannot start.\n${error.message}\nSee .env.example for every setting.\n`,
      );
      process.exit(2);
    }
    throw error;
  }
  const app = await createApp(config);
  const port = await app.listen();
  const embedded = !config.databaseUrl;
  process.stdout.write(
    [
      '',
      `One-ID is running.`,
      `  Issuer:     ${config.issuer}`,
      `  Discovery:  ${config.issuer}/.well-known/openid-configuration`,
      `  Listening:  ${config.host}:${port}`,
      `  Storage:    ${embedded ? `embedded PGlite in ${config.dataDir} (+ in-process store)` : 'PostgreSQL'}${config.redis ? ` + Redis (${config.redis.mode})` : ''}`,
      ...(config.metrics.port !== undefined
        ? [`  Metrics:    http://${config.metrics.host}:${config.metrics.port}/metrics`]
        : []),
      '',
      'Enrol a first citizen (prints a one-time link to open in a browser to create a passkey):',
      '  npm run cli -- citizens enroll --name "홍길동" --birthdate 1990-01-01 --email hong@example.com',
      'Register a first agency system (an OIDC client; see examples/client.json):',
      '  npm run cli -- clients add --file examples/client.json',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Drain: /readyz says 503 (probing balancers take the instance out) while every request is
    // still served with `Connection: close`, so proxies hold no idle connection to it. Then the
    // listener closes: a proxy retries a refused connection elsewhere (docs/deploy.md).
    app.log.info({ signal, drainMs: config.shutdownDrainMs }, 'stopping: draining');
    const force = setTimeout(() => process.exit(1), config.shutdownDrainMs + 15_000);
    force.unref();
    app.drain();
    await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
    app.log.info({ signal }, 'stopping: finishing in-flight requests');
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
};

main().catch((error) => {
  process.stderr.write(
    `One-ID failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
