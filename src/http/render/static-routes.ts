// Static assets, served from memory with strong caching; nothing from an external CDN.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import type Router from '@koa/router';

const STATIC = fileURLToPath(new URL('../../../views/static/', import.meta.url));
// SimpleWebAuthn's browser bundle, from the installed package (its exports hide the path).
const browserBundle = join(
  dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')),
  '..',
  'dist',
  'bundle',
  'index.umd.min.js',
);

const asset = (file: string, type: string) => {
  const body = readFileSync(file);
  return {
    body,
    type,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
  };
};

export const staticRoutes = (router: Router) => {
  // A Map, not an object: `/static/constructor` must not find Object.prototype's members.
  const assets = new Map([
    ['app.css', asset(join(STATIC, 'app.css'), 'text/css; charset=utf-8')],
    ['one-id.js', asset(join(STATIC, 'one-id.js'), 'text/javascript; charset=utf-8')],
    ['webauthn.js', asset(browserBundle, 'text/javascript; charset=utf-8')],
  ]);
  router.get('/static/:name', (ctx) => {
    const found = assets.get(ctx.params.name!);
    if (!found) return;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('ETag', found.etag);
    if (ctx.get('if-none-match') === found.etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = found.type;
    ctx.body = found.body;
  });
};
