// CLI commands: each takes parsed options and the context, returns the text to print.
import { readFileSync } from 'node:fs';
import { parseClientMetadata } from '../clients/index.ts';
import { AppError } from '../shared/index.ts';
import type { CliContext } from './cli-context.ts';

export type Options = Record<string, string | boolean | undefined>;

const required = (options: Options, name: string): string => {
  const value = options[name];
  if (typeof value !== 'string' || !value) throw new AppError('ERR_USAGE', `--${name} is required`);
  return value;
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
    throw new AppError('ERR_INVALID_CLIENT_METADATA', `${path} is not valid JSON: ${(error as Error).message}`);
  }
};

const table = (rows: string[][]) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
};

export const COMMANDS: Record<string, { usage: string; run: (ctx: CliContext, options: Options) => Promise<string> }> = {
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
        'cli',
      );
      return [
        `Citizen enrolled: ${account.name} (account ${account.id})`,
        `One-time enrolment link (valid until ${expiresAt.toISOString()}, single use):`,
        `  ${url}`,
        'Give it to the citizen only: whoever opens it first creates the passkey.',
      ].join('\n');
    },
  },
  'clients add': {
    usage: 'clients add --file client.json',
    async run(ctx, o) {
      const { clientId, clientSecret, metadata } = await ctx.clients.addClient(readJsonFile(required(o, 'file')), 'cli');
      return [
        `Client registered: ${clientId} (${String(metadata.client_name)}, ${String(metadata.agency)})`,
        ...(clientSecret ? [`client_secret: ${clientSecret}`, 'Store the secret now: it is shown only once.'] : []),
      ].join('\n');
    },
  },
  'clients list': {
    usage: 'clients list [--after CLIENT_ID] [--limit N]',
    async run(ctx, o) {
      const rows = await ctx.clients.list({ ...(typeof o.after === 'string' && { after: o.after }), limit: Number(o.limit ?? 100) || 100 });
      if (!rows.length) return 'No clients registered.';
      return table([
        ['CLIENT_ID', 'NAME', 'AGENCY', 'STATUS', 'AUTH', 'REDIRECT_URIS'],
        ...rows.map((c) => [c.clientId, String(c.metadata.client_name ?? ''), c.agency, c.status, String(c.metadata.token_endpoint_auth_method ?? ''), ((c.metadata.redirect_uris as string[]) ?? []).join(' ')]),
      ]);
    },
  },
  'claims list': {
    usage: 'claims list',
    async run(ctx) {
      const items = await ctx.catalogue.list();
      return table([['CLAIM', 'LABEL (KO)', 'LABEL (EN)', 'SENSITIVITY', 'SCOPES', 'SOURCE'], ...items.map((i) => [i.name, i.label.ko, i.label.en, i.sensitivity, i.scopes.join(' '), i.source === 'agency' ? `${i.sourceAgency} (${i.delivery})` : 'One-ID'])]);
    },
  },
  'claims put': {
    usage: 'claims put --file claim.json   (add or edit a catalogue item, e.g. one served by another agency)',
    async run(ctx, o) {
      const item = await ctx.catalogue.put(readJsonFile(required(o, 'file')), 'cli');
      return `Claim ${item.name} saved. Running servers pick it up within 30 seconds.`;
    },
  },
  'clients allowances': {
    usage: 'clients allowances --client CLIENT_ID [--file allowances.json]   (show, or replace with the file\'s list)',
    async run(ctx, o) {
      const clientId = required(o, 'client');
      if (typeof o.file === 'string') {
        const list = readJsonFile(o.file);
        if (!Array.isArray(list)) throw new AppError('ERR_INVALID_CLIENT_METADATA', 'allowed_claims: the file must hold a JSON array');
        const parsed = parseClientMetadata({ client_name: 'x', agency: 'x', redirect_uris: ['https://x.example/cb'], allowed_claims: list }).allowed_claims;
        await ctx.clients.setAllowances(clientId, parsed, 'cli');
      }
      const rows = await ctx.clients.allowances(clientId);
      if (!rows.length) return `${clientId} may ask for no personal data (only its pairwise sub).`;
      return table([['CLAIM', 'REQUIRED', 'RETENTION', 'PURPOSE'], ...rows.map((r) => [r.claim, r.required ? 'yes' : 'no', `${r.retentionDays} days`, `${r.purpose.ko} / ${r.purpose.en}`])]);
    },
  },
  'keys rotate': {
    usage: 'keys rotate [--now]   (new keys are published first and sign after KEY_ACTIVATION_DELAY_SECONDS; --now signs at once)',
    async run(ctx, o) {
      const kids = await ctx.signingKeys.rotate('cli', o.now ? { activateAfterSeconds: 0 } : {});
      return `New signing keys: ${kids.join(', ')}\nThey are published now${o.now ? ' and sign at once' : ' and start signing after the activation delay'}; previous keys stay published for verification. Running servers pick this up within 30 seconds.`;
    },
  },
  'keys list': {
    usage: 'keys list',
    async run(ctx) {
      const keys = await ctx.signingKeys.list();
      return table([['KID', 'ALG', 'STATUS', 'CREATED'], ...keys.map((k) => [k.kid, k.alg, k.status, k.createdAt.toISOString()])]);
    },
  },
  'keys prune': {
    usage: 'keys prune [--older-than-days 31]',
    async run(ctx, o) {
      const days = Number(o['older-than-days'] ?? 31);
      if (!Number.isFinite(days) || days < 1) throw new AppError('ERR_USAGE', '--older-than-days must be at least 1 (longer than any token lifetime)');
      return `Removed ${await ctx.signingKeys.prune('cli', days * 86400)} retired key(s).`;
    },
  },
  'audit verify': {
    usage: 'audit verify',
    async run(ctx) {
      const result = await ctx.audit.verify();
      if (result.ok) return `Audit chain intact: ${result.count} record(s).`;
      throw new AppError('ERR_AUDIT_CHAIN_BROKEN', `Audit chain broken at record ${result.brokenAt} (after ${result.count} valid record(s)).`);
    },
  },
  'sessions end': {
    usage: 'sessions end --account ACCOUNT_ID',
    async run(ctx, o) {
      const accountId = required(o, 'account');
      if (!/^[0-9a-f-]{36}$/i.test(accountId) || !(await ctx.accounts.findById(accountId))) throw new AppError('ERR_USAGE', `no account ${accountId}`);
      const { sessions, tokens } = await ctx.sessions.endAllForAccount(accountId, { actor: 'cli' });
      return [
        `Ended ${sessions} session(s) of account ${accountId}; ${tokens} back-channel logout token(s) queued.`,
        ...(sessions ? ['Running servers remove the sessions within BACKCHANNEL_POLL_MS and revoke their tokens (refresh tokens included).'] : []),
      ].join('\n');
    },
  },
};
