// The interoperability harness: each client library (a "driver") runs the same relying-party
// journey against a real One-ID, one step at a time, and the outcome of each step becomes a
// row of docs/interop.md.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { TestApp } from '../support/app.ts';
import type { registerClient } from '../support/flows.ts';
import type { SoftAuthenticator } from '../support/soft-authenticator.ts';

export const STEPS = [
  ['discovery', 'Discovery'],
  ['authorize', 'Code + PKCE S256'],
  ['token', 'Token'],
  ['idToken', 'ID token validation'],
  ['userinfo', 'Userinfo'],
  ['refresh', 'Refresh (rotation)'],
  ['logout', 'RP-initiated logout'],
] as const;

export type StepName = (typeof STEPS)[number][0];

/** What a step reports besides passing: a note for the table, and whether it needed a workaround. */
export type StepOutcome = void | { note?: string; workaround?: boolean };

export type Flow = Record<StepName, () => Promise<StepOutcome>> & { close?: () => Promise<void> };

export type Citizen = {
  accountId: string;
  name: string;
  email: string;
  authenticator: SoftAuthenticator;
};

export type InteropEnv = {
  app: TestApp;
  citizen: Citizen;
  register: (overrides?: Record<string, unknown>) => ReturnType<typeof registerClient>;
};

export type Driver = {
  /** The npm package as installed (an alias such as openid-client-v5 is shown with its real name). */
  packageName: string;
  displayName: string;
  /** The token endpoint authentication method this driver's client uses. */
  clientAuth: string;
  /** Notes about the library as a whole (always shown). */
  notes?: string[];
  /** The verdict when it needs saying more than the steps do (e.g. "only with a workaround"). */
  verdict?: string;
  start: (env: InteropEnv) => Promise<Flow>;
  /** Further documented behaviours, each its own test; a failing one fails the suite. */
  checks?: { name: string; run: (env: InteropEnv) => Promise<string | void> }[];
};

const require = createRequire(import.meta.url);

/** The installed version of a package (read from its package.json, not from our package.json range). */
export const installedVersion = (packageName: string): string => {
  let dir = dirname(require.resolve(packageName));
  for (let i = 0; i < 5; i += 1) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.version && pkg.name) return pkg.version;
    } catch {
      // keep walking up to the package root
    }
    dir = dirname(dir);
  }
  return 'unknown';
};

export type StepResult = 'pass' | 'workaround' | 'fail' | 'not run';

export type Row = {
  library: string;
  verdict?: string | undefined;
  version: string;
  clientAuth: string;
  steps: Partial<Record<StepName, StepResult>>;
  notes: string[];
};

type Expect = typeof import('vitest').expect;

/** What every library must end up with in the ID token, whoever validated it. */
export const expectOneIdIdToken = (
  expect: Expect,
  claims: Record<string, unknown>,
  context: { issuer: string; clientId: string; accountId: string; nonce?: string },
) => {
  expect(claims.iss).toBe(context.issuer);
  expect(
    claims.aud === context.clientId ||
      (Array.isArray(claims.aud) && claims.aud.includes(context.clientId)),
  ).toBe(true);
  expect(typeof claims.sub).toBe('string');
  expect(claims.sub).not.toBe(context.accountId); // pairwise, never the internal id
  expect(claims.acr).toBe('urn:one-id:loa:substantial');
  expect(claims.amr).toEqual(['hwk', 'user']);
  expect(typeof claims.auth_time).toBe('number');
  if (context.nonce) expect(claims.nonce).toBe(context.nonce);
};

export const expectConsentedUserinfo = (
  expect: Expect,
  userinfo: Record<string, unknown>,
  citizen: Citizen,
  sub: string,
) => {
  expect(userinfo).toMatchObject({
    sub,
    name: citizen.name,
    email: citizen.email,
    email_verified: true,
  });
};
