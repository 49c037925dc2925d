// Shared steps for the interoperability suite: the parts a browser does (following One-ID's
// pages), which are the same whatever client library the relying party uses.
import { startTestApp, type TestApp } from '../support/app.ts';
import type { BrowserSession } from '../support/browser-session.ts';

/**
 * Opens an end_session URL in the browser session, confirms "sign out of all services" on
 * One-ID's page and returns where One-ID sends the browser next (the post_logout_redirect_uri).
 */
export const confirmLogout = async (
  app: TestApp,
  session: BrowserSession,
  endSessionUrl: string | URL,
): Promise<URL> => {
  const page = await session.request(endSessionUrl);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`end_session ${page.status}: ${html.slice(0, 300)}`);
  const action = /id="op\.logoutForm" method="post" action="([^"]+)"/.exec(html)?.[1];
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !xsrf) throw new Error(`no logout confirmation form: ${html.slice(0, 300)}`);
  const done = await session.request(new URL(action, app.issuer), {
    method: 'POST',
    form: { xsrf, logout: 'yes' },
  });
  if (done.status !== 303)
    throw new Error(`end_session confirm ${done.status}: ${(await done.text()).slice(0, 300)}`);
  return new URL(done.headers.get('location')!, app.issuer);
};

export { silentAuthError } from '../support/flows.ts';

/** Claims rendered by a page as `data-claim="name">value<`, per table id. */
export const claimsShown = (html: string, tableId: string): Record<string, string> => {
  const table = new RegExp(`<table id="${tableId}">([\\s\\S]*?)</table>`).exec(html)?.[1] ?? '';
  const decode = (s: string) =>
    s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
  return Object.fromEntries(
    [...table.matchAll(/data-claim="([^"]+)">([^<]*)</g)].map(([, name, value]) => [
      decode(name!),
      decode(value!),
    ]),
  );
};

/**
 * startTestApp, once more if the first start lost the race to create One-ID's own first-party
 * client (two apps starting at once on a fresh PostgreSQL database both insert it: a src/ bug in
 * clients.ensureFirstPartyClient, reported; remove this when it upserts).
 */
export const startOneId = async (...args: Parameters<typeof startTestApp>): Promise<TestApp> => {
  try {
    return await startTestApp(...args);
  } catch (error) {
    if ((error as { code?: string; constraint?: string }).constraint !== 'clients_pkey')
      throw error;
    return startTestApp(...args);
  }
};
