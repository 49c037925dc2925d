// The admin console over HTTP as a browser uses it: administrators signed in through One-ID
// (passkey), and forms submitted with exactly the fields the served page holds.
import { cliPrincipal } from '../../src/admin/index.ts';
import type { TestApp } from '../support/app.ts';
import type { BrowserSession } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
import { consoleSignIn, ensureAgency, unique } from './support.ts';

export type ConsoleAdmin = Awaited<ReturnType<typeof enrolCitizen>> & {
  browser: BrowserSession;
  actor: string;
};

/** An account with a role (granted as the CLI does), signed in to the console. */
export const consoleAdmin = async (
  app: TestApp,
  role: 'platform' | 'agency' | 'auditor',
  agency?: string,
): Promise<ConsoleAdmin> => {
  const citizen = await enrolCitizen(app, {
    name: `${role} 관리자`,
    email: `${unique(role)}@example.go.kr`,
  });
  if (agency) await ensureAgency(app, agency);
  await app.services.admin.admins.grant(cliPrincipal(), {
    accountId: citizen.account.id,
    role,
    agency: agency ?? null,
  });
  return {
    ...citizen,
    browser: await consoleSignIn(app, citizen),
    actor: `admin:${citizen.account.id}`,
  };
};

const decode = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const attributes = (tag: string) =>
  Object.fromEntries(
    [...tag.matchAll(/([\w-]+)(?:="([^"]*)")?/g)]
      .slice(1)
      .map((m) => [m[1]!, m[2] === undefined ? '' : decode(m[2])]),
  );

/**
 * What a browser would submit from the page's form posting to `action`, untouched: inputs
 * (checkboxes only when checked), textareas and each select's selected (or first) option.
 */
export const formFields = (html: string, action: string): URLSearchParams => {
  const form = new RegExp(
    `<form[^>]*action="${action.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>([\\s\\S]*?)</form>`,
  ).exec(html);
  if (!form) throw new Error(`no form posting to ${action}`);
  const fields = new URLSearchParams();
  const body = form[1]!;
  for (const m of body.matchAll(/<(input|textarea|select)\b([^>]*)>([\s\S]*?<\/\1>)?/g)) {
    const [, tag, rest, inner = ''] = m;
    const a = attributes(`<${tag}${rest}`);
    if (!a.name) continue;
    if (tag === 'input') {
      if (
        a.type === 'submit' ||
        a.type === 'button' ||
        ((a.type === 'checkbox' || a.type === 'radio') && !('checked' in a))
      )
        continue;
      fields.append(a.name, a.value ?? '');
    } else if (tag === 'textarea') {
      fields.append(a.name, decode(inner.replace(/<\/textarea>$/, '')));
    } else {
      const options = [...inner.matchAll(/<option\b([^>]*)>/g)].map((o) =>
        attributes(`<option${o[1]}`),
      );
      const chosen = options.find((o) => 'selected' in o) ?? options[0];
      if (chosen) fields.append(a.name, chosen.value ?? '');
    }
  }
  return fields;
};

/** Posts a form (URL-encoded, repeated names kept) the way the browser does; no redirects followed. */
export const postForm = (
  browser: BrowserSession,
  url: string,
  fields: URLSearchParams | Record<string, string>,
) =>
  browser.request(url, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });

/** The page's CSRF token (every console page carries it). */
export const csrfOf = async (browser: BrowserSession, url: string) => {
  const html = await (await browser.request(url)).text();
  const token = /<meta name="csrf-token" content="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error(`no CSRF token on ${url}`);
  return token;
};
