// Real Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by playwright-core
// (never a downloaded browser), with a CDP virtual authenticator as the citizen's passkey.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type CDPSession,
  type Page,
} from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's WCAG 2.1 A/AA rules on the page; returns the serious and critical violations. */
export const accessibilityProblems = async (page: Page) => {
  await page.evaluate(AXE);
  const result = (await page.evaluate(() =>
    (window as unknown as { axe: { run: (o: unknown) => Promise<unknown> } }).axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }),
  )) as { violations: { id: string; impact: string; nodes: { target: string[] }[] }[] };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
};

/**
 * UPDATE_SCREENSHOTS=1 writes the page to docs/screenshots/<name>.png at the test's (phone) size
 * and, unless the name already says its size, to <name>-desktop.png at 1280 px. Otherwise does
 * nothing.
 */
export const screenshot = async (page: Page, name: string) => {
  if (process.env.UPDATE_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  const shot = { fullPage: true, animations: 'disabled', caret: 'hide' } as const;
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), ...shot });
  if (/-(phone|desktop)(-|$)/.test(name)) return;
  const phone = page.viewportSize();
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-desktop.png`), ...shot });
  if (phone) await page.setViewportSize(phone);
};

/** One browser per test file: the caller closes it in afterAll. */
export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 20_000,
    // No background networking: this machine's network is closed, and Chromium's own
    // connections (updates, sync, QUIC probes) only add noise and delay.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });

/**
 * A context as a citizen's browser: Korean unless `locale` says otherwise, every wait bounded by
 * `waitMs`, and no autofill (conditional mediation) offer unless `autofill`: without it Chromium
 * answers the login page's autofill request from the virtual authenticator at once, so the
 * tests press the passkey button as a citizen does (passkey-signin.test.ts tests autofill).
 */
export const citizenContext = async (
  browser: Browser,
  options: BrowserContextOptions = {},
  { waitMs = 10_000, autofill = false } = {},
): Promise<BrowserContext> => {
  const context = await browser.newContext({ locale: 'ko-KR', ...options });
  context.setDefaultTimeout(waitMs);
  context.setDefaultNavigationTimeout(waitMs);
  if (!autofill) {
    await context.addInitScript(() => {
      if (typeof PublicKeyCredential !== 'undefined')
        Object.defineProperty(PublicKeyCredential, 'isConditionalMediationAvailable', {
          value: async () => false,
        });
    });
  }
  return context;
};

/** Collects the page's uncaught errors and its CSP refusals (console errors), for a test to assert none. */
export const pageProblems = (page: Page): string[] => {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  return problems;
};

// The fields of CDP's WebAuthn.Credential that tests read (playwright-core's package exports
// do not expose its protocol types). Binary fields are base64 (not base64url).
export type VirtualCredential = {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  userHandle?: string;
  signCount: number;
};

export type VirtualAuthenticator = {
  id: string;
  cdp: CDPSession;
  /** The credentials the authenticator holds (WebAuthn.getCredentials). */
  credentials: () => Promise<VirtualCredential[]>;
  /** false makes the next ceremony fail user verification on the device itself. */
  setUserVerified: (verified: boolean) => Promise<void>;
  /** Makes the device sign assertions without the UV flag (the server must refuse them). */
  setBadUserVerification: (bad: boolean) => Promise<void>;
};

/**
 * Adds a CTAP2 platform authenticator with user verification to the page's tab. Without
 * `residentKey`, every credential it creates is non-discoverable (sign-in then needs
 * allowCredentials, i.e. the citizen's email or phone).
 */
export const addVirtualAuthenticator = async (
  page: Page,
  { residentKey }: { residentKey: boolean },
): Promise<VirtualAuthenticator> => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId: id } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: residentKey,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    id,
    cdp,
    credentials: async () =>
      (await cdp.send('WebAuthn.getCredentials', { authenticatorId: id })).credentials,
    setUserVerified: async (verified) => {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId: id, isUserVerified: verified });
    },
    setBadUserVerification: async (bad) => {
      await cdp.send('WebAuthn.setResponseOverrideBits', { authenticatorId: id, isBadUV: bad });
    },
  };
};
