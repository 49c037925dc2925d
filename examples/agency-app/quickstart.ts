// One command, a working agency integration: starts One-ID (embedded, in this process),
// registers this example as an agency system if it is missing (private_key_jwt, back-channel
// logout to the app), enrols a demo citizen, starts the agency app and prints what to open.
//
//   npx tsx examples/agency-app/quickstart.ts
//
// One-ID listens on http://localhost:3000 (ONEID_PORT), the app on http://localhost:4000
// (APP_PORT). Data lives in ./data like `npm start` (DATA_DIR), so stop `npm start` first.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createAgencyApp } from './app.ts';
import { agencyConfigFromEnv } from './config.ts';

export const EXAMPLE_CLIENT_ID = 'agency-app-example';

type Options = { env?: Record<string, string | undefined>; print?: (line: string) => void };

/** The example's private key: made once next to One-ID's data, its public half registered. */
const exampleKey = async (dataDir: string, create: boolean): Promise<JWK> => {
  const file = join(dataDir, `${EXAMPLE_CLIENT_ID}.private-jwk.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as JWK;
  if (!create)
    throw new Error(
      `${EXAMPLE_CLIENT_ID} is registered but its key ${file} is gone: use a fresh DATA_DIR`,
    );
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const key = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(key, null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
  return key;
};

export const runQuickstart = async ({ env = process.env, print = console.log }: Options = {}) => {
  const oneIdPort = Number(env.ONEID_PORT ?? 3000);
  const appPort = Number(env.APP_PORT ?? 4000);
  const issuer = `http://localhost:${oneIdPort}`;
  const appOrigin = `http://localhost:${appPort}`;

  const oneIdConfig = loadConfig({
    ...env,
    PORT: String(oneIdPort),
    HOST: '127.0.0.1',
    ISSUER: issuer,
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    // The app's back-channel logout endpoint is on localhost, which One-ID refuses to call
    // (SSRF protection) unless the host is named here.
    OUTBOUND_PRIVATE_HOSTS: env.OUTBOUND_PRIVATE_HOSTS ?? 'localhost',
  });
  const oneId = await createApp(oneIdConfig);
  try {
    await oneId.listen();
  } catch (error) {
    await oneId.close();
    throw new Error(
      `One-ID cannot listen on ${issuer} (${(error as Error).message}): is \`npm start\` running? Stop it or set ONEID_PORT.`,
    );
  }

  // Register the example once: its redirect, post-logout and back-channel logout URIs.
  const { clients, accounts } = oneId.services;
  const existing = await clients.find(EXAMPLE_CLIENT_ID);
  const key = await exampleKey(oneIdConfig.dataDir, !existing);
  if (!existing) {
    const { d: _private, ...publicKey } = key;
    await clients.addClient(
      {
        client_id: EXAMPLE_CLIENT_ID,
        client_name: '민원 포털 예제 (Agency app example)',
        agency: '행정안전부 (Ministry of the Interior and Safety)',
        redirect_uris: [`${appOrigin}/callback`],
        post_logout_redirect_uris: [`${appOrigin}/`],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [publicKey] },
        backchannel_logout_uri: `${appOrigin}/backchannel-logout`,
        backchannel_logout_session_required: true,
        // The data items this system may ask for, and why: the consent page shows each purpose.
        allowed_claims: [
          {
            claim: 'name',
            purpose: { ko: '민원 신청인 확인', en: 'To identify the applicant' },
            required: true,
            retention_days: 30,
          },
          {
            claim: 'birthdate',
            purpose: { ko: '민원 신청인 확인', en: 'To identify the applicant' },
            required: true,
            retention_days: 30,
          },
          {
            claim: 'email',
            purpose: { ko: '처리 결과 안내', en: 'To tell you the outcome' },
            required: false,
            retention_days: 30,
          },
        ],
      },
      'quickstart',
    );
    print(
      `Registered the agency system "${EXAMPLE_CLIENT_ID}" (private_key_jwt, back-channel logout to ${appOrigin}/backchannel-logout).`,
    );
  } else if (!(existing.metadata.redirect_uris as string[]).includes(`${appOrigin}/callback`)) {
    print(
      `Warning: ${EXAMPLE_CLIENT_ID} is registered with ${(existing.metadata.redirect_uris as string[]).join(' ')}, not ${appOrigin}/callback: sign-in will fail with a redirect URI mismatch. Use the APP_PORT it was registered with.`,
    );
  }

  // A demo citizen, as a service counter would enrol one: each run issues a new one-time link.
  const { url: enrolmentUrl } = await accounts.enrolCitizen(
    {
      name: '홍길동',
      birthdate: '1990-01-01',
      email: `hong.${randomBytes(3).toString('hex')}@example.com`,
      phone: '010-1234-5678',
    },
    'quickstart',
  );

  const app = await createAgencyApp(
    agencyConfigFromEnv({
      ISSUER: issuer,
      CLIENT_ID: EXAMPLE_CLIENT_ID,
      CLIENT_PRIVATE_JWK: JSON.stringify(key),
      PORT: String(appPort),
    }),
    { log: (line) => print(`[agency app] ${line}`) },
  );
  try {
    await app.listen();
  } catch (error) {
    await oneId.close();
    throw new Error(
      `The agency app cannot listen on ${appOrigin} (${(error as Error).message}): set APP_PORT.`,
    );
  }

  print(
    [
      '',
      `One-ID (embedded) is running:  ${issuer}   (discovery: ${issuer}/.well-known/openid-configuration)`,
      `The agency app is running:     ${appOrigin}`,
      '',
      "1. Create the demo citizen's passkey (홍길동) — open this one-time link in a browser:",
      `   ${enrolmentUrl}`,
      `2. Open ${appOrigin} and choose "Sign in with One-ID".`,
      '3. Sign out from the app (RP-initiated logout), or end the One-ID session at',
      `   ${issuer}/session/end and watch the app's back-channel logout end its session too.`,
      '',
      'Ctrl+C stops both.',
    ].join('\n'),
  );

  return {
    oneId,
    app,
    enrolmentUrl,
    async stop() {
      await app.close();
      await oneId.close();
    },
  };
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const running = await runQuickstart();
    const stop = () => void running.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
