// The administration's HTTP surface: the JSON API (/admin/api, bearer tokens) and the console
// (/admin, One-ID sign-in), both on src/admin.
import type Router from '@koa/router';
import type { OidcFacade } from '../../oidc/index.ts';
import type { AdminModule } from '../../admin/index.ts';
import type { SystemNames } from '../../clients/index.ts';
import type { UpstreamService } from '../../federation/index.ts';
import type { AdminConfig } from '../../config/config.ts';
import type { CatalogueItem } from '../../consent/index.ts';
import { adminApiRoutes } from './api/api-routes.ts';
import { adminConsoleRoutes } from './console/routes.ts';
import type { ConsoleSession } from './console/session.ts';
import type { Csrf } from '../middleware/csrf.ts';
import type { Views } from '../render/views.ts';

export type AdminHttpDeps = {
  admin: AdminModule;
  session: ConsoleSession;
  settings: AdminConfig;
  issuer: string;
  /** The admin API's resource indicator, `${ISSUER}/admin/api`. */
  audience: string;
  accountName: (accountId: string) => Promise<string | undefined>;
  /** The claims catalogue (the console names data items by its labels). */
  claims?: (() => Promise<CatalogueItem[]>) | undefined;
  /** Systems' names in both languages (the audit log names a system, not only its client id). */
  systemNames?: ((clientIds: readonly string[]) => Promise<Map<string, SystemNames>>) | undefined;
};

export const adminRoutes = (
  router: Router,
  deps: AdminHttpDeps & {
    oidc: OidcFacade;
    views: Views;
    csrf: Csrf;
    upstreams?: UpstreamService | undefined;
  },
) => {
  adminApiRoutes(router, {
    admin: deps.admin,
    oidc: deps.oidc,
    audience: deps.audience,
    reauthSeconds: deps.settings.reauthSeconds,
    upstreams: deps.upstreams,
  });
  adminConsoleRoutes(router, deps);
};
