// CLI commands: each takes parsed options and the context, returns the text to print.
import { readFileSync, writeFileSync } from 'node:fs';
import { pageRequest, type ManifestFormat } from '../admin/index.ts';
import type { AuditCheckpoint } from '../audit/index.ts';
import { parseClientMetadata } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import { DEFAULT_KEY_RELOAD_SECONDS, jwksMaxAgeSeconds } from '../oidc/metadata-caching.ts';
import { AppError } from '../shared/index.ts';
import type { CliContext } from './cli-context.ts';
import { formatImportReport, runImport, subjectKeyMapper } from './import-accounts.ts';
import { checkSeedAccounts, runSeedAccounts } from './seed-command.ts';

export type Options = Record<string, string | boolean | undefined>;

const required = (options: Options, name: string): string => {
  const value = options[name];
  if (typeof value !== 'string' || !value) throw new AppError('ERR_USAGE', `--${name} is required`);
  return value;
};

/** A checkpoint file written by `audit verify --save-checkpoint`. */
const parseCheckpoint = (path: string, value: unknown): AuditCheckpoint => {
  const lanes = (value as { lanes?: unknown } | null)?.lanes;
  const heads =
    lanes && typeof lanes === 'object' ? Object.entries(lanes as Record<string, unknown>) : [];
  const valid =
    heads.length > 0 &&
    heads.every(
      ([lane, head]) =>
        /^\d+$/.test(lane) &&
        typeof (head as { id?: unknown })?.id === 'string' &&
        /^\d+$/.test((head as { id: string }).id) &&
        typeof (head as { hash?: unknown }).hash === 'string',
    );
  if (!valid)
    throw new AppError(
      'ERR_USAGE',
      `${path} is not an audit checkpoint (written by audit verify --save-checkpoint)`,
    );
  return {
    count: Number((value as { count?: unknown }).count) || 0,
    lanes: Object.fromEntries(heads) as AuditCheckpoint['lanes'],
  };
};

