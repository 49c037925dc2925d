// Page rendering keeps per-language values and resolved template paths between renders: a
// render must still see its own language, and each layout must resolve from its own folder.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { createViews } from './views.ts';

const site = {
  operator: { ko: '행정안전부', en: 'Ministry of the Interior and Safety' },
  helpdeskPhone: '110',
  helpUrl: undefined,
  privacyUrl: undefined,
  termsUrl: undefined,
  accessibilityUrl: undefined,
};

const app = new Koa();
const contextFor = (url: string) => {
  const req = new IncomingMessage(new Socket());
  req.url = url;
  req.method = 'GET';
  req.headers = { host: 'localhost' };
  const ctx = app.createContext(req, new ServerResponse(req));
  return ctx;
};

describe('views', () => {
  const views = createViews({ csrfToken: () => 'csrf-token', site });
  const render = (url: string, view: string) => {
    const ctx = contextFor(url);
    views.render(ctx, view, { heading: 'Heading', message: 'Message' });
    return String(ctx.body);
  };

  it('renders each page in its own language, in any order', () => {
    for (let i = 0; i < 2; i++) {
      const en = render('/x?lang=en', 'message');
      const ko = render('/x?lang=ko', 'message');
      expect(en).toContain('<html lang="en">');
      expect(en).toContain(site.operator.en);
      expect(en).not.toContain(site.operator.ko);
      expect(ko).toContain('<html lang="ko">');
      expect(ko).toContain(site.operator.ko);
      expect(ko).not.toContain(site.operator.en);
    }
  });

  it('resolves the same layout name from each template folder, every time', () => {
    for (let i = 0; i < 2; i++) {
      const citizen = render('/x', 'message');
      const admin = render('/admin/x', 'admin/signed-out');
      expect(citizen).not.toContain('/admin/admin.css');
      expect(admin).toContain('/admin/admin.css');
    }
  });

  it('refuses a template outside the views folder, every time', () => {
    for (let i = 0; i < 2; i++) expect(() => render('/x', '../package.json')).toThrow();
  });
});
