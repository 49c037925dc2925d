// Runs the agency app against a One-ID that is already running:
//   ISSUER=http://localhost:3000 CLIENT_ID=... CLIENT_SECRET=... npx tsx examples/agency-app/main.ts
import { createAgencyApp } from './app.ts';
import { agencyConfigFromEnv } from './config.ts';

try {
  const config = agencyConfigFromEnv(process.env);
  const app = await createAgencyApp(config);
  await app.listen();
  console.log(`Agency app: http://localhost:${config.port}/ (One-ID: ${config.issuer.href})`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