const readJsonFile = (path: string): unknown => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new AppError('ERR_USAGE', `cannot read ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AppError(
      'ERR_INVALID_CLIENT_METADATA',
      `${path} is not valid JSON: ${(error as Error).message}`,
    );
  }
};

const table = (rows: string[][]) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
};

export type Command = {
  usage: string;
  /**
   * Checks that need no database (refusals, arguments): run before the database is opened.
   * `args` are the words after the command's two (e.g. the kid of `keys revoke KID`).
   */
  check?: (config: Config, options: Options, args?: string[]) => void;
  run: (ctx: CliContext, options: Options, args?: string[]) => Promise<string>;
};

/** The one word a command takes after its name; a usage error without it or with more. */
const soleArgument = (args: string[] = [], name: string, usage: string): string => {
  if (args.length !== 1 || !args[0])
    throw new AppError('ERR_USAGE', `${args.length ? 'one' : 'a'} ${name} is required: ${usage}`);
  return args[0];
};

export const COMMANDS: Record<string, Command> = {
  'citizens enroll': {
    usage: 'citizens enroll --name NAME --birthdate YYYY-MM-DD [--email E] [--phone P]',
    async run(ctx, o) {
      const { account, url, expiresAt } = await ctx.accounts.enrolCitizen(
        {
          name: required(o, 'name'),
          birthdate: required(o, 'birthdate'),
          ...(typeof o.email === 'string' && { email: o.email }),
          ...(typeof o.phone === 'string' && { phone: o.phone }),
        },
        ctx.actor,
      );
      return [
        `Citizen enrolled: ${account.name} (account ${account.id})`,
        `One-time enrolment link (valid until ${expiresAt.toISOString()}, single use):`,
        `  ${url}`,
        'Give it to the citizen only: whoever opens it first creates the passkey.',
      ].join('\n');
    },
  },
  'citizens enroll-link': {
    usage:
      'citizens enroll-link --legacy-id ID   (an imported member: a one-time link to create a first passkey)',
    async run(ctx, o) {
      const { accountId, url, expiresAt } = await ctx.imports.enrolmentLinkForLegacyId(
        required(o, 'legacy-id'),
        ctx.actor,
      );
      return [
        `Enrolment link for account ${accountId} (valid until ${expiresAt.toISOString()}, single use):`,
        `  ${url}`,
        'Give it to the citizen only: whoever opens it first creates the passkey.',
      ].join('\n');
    },
  },
  'accounts import': {
    usage:
      'accounts import --file members.csv [--rejects FILE] [--restart] [--cert-anchor ANCHOR.pem]   (idempotent by legacy_id, resumable)',
    async run(ctx, o) {
      const anchor = typeof o['cert-anchor'] === 'string' ? o['cert-anchor'] : undefined;
      const result = await runImport(ctx.imports, {
        file: required(o, 'file'),
        actor: ctx.actor,
        rejects: typeof o.rejects === 'string' ? o.rejects : undefined,
        restart: Boolean(o.restart),
        subjectKeyOf: subjectKeyMapper(anchor, ctx.config.certificates.mappingRule),
      });
      return formatImportReport(result);
    },
  },
  'seed accounts': {
    usage:
      'seed accounts --count N [--with-passkeys] [--with-consents --client ID] [--start I] [--seed LABEL]   (synthetic, for load tests)',
    check: checkSeedAccounts,
    run: runSeedAccounts,
  },
  'clients add': {
    usage: 'clients add --file client.json',
    async run(ctx, o) {
      const { clientId, clientSecret, metadata, ignored } = await ctx.clients.addClient(
        readJsonFile(required(o, 'file')),
        ctx.actor,
      );
      return [
        ...ignored.map((f) => `warning: ${f}: not used by One-ID; ignored`),
        `Client registered: ${clientId} (${String(metadata.client_name)}, ${String(metadata.agency)})`,
        ...(clientSecret
          ? [`client_secret: ${clientSecret}`, 'Store the secret now: it is shown only once.']
          : []),
      ].join('\n');
    },
  },
  'clients list': {
    usage: 'clients list [--after CLIENT_ID] [--limit N]',
    async run(ctx, o) {
      const rows = await ctx.clients.list({
        ...(typeof o.after === 'string' && { after: o.after }),
        limit: Number(o.limit ?? 100) || 100,
      });
      if (!rows.length) return 'No clients registered.';
      return table([
        ['CLIENT_ID', 'NAME', 'AGENCY', 'STATUS', 'AUTH', 'REDIRECT_URIS'],
        ...rows.map((c) => [
          c.clientId,
          String(c.metadata.client_name ?? ''),
          c.agency,
          c.status,
          String(c.metadata.token_endpoint_auth_method ?? ''),
          ((c.metadata.redirect_uris as string[]) ?? []).join(' '),
        ]),
      ]);
    },
  },
  'claims list': {
    usage: 'claims list',
    async run(ctx) {
      const items = await ctx.catalogue.list();
      return table([
        ['CLAIM', 'LABEL (KO)', 'LABEL (EN)', 'SENSITIVITY', 'SCOPES', 'SOURCE'],
        ...items.map((i) => [
          i.name,
          i.label.ko,
          i.label.en,
          i.sensitivity,
          i.scopes.join(' '),
          i.source === 'agency' ? `${i.sourceAgency} (${i.delivery})` : 'One-ID',
        ]),
      ]);
    },
  },
  'claims put': {
    usage:
      'claims put --file claim.json   (add or edit a catalogue item, e.g. one served by another agency)',
    async run(ctx, o) {
      const item = await ctx.catalogue.put(readJsonFile(required(o, 'file')), ctx.actor);
      return `Claim ${item.name} saved. Running servers pick it up within 30 seconds.`;
    },
  },
  'clients allowances': {
    usage:
      "clients allowances --client CLIENT_ID [--file allowances.json]   (show, or replace with the file's list)",
    async run(ctx, o) {
      const clientId = required(o, 'client');
      if (typeof o.file === 'string') {
        const list = readJsonFile(o.file);
        if (!Array.isArray(list))
          throw new AppError(
            'ERR_INVALID_CLIENT_METADATA',
            'allowed_claims: the file must hold a JSON array',
          );
        const parsed = parseClientMetadata({
          client_name: 'x',
          agency: 'x',
          redirect_uris: ['https://x.example/cb'],
          allowed_claims: list,
        }).allowed_claims;
        await ctx.clients.setAllowances(clientId, parsed, ctx.actor);
      }
      const rows = await ctx.clients.allowances(clientId);
      if (!rows.length) return `${clientId} may ask for no personal data (only its pairwise sub).`;
      return table([
        ['CLAIM', 'REQUIRED', 'RETENTION', 'PURPOSE'],
        ...rows.map((r) => [
          r.claim,
          r.required ? 'yes' : 'no',
          `${r.retentionDays} days`,
          `${r.purpose.ko} / ${r.purpose.en}`,
        ]),
      ]);
    },
  },
  'upstreams add': {
    usage:
      'upstreams add --file upstream.json   (register an upstream identity provider; docs/federation.md)',
    async run(ctx, o) {
      const u = await ctx.upstreams.add(readJsonFile(required(o, 'file')), ctx.actor, {
        via: 'cli',
      });
      return [
        `Upstream registered: ${u.id} (${u.displayName.ko} / ${u.displayName.en}), ${u.issuer}, counts as ${u.acr}`,
        `Register this redirect URI at the upstream: ${ctx.federationRedirectUri}`,
      ].join('\n');
    },
  },
  'upstreams list': {
    usage: 'upstreams list',
    async run(ctx) {
      const rows = await ctx.upstreams.list();
      if (!rows.length) return 'No upstream identity providers registered.';
      return table([
        ['ID', 'STATUS', 'ISSUER', 'ACR', 'MATCH', 'ENROLMENT', 'NAME'],
        ...rows.map((u) => [
          u.id,
          u.status,
          u.issuer,
          u.acr,
          u.matchRule.join('+') || '-',
          u.enrolment ? 'yes' : 'no',
          `${u.displayName.ko} / ${u.displayName.en}`,
        ]),
      ]);
    },
  },
  'upstreams update': {
    usage:
      'upstreams update --id UPSTREAM_ID --file upstream.json   (replace its settings; without client_secret the stored one is kept)',
    async run(ctx, o) {
      const u = await ctx.upstreams.update(
        required(o, 'id'),
        readJsonFile(required(o, 'file')),
        ctx.actor,
        { via: 'cli' },
      );
      return `Upstream ${u.id} updated (${u.issuer}, counts as ${u.acr}). Running servers use the new settings at the next sign-in.`;
    },
  },
  'upstreams disable': {
    usage:
      'upstreams disable --id UPSTREAM_ID   (leaves the sign-in page at once; linked identities stay)',
    async run(ctx, o) {
      const id = required(o, 'id');
      const before = await ctx.upstreams.setStatus(id, 'disabled', ctx.actor, { via: 'cli' });
      return before === 'disabled'
        ? `${id} was already disabled.`
        : `${id} disabled: it is no longer offered and signs nobody in.`;
    },
  },
  'upstreams enable': {
    usage: 'upstreams enable --id UPSTREAM_ID',
    async run(ctx, o) {
      const id = required(o, 'id');
      const before = await ctx.upstreams.setStatus(id, 'active', ctx.actor, { via: 'cli' });
      return before === 'active' ? `${id} was already enabled.` : `${id} enabled.`;
    },
  },
  'clients disable': {
    usage:
      'clients disable --client CLIENT_ID   (at once: its requests fail with invalid_client; citizens are signed out of it)',
    async run(ctx, o) {
      const client = await ctx.admin.registry.disable(ctx.principal, required(o, 'client'));
      return `${client.client_id} is ${client.status}.`;
    },
  },
  'clients enable': {
    usage:
      'clients enable --client CLIENT_ID   (a draft or disabled client reaches the engine: the review)',
    async run(ctx, o) {
      const client = await ctx.admin.registry.enable(ctx.principal, required(o, 'client'));
      return `${client.client_id} is ${client.status}.`;
    },
  },
  'clients rotate-secret': {
    usage:
      'clients rotate-secret --client CLIENT_ID   (the previous secret works for CLIENT_SECRET_GRACE_SECONDS)',
    async run(ctx, o) {
      const { clientSecret, previousValidUntil } = await ctx.admin.registry.rotateSecret(
        ctx.principal,
        required(o, 'client'),
      );
      return [
        `client_secret: ${clientSecret}`,
        'Store the secret now: it is shown only once.',
        previousValidUntil
          ? `The previous secret works until ${previousValidUntil.toISOString()}.`
          : 'The previous secret no longer works.',
      ].join('\n');
    },
  },
  'admins grant': {
    usage: 'admins grant --account ACCOUNT_ID --role platform|agency|auditor [--agency NAME]',
    async run(ctx, o) {
      const g = await ctx.admin.admins.grant(ctx.principal, {
        accountId: required(o, 'account'),
        role: required(o, 'role'),
        agency: typeof o.agency === 'string' ? o.agency : null,
      });
      return `Account ${g.accountId} is ${g.role === 'agency' ? `an agency administrator of ${g.agency}` : g.role === 'auditor' ? `an auditor of ${g.agency ?? 'all agencies'}` : 'a platform administrator'}. It signs in at {ISSUER}/admin with its passkey or certificate.`;
    },
  },
  'admins revoke': {
    usage: 'admins revoke --account ACCOUNT_ID --role platform|agency|auditor [--agency NAME]',
    async run(ctx, o) {
      const revoked = await ctx.admin.admins.revoke(ctx.principal, {
        accountId: required(o, 'account'),
        role: required(o, 'role'),
        agency: typeof o.agency === 'string' ? o.agency : null,
      });
      return revoked
        ? "Role revoked; it stops working at the administrator's next request."
        : 'The account did not hold that role.';
    },
  },
  'admins list': {
    usage: 'admins list [--after CURSOR] [--limit N]',
    async run(ctx, o) {
      const page = await ctx.admin.admins.listGrants(ctx.principal, {
        limit: 100,
        ...pageRequest(o.limit, o.after),
      });
      if (!page.items.length)
        return 'No administrators. Grant the first one: admins grant --account ID --role platform';
      return [
        table([
          ['ACCOUNT', 'ROLE', 'AGENCY', 'GRANTED', 'BY'],
          ...page.items.map((g) => [
            g.accountId,
            g.role,
            g.agency ?? '-',
            g.grantedAt.toISOString(),
            g.grantedBy,
          ]),
        ]),
        ...(page.next ? [`More: --after ${page.next}`] : []),
      ].join('\n');
    },
  },
  'agencies list': {
    usage: 'agencies list [--after CURSOR] [--limit N]',
    async run(ctx, o) {
      const page = await ctx.admin.admins.listAgencies(ctx.principal, {
        limit: 100,
        ...pageRequest(o.limit, o.after),
      });
      if (!page.items.length) return 'No agencies.';
      return [
        table([
          ['AGENCY', 'NAME_EN', 'CONTACT'],
          ...page.items.map((a) => [a.name, a.nameEn ?? '', a.contact ?? '']),
        ]),
        ...(page.next ? [`More: --after ${page.next}`] : []),
      ].join('\n');
    },
  },
  'manifest import': {
    usage:
      'manifest import --file manifest.json|manifest.csv [--dry-run] [--format json|csv]   (idempotent; nothing is applied if a row is rejected)',
    async run(ctx, o) {
      const file = required(o, 'file');
      const format: ManifestFormat =
        o.format === 'csv' || (o.format === undefined && file.toLowerCase().endsWith('.csv'))
          ? 'csv'
          : 'json';
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        throw new AppError('ERR_USAGE', `cannot read ${file}`);
      }
      const dryRun = o['dry-run'] === true;
      const result = await ctx.admin.manifest.import(ctx.principal, text, format, { dryRun });
      const verb = (a: string) =>
        (dryRun
          ? { create: 'would create', update: 'would update', unchanged: 'unchanged' }
          : { create: 'created', update: 'updated', unchanged: 'unchanged' })[a as 'create'];
      const lines = result.changes.map(
        (c) =>
          `${verb(c.action)} ${c.kind} ${c.key}${c.fields.length ? ` (${c.fields.join(', ')})` : ''}`,
      );
      if (result.rejected.length) {
        const rejected = result.rejected.map(
          (r) => `rejected ${r.where}${r.key ? ` (${r.key})` : ''}: ${r.field}: ${r.message}`,
        );
        throw new AppError(
          'ERR_MANIFEST_REJECTED',
          [...rejected, `${result.rejected.length} row problem(s); nothing was applied.`].join(
            '\n',
          ),
        );
      }
      const secrets = Object.entries(result.secrets).map(
        ([id, secret]) => `client_secret for ${id}: ${secret}`,
      );
      const counts = ['create', 'update', 'unchanged']
        .map((a) => `${result.changes.filter((c) => c.action === a).length} ${verb(a)}`)
        .join(', ');
      return [
        ...lines,
        ...secrets,
        ...(secrets.length ? ['Store the secrets now: they are shown only once.'] : []),
        dryRun ? `Dry run: ${counts}; nothing was changed.` : `Done: ${counts}.`,
      ].join('\n');
    },
  },
  'manifest export': {
    usage: 'manifest export [--format json|csv]   (agencies and systems; never secrets)',
    async run(ctx, o) {
      return (
        await ctx.admin.manifest.export(ctx.principal, o.format === 'csv' ? 'csv' : 'json')
      ).trimEnd();
    },
  },
  'dcr issue-token': {
    usage:
      'dcr issue-token --agency NAME [--days 30]   (an initial access token for dynamic client registration, RFC 7591)',
    async run(ctx, o) {
      const issued = await ctx.admin.dcr.issueInitialToken(ctx.principal, {
        agency: required(o, 'agency'),
        days: o.days === undefined ? undefined : Number(o.days),
      });
      return [
        `Initial access token for ${issued.agency} (id ${issued.id}, valid until ${issued.expiresAt.toISOString()}):`,
        `  ${issued.token}`,
        'It is shown only once. Systems registered with it (POST {ISSUER}/reg, Authorization: Bearer <token>; needs DCR_ENABLED=true) belong to this agency.',
      ].join('\n');
    },
  },
  'keys rotate': {
    usage:
      'keys rotate [--now]   (new keys are published first and sign after KEY_ACTIVATION_DELAY_SECONDS; --now signs at once)',
    async run(ctx, o) {
      const kids = await ctx.signingKeys.rotate(
        ctx.actor,
        o.now ? { activateAfterSeconds: 0 } : {},
      );
      return `New signing keys: ${kids.join(', ')}\nThey are published now${o.now ? ' and sign at once' : ' and start signing after the activation delay'}; previous keys stay published for verification. Running servers reload at once when they share a change feed (Redis, or the embedded database), else within 30 seconds.`;
    },
  },
  'keys revoke': {
    usage:
      "keys revoke KID   (a leaked key: out of every instance's JWKS at once; if it signs, a new key of its algorithm signs at once)",
    check: (_config, _o, args) => void soleArgument(args, 'KID', 'keys revoke KID'),
    async run(ctx, _o, args) {
      const r = await ctx.signingKeys.revoke('cli', soleArgument(args, 'KID', 'keys revoke KID'));
      const maxAge = jwksMaxAgeSeconds({
        activationDelaySeconds: ctx.config.keyActivationDelaySeconds,
        reloadSeconds: DEFAULT_KEY_RELOAD_SECONDS,
      });
      return [
        `Signing key ${r.kid} (${r.alg}, was ${r.status}) revoked: it is no longer published and nothing it signed verifies.`,
        ...(r.replacement ? [`New ${r.alg} signing key: ${r.replacement} (signs at once).`] : []),
        r.announced
          ? 'Running servers were told and drop it from their JWKS now.'
          : `Running servers drop it from their JWKS within ${DEFAULT_KEY_RELOAD_SECONDS} seconds (their key poll).`,
        `Relying parties that cached the JWKS may trust it until their copy expires: up to ${maxAge} s (the JWKS's Cache-Control max-age), twice that behind two caches.`,
      ].join('\n');
    },
  },
  'keys list': {
    usage: 'keys list',
    async run(ctx) {
      const keys = await ctx.signingKeys.list();
      return table([
        ['KID', 'ALG', 'STATUS', 'CREATED'],
        ...keys.map((k) => [k.kid, k.alg, k.status, k.createdAt.toISOString()]),
      ]);
    },
  },
  'keys prune': {
    usage: 'keys prune [--older-than-days 31]',
    async run(ctx, o) {
      const days = Number(o['older-than-days'] ?? 31);
      if (!Number.isFinite(days) || days < 1)
        throw new AppError(
          'ERR_USAGE',
          '--older-than-days must be at least 1 (longer than any token lifetime)',
        );
      return `Removed ${await ctx.signingKeys.prune(ctx.actor, days * 86400)} retired key(s).`;
    },
  },
  'secrets reseal': {
    usage: 'secrets reseal',
    async run(ctx) {
      const report = await ctx.resealSecrets();
      const total = report.reduce((n, c) => n + c.resealed, 0);
      return [
        table([
          ['COLUMN', 'VALUES', 'RESEALED'],
          ...report.map((c) => [c.column, String(c.rows), String(c.resealed)]),
        ]),
        `${total} value(s) re-sealed with the first key of KEY_ENCRYPTION_KEYS.`,
        'Once every instance runs with the new key list, the old key can be removed from KEY_ENCRYPTION_KEYS.',
      ].join('\n');
    },
  },
  'audit verify': {
    usage: 'audit verify [--checkpoint FILE] [--save-checkpoint FILE]',
    async run(ctx, o) {
      const checkpoint =
        typeof o.checkpoint === 'string'
          ? parseCheckpoint(o.checkpoint, readJsonFile(o.checkpoint))
          : undefined;
      const result = await ctx.audit.verify({ ...(checkpoint && { checkpoint }) });
      if (!result.ok) {
        if (result.missing)
          throw new AppError(
            'ERR_AUDIT_CHAIN_BROKEN',
            `Audit trail incomplete: record ${result.brokenAt}, a lane head in the checkpoint, is missing (records were deleted).`,
          );
        if (result.unknownKey)
          throw new AppError(
            'ERR_AUDIT_CHAIN_BROKEN',
            `Audit chain broken at record ${result.brokenAt} (after ${result.count} valid record(s)): its key id "${result.unknownKey}" is not one of AUDIT_KEYS.`,
          );
        throw new AppError(
          'ERR_AUDIT_CHAIN_BROKEN',
          `Audit chain broken at record ${result.brokenAt} (after ${result.count} valid record(s)).`,
        );
      }
      const lines = [`Audit chain intact: ${result.count} record(s).`];
      if (checkpoint)
        lines.push(
          `Every lane head of the checkpoint (${Object.keys(checkpoint.lanes).length}, taken at ${checkpoint.count} record(s)) is still in the trail.`,
        );
      if (typeof o['save-checkpoint'] === 'string') {
        writeFileSync(o['save-checkpoint'], `${JSON.stringify(result.checkpoint, null, 2)}\n`);
        lines.push(
          `Checkpoint written to ${o['save-checkpoint']}: keep it outside the database (write-once storage) and pass it to the next \`audit verify --checkpoint\`.`,
        );
      }
      return lines.join('\n');
    },
  },
  'sessions end': {
    usage: 'sessions end --account ACCOUNT_ID',
    async run(ctx, o) {
      const accountId = required(o, 'account');
      if (!/^[0-9a-f-]{36}$/i.test(accountId) || !(await ctx.accounts.findById(accountId)))
        throw new AppError('ERR_USAGE', `no account ${accountId}`);
      const { sessions, tokens } = await ctx.sessions.endAllForAccount(accountId, {
        actor: ctx.actor,
      });
      // Data held by other agencies: the distributed tokens handed out for the account stop too.
      const events = await ctx.sourceEvents.revoke(accountId, undefined, 'sessions_ended');
      return [
        `Ended ${sessions} session(s) of account ${accountId}; ${tokens} back-channel logout token(s) queued.`,
        ...(events
          ? [`${events} claim source event(s) queued: those sources refuse the distributed tokens.`]
          : []),
        ...(sessions
          ? [
              'Running servers remove the sessions within a few seconds (BACKCHANNEL_POLL_MS) and revoke their tokens, refresh tokens included.',
            ]
          : []),
      ].join('\n');
    },
  },
};
