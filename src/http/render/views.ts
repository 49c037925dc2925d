// Server-rendered pages (views/*.eta, auto-escaped) in the citizen's language.
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Context } from 'koa';
import type { SiteConfig } from '../../config/index.ts';
import { LANGS, translator, type Lang } from './messages.ts';
import { passkeyLabels } from '../account/passkey-label.ts';
import { cspNonceOf } from '../middleware/security.ts';

const VIEWS = fileURLToPath(new URL('../../../views/', import.meta.url));
const LANG_COOKIE = 'oneid_lang';

/** Language: an explicit ?lang= (remembered in a cookie), then the cookie, then `ui_locales`, else Korean. */
export const langOf = (ctx: Context, uiLocales?: string): Lang => {
  const asked = ctx.query.lang;
  if (typeof asked === 'string' && (LANGS as readonly string[]).includes(asked)) {
    ctx.cookies.set(LANG_COOKIE, asked, {
      httpOnly: true,
      sameSite: 'lax',
      overwrite: true,
      maxAge: 365 * 86400_000,
    });
    return asked as Lang;
  }
  const saved = ctx.cookies.get(LANG_COOKIE);
  if (saved && (LANGS as readonly string[]).includes(saved)) return saved as Lang;
  const preferred = uiLocales
    ?.split(' ')
    .map((l) => l.slice(0, 2))
    .find((l) => (LANGS as readonly string[]).includes(l));
  return (preferred as Lang | undefined) ?? 'ko';
};

export const createViews = ({
  csrfToken,
  site,
  timeZone = 'Asia/Seoul',
}: {
  csrfToken: (ctx: Context) => string;
  /** The operator and its links, for the banner and footer (layout.eta). */
  site: SiteConfig;
  timeZone?: string;
}) => {
  // Dates on pages are in the citizens' time zone (KST by default), never the server's, and
  // times on the 24-hour clock in both languages ("AM 5:24" reads badly in Korean service pages).
  const format = (locale: string, time: boolean) =>
    new Intl.DateTimeFormat(locale, {
      dateStyle: 'medium',
      ...(time && { timeStyle: 'short', hourCycle: 'h23' as const }),
      timeZone,
    });
  const formats = {
    ko: { day: format('ko-KR', false), time: format('ko-KR', true) },
    en: { day: format('en-GB', false), time: format('en-GB', true) },
  };
  const eta = new Eta({ views: VIEWS, autoEscape: true, cache: true, autoTrim: false });
  keepResolvedPaths(eta);
  // What every page of a language shares, built once per language rather than per render.
  const shared = (lang: Lang) => ({
    lang,
    t: translator(lang),
    site: Object.freeze({ ...site, operator: site.operator[lang] }),
    day: (d: Date) => formats[lang].day.format(d),
    time: (d: Date) => formats[lang].time.format(d),
    /** What the citizen calls each passkey (passkey-label.ts), in this page's language. */
    passkeyLabels: (passkeys: Parameters<typeof passkeyLabels>[0]) =>
      passkeyLabels(passkeys, lang, (d) => formats[lang].day.format(d)),
  });
  const byLang = { ko: shared('ko'), en: shared('en') } satisfies Record<Lang, object>;
  return {
    /**
     * Renders `view` into ctx.body with the layout's shared values (language, CSRF token, the
     * nonce of the response's CSP, found by `ctx.req`: the engine's own context has it too).
     */
    render(
      ctx: Context,
      view: string,
      data: Record<string, unknown> = {},
      options: { status?: number; uiLocales?: string } = {},
    ) {
      const lang = langOf(ctx, options.uiLocales);
      const otherLang: Lang = lang === 'ko' ? 'en' : 'ko';
      const switchUrl = `${ctx.path}?${new URLSearchParams({ ...(ctx.query as Record<string, string>), lang: otherLang })}`;
      ctx.status = options.status ?? 200;
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = eta.render(view, {
        ...data,
        ...byLang[lang],
        nonce: cspNonceOf(ctx.req),
        csrf: csrfToken(ctx),
        switchUrl,
      });
    },
  };
};

/** Template paths resolved before, by name and including template; each is resolved once. */
const RESOLVED_PATHS_KEPT = 1024;

/**
 * Eta resolves a template's path on every render and include (a JSON key, path.join and
 * path.relative each time) although views are named in code and never move. The first
 * resolution of each (including file, name) is kept; a path outside the views folder still
 * throws, and is never kept.
 */
const keepResolvedPaths = (eta: Eta) => {
  const resolve = eta.resolvePath!;
  const kept = new Map<string, string>();
  eta.resolvePath = function (template, options) {
    const key = `${options?.filepath ?? ''}\u0000${template}`;
    let path = kept.get(key);
    if (path === undefined) {
      path = resolve.call(this, template, options);
      if (kept.size < RESOLVED_PATHS_KEPT) kept.set(key, path);
    }
    return path;
  };
};

export type Views = ReturnType<typeof createViews>;
