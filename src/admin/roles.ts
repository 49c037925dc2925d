// Who may do what in the administration (docs/admin.md). Every admin use case (console, API,
// CLI, dynamic registration) passes a Principal through these checks, so no rule lives in only
// one of them:
//   platform  everything: agencies, administrators, reviews (enabling drafts), DCR tokens
//   agency    its agency's clients (request, edit, disable, delete, secrets, allowances) and audit
//   auditor   read-only: clients and audit, of one agency or (without one) of all
import { ACR, acrRank } from '../auth/index.ts';
import { AppError, type Clock, type ErrorCode } from '../shared/index.ts';

export const ROLES = ['platform', 'agency', 'auditor'] as const;
export type Role = (typeof ROLES)[number];
export type RoleGrant = { role: Role; agency: string | null };

/** OAuth scopes of the admin API's resource server (`${ISSUER}/admin/api`). */
export const ADMIN_SCOPES = ['admin:read', 'admin:write'] as const;

export type Principal = {
  /** Recorded as the audit actor: `admin:<accountId>`, `cli:<os user>@<host>`. */
  actor: string;
  accountId?: string | undefined;
  grants: RoleGrant[];
  via: 'console' | 'api' | 'cli';
  ip?: string | undefined;
  /** Epoch seconds of the sign-in behind the request; undefined for the CLI (an operator's shell). */
  authTime?: number | undefined;
  /** The level of that sign-in (console session, API token); undefined for the CLI. */
  acr?: string | undefined;
  /** An API token's scopes; undefined where scopes do not apply (console, CLI). */
  scopes?: ReadonlySet<string> | undefined;
};

/**
 * The CLI runs on the database host with the operator's credentials: platform rights. Its actor
 * is `cli:<os user>@<host>` (src/cli/cli-actor.ts); records from before it say `cli`, as tests'
 * principals still do.
 */
export const cliPrincipal = (actor = 'cli'): Principal => ({
  actor,
  grants: [{ role: 'platform', agency: null }],
  via: 'cli',
});

export const isPlatform = (p: Principal) => p.grants.some((g) => g.role === 'platform');

/** Agencies whose clients and audit `p` may read; undefined means all of them. */
export const readableAgencies = (p: Principal): string[] | undefined => {
  if (isPlatform(p) || p.grants.some((g) => g.role === 'auditor' && !g.agency)) return undefined;
  return [...new Set(p.grants.filter((g) => g.agency).map((g) => g.agency!))];
};

/** Agencies whose clients `p` may change; undefined means all of them. */
export const writableAgencies = (p: Principal): string[] | undefined =>
  isPlatform(p)
    ? undefined
    : [...new Set(p.grants.filter((g) => g.role === 'agency').map((g) => g.agency!))];

export const canRead = (p: Principal, agency: string) => {
  const agencies = readableAgencies(p);
  return !agencies || agencies.includes(agency);
};

export const canWrite = (p: Principal, agency: string) => {
  const agencies = writableAgencies(p);
  return !agencies || agencies.includes(agency);
};

const forbidden = (message: string, code: ErrorCode = 'ERR_ADMIN_FORBIDDEN') =>
  new AppError(code, message, { status: 403 });

/** The refusal of a sign-in below the administration's level: sign in again at `acr`. */
export const stepUpRequired = (acr: string) =>
  new AppError(
    'ERR_STEP_UP_REQUIRED',
    'the administration needs a sign-in with a passkey or certificate at a higher level; please sign in again',
    { status: 401, details: { acr } },
  );

/** Checks shared by every use case: every request needs a sign-in at minAcr or more (ADMIN_MIN_ACR;
 *  the CLI excepted); reading needs a role (and `admin:read` for tokens); changing needs a role
 *  that writes, `admin:write`, and a sign-in no older than reauthSeconds. */
export const createGuard = ({
  clock,
  reauthSeconds,
  minAcr = ACR.substantial,
}: {
  clock: Clock;
  reauthSeconds: number;
  minAcr?: string | undefined;
}) => {
  const hasScope = (p: Principal, scope: string) => !p.scopes || p.scopes.has(scope);
  return {
    minAcr,
    /** A console session or API token signed in below minAcr (a `low` upstream): step up. */
    assurance(p: Principal) {
      if (p.via !== 'cli' && acrRank(p.acr) < acrRank(minAcr)) throw stepUpRequired(minAcr);
    },
    read(p: Principal) {
      this.assurance(p);
      if (!p.grants.length)
        throw forbidden('this account has no administrator role', 'ERR_NOT_ADMIN');
      if (!hasScope(p, 'admin:read') && !hasScope(p, 'admin:write'))
        throw forbidden('the token lacks the admin:read scope', 'ERR_INSUFFICIENT_SCOPE');
    },
    change(p: Principal) {
      this.read(p);
      if (!hasScope(p, 'admin:write'))
        throw forbidden('the token lacks the admin:write scope', 'ERR_INSUFFICIENT_SCOPE');
      if (!p.grants.some((g) => g.role === 'platform' || g.role === 'agency'))
        throw forbidden('auditors have read-only access');
      // A change needs a recent sign-in: a stolen idle console or an old token cannot make one.
      if (p.authTime !== undefined && clock.now().getTime() / 1000 - p.authTime > reauthSeconds) {
        throw new AppError(
          'ERR_REAUTH_REQUIRED',
          `changes need a sign-in in the last ${reauthSeconds} seconds; please sign in again`,
          { status: 401, details: { maxAge: reauthSeconds } },
        );
      }
    },
    platform(p: Principal, write = true) {
      if (write) this.change(p);
      else this.read(p);
      if (!isPlatform(p)) throw forbidden('only a platform administrator may do this');
    },
    /** Platform administrators and auditors without an agency see everything read-only. */
    global(p: Principal) {
      this.read(p);
      if (readableAgencies(p) !== undefined)
        throw forbidden('only platform administrators and auditors may see this');
    },
  };
};

export type Guard = ReturnType<typeof createGuard>;
