// The interoperability suite: every driver in ./drivers runs the whole relying-party journey
// against one real One-ID. With UPDATE_INTEROP_DOC=1 the results are written to docs/interop.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.ts';
import { enrolCitizen, registerClient } from '../support/flows.ts';
import { oauth4webapiDriver } from './drivers/oauth4webapi.ts';
import { oidcClientTs } from './drivers/oidc-client-ts.ts';
import { openidClientV5 } from './drivers/openid-client-v5.ts';
import { openidClientDcr } from './drivers/openid-client-dcr.ts';
import { openidClientV6 } from './drivers/openid-client-v6.ts';
import { passportOpenIdConnect } from './drivers/passport-openidconnect.ts';
import {
  installedVersion,
  STEPS,
  type Driver,
  type Flow,
  type InteropEnv,
  type Row,
} from './harness.ts';
import { renderInteropDoc } from './interop-doc.ts';
import { startOneId } from './support.ts';

const DRIVERS: Driver[] = [
  openidClientV6,
  oauth4webapiDriver,
  openidClientV5,
  passportOpenIdConnect,
  oidcClientTs,
  openidClientDcr,
];

let app: TestApp;
const env = {} as InteropEnv;
const rows: Row[] = [];

beforeAll(async () => {
  // Dynamic registration is on for the driver that registers itself (openid-client-dcr.ts).
  app = await startOneId({ DCR_ENABLED: 'true' });
  const email = 'interop@example.com';
  const { account, authenticator } = await enrolCitizen(app, {
    name: '이영희',
    birthdate: '1992-07-15',
    email,
  });
  Object.assign(env, {
    app,
    citizen: { accountId: account.id, name: '이영희', email, authenticator },
    register: (overrides = {}) => registerClient(app, overrides),
  });
});

afterAll(async () => {
  await app?.stop();
  if (process.env.UPDATE_INTEROP_DOC !== '1') return;
  const complete =
    rows.length === DRIVERS.length && rows.every((row) => STEPS.every(([step]) => row.steps[step]));
  if (!complete)
    throw new Error(
      'UPDATE_INTEROP_DOC=1 needs the whole suite: run `npx vitest run test/interop/libraries.test.ts` without -t',
    );
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const doc = renderInteropDoc(rows, {
    oneIdVersion: pkg.version,
    node: process.version,
    date: new Date().toISOString().slice(0, 10),
  });
  writeFileSync(new URL('../../docs/interop.md', import.meta.url), doc);
});

for (const driver of DRIVERS) {
  describe(`${driver.displayName}`, () => {
    const row: Row = {
      library: driver.displayName,
      verdict: driver.verdict,
      version: installedVersion(driver.packageName),
      clientAuth: driver.clientAuth,
      steps: {},
      notes: [...(driver.notes ?? [])],
    };
    rows.push(row);
    let flow: Flow | undefined;
    beforeAll(async () => {
      flow = await driver.start(env);
    });
    afterAll(() => flow?.close?.());

    for (const [step, label] of STEPS) {
      it(label, async () => {
        try {
          const outcome = await flow![step]();
          row.steps[step] = outcome?.workaround ? 'workaround' : 'pass';
          if (outcome?.note) row.notes.push(`${label}: ${outcome.note}`);
        } catch (error) {
          row.steps[step] = 'fail';
          row.notes.push(`${label} failed: ${(error as Error).message.split('\n')[0]}`);
          throw error;
        }
      });
    }

    for (const check of driver.checks ?? []) {
      it(check.name, async () => {
        const detail = await check.run(env);
        row.notes.push(`Checked: ${check.name}${detail ? ` (One-ID said: "${detail}")` : ''}.`);
        expect(true).toBe(true);
      });
    }
  });
}
