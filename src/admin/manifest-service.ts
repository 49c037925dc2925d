// Bulk onboarding: import a manifest of agencies and systems (JSON or CSV), export the same
// format. Import is a plan first: every row is checked with the client service's rules and
// compared with what exists, so a dry run shows exactly what would change, each rejected row is
// named with its field, and a re-run of an applied manifest changes nothing (idempotent).
// Nothing is applied when any row is rejected.
import { isFirstPartyClient, type ClientService } from '../clients/index.ts';
import type { AuditService } from '../audit/index.ts';
import { AppError, isAppError } from '../shared/index.ts';
import type { AdminService } from './admin-service.ts';
import { parseAgency } from './admin-service.ts';
import {
  formatManifest,
  parseManifest,
  type ManifestDocument,
  type ManifestFormat,
} from './manifest-format.ts';
import type { Guard, Principal } from './roles.ts';

export type ManifestChange = {
  kind: 'agency' | 'system';
  key: string;
  action: 'create' | 'update' | 'unchanged';
  fields: string[];
};
export type ManifestRejection = {
  where: string;
  key?: string | undefined;
  field: string;
  message: string;
};
export type ManifestResult = {
  dryRun: boolean;
  applied: boolean;
  changes: ManifestChange[];
  rejected: ManifestRejection[];
  /** Secrets of systems created by this import (shown once). */
  secrets: Record<string, string>;
};

type Deps = {
  clients: ClientService;
  admins: AdminService;
  audit: AuditService;
  guard: Guard;
  onClientDisabled?: ((clientId: string, actor: string) => Promise<void>) | undefined;
};

// jsonb does not keep key order: compare canonical forms.
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  return JSON.stringify(value ?? null);
};

const problemsOf = (error: unknown): { field: string; message: string }[] => {
  if (!isAppError(error)) throw error;
  const problems = (error.details?.problems as string[] | undefined) ?? [error.message];
  return problems.map((p) => {
    const i = p.indexOf(': ');
    return i > 0
      ? { field: p.slice(0, i), message: p.slice(i + 2) }
      : { field: (error.details?.field as string | undefined) ?? 'row', message: p };
  });
};

const STATUSES = ['active', 'draft', 'disabled'] as const;
type Status = (typeof STATUSES)[number];

export const createManifestService = ({
  clients,
  admins,
  audit,
  guard,
  onClientDisabled,
}: Deps) => {
  const plan = async (text: string, format: ManifestFormat) => {
    const parsed = parseManifest(text, format);
    const changes: ManifestChange[] = [];
    const rejected: ManifestRejection[] = [];
    const agencyNames = new Set<string>();
    const agencies: { change: ManifestChange; input: Record<string, unknown> }[] = [];
    for (const row of parsed.agencies) {
      try {
        const a = parseAgency(row.value);
        if (agencyNames.has(a.name))
          throw new AppError('ERR_INVALID_MANIFEST', `name: ${a.name} is listed twice`);
        agencyNames.add(a.name);
        const existing = await admins.agency(a.name);
        const fields = existing
          ? (['name_en', 'contact'] as const).filter(
              (f) => (existing[f === 'name_en' ? 'nameEn' : 'contact'] ?? undefined) !== a[f],
            )
          : [];
        const change: ManifestChange = {
          kind: 'agency',
          key: a.name,
          action: !existing ? 'create' : fields.length ? 'update' : 'unchanged',
          fields: [...fields],
        };
        changes.push(change);
        agencies.push({ change, input: a });
      } catch (error) {
        for (const p of problemsOf(error)) rejected.push({ where: row.where, ...p });
      }
    }
    const systems: {
      change: ManifestChange;
      input: Record<string, unknown>;
      status: Status;
      before?: string | undefined;
    }[] = [];
    const ids = new Set<string>();
    for (const row of parsed.systems) {
      const { status = 'active', ...input } = row.value;
      const key = typeof input.client_id === 'string' ? input.client_id : undefined;
      const reject = (field: string, message: string) =>
        rejected.push({ where: row.where, key, field, message });
      if (!key) {
        reject(
          'client_id',
          'is required in a manifest (it is what makes a re-run find the system again)',
        );
        continue;
      }
      if (ids.has(key)) {
        reject('client_id', `${key} is listed twice`);
        continue;
      }
      ids.add(key);
      if (!(STATUSES as readonly string[]).includes(status as string)) {
        reject('status', `must be one of ${STATUSES.join(', ')}`);
        continue;
      }
      try {
        const normalised = await clients.validate(input);
        if (
          !agencyNames.has(normalised.agency) &&
          !(await admins.agencyExists(normalised.agency))
        ) {
          reject('agency', `${normalised.agency} is neither listed in the manifest nor registered`);
          continue;
        }
        const existing = await clients.find(key);
        if (!existing && (await clients.exists(key))) {
          reject('client_id', `${key} was deleted; client ids are never reused`);
          continue;
        }
        if (existing && isFirstPartyClient(key)) {
          reject('client_id', `${key} is One-ID's own client`);
          continue;
        }
        if (existing?.status === 'active' && status === 'draft') {
          reject('status', 'an active system cannot return to draft (disable it instead)');
          continue;
        }
        const fields: string[] = [];
        if (existing) {
          const { agency, client_id: _id, allowed_claims: allowances, ...metadata } = normalised;
          if (existing.agency !== agency) fields.push('agency');
          if (canonical({ ...metadata, subject_type: 'pairwise' }) !== canonical(existing.metadata))
            fields.push('metadata');
          const current = (await clients.allowances(key)).map((a) => ({
            claim: a.claim,
            purpose: a.purpose,
            required: a.required,
            retention_days: a.retentionDays,
          }));
          if (
            canonical([...allowances].sort((a, b) => (a.claim < b.claim ? -1 : 1))) !==
            canonical(current)
          )
            fields.push('allowed_claims');
          if (existing.status !== status) fields.push('status');
        }
        const change: ManifestChange = {
          kind: 'system',
          key,
          action: !existing ? 'create' : fields.length ? 'update' : 'unchanged',
          fields,
        };
        changes.push(change);
        systems.push({ change, input, status: status as Status, before: existing?.status });
      } catch (error) {
        for (const p of problemsOf(error)) reject(p.field, p.message);
      }
    }
    return { changes, rejected, agencies, systems };
  };

  return {
    /** Imports (or with dryRun only plans) a manifest; platform administrators (and the CLI). */
    async import(
      p: Principal,
      text: string,
      format: ManifestFormat,
      o: { dryRun: boolean },
    ): Promise<ManifestResult> {
      guard.platform(p, !o.dryRun);
      const planned = await plan(text, format);
      const result: ManifestResult = {
        dryRun: o.dryRun,
        applied: false,
        changes: planned.changes,
        rejected: planned.rejected,
        secrets: {},
      };
      if (o.dryRun || planned.rejected.length) return result;
      const ctx = { ip: p.ip, via: 'manifest' };
      for (const a of planned.agencies)
        if (a.change.action !== 'unchanged') await admins.putAgency(p, a.input);
      for (const s of planned.systems) {
        if (s.change.action === 'create') {
          const created = await clients.addClient(s.input, p.actor, {
            ...ctx,
            status: s.status === 'draft' ? 'draft' : 'active',
          });
          if (created.clientSecret) result.secrets[created.clientId] = created.clientSecret;
          if (s.status === 'disabled')
            await clients.setStatus(created.clientId, 'disabled', p.actor, ctx);
        } else if (s.change.action === 'update') {
          if (s.change.fields.some((f) => f !== 'status')) {
            const updated = await clients.updateClient(s.change.key, s.input, p.actor, ctx);
            if (updated.clientSecret) result.secrets[s.change.key] = updated.clientSecret;
          }
          if (s.change.fields.includes('status') && s.status !== 'draft') {
            await clients.setStatus(s.change.key, s.status, p.actor, ctx);
            if (s.status === 'disabled' && s.before === 'active')
              await onClientDisabled?.(s.change.key, p.actor);
          }
        }
      }
      const count = (action: ManifestChange['action']) =>
        planned.changes.filter((c) => c.action === action).length;
      await audit.record({
        action: 'manifest.imported',
        actor: p.actor,
        ip: p.ip,
        details: {
          format,
          created: count('create'),
          updated: count('update'),
          unchanged: count('unchanged'),
          via: p.via,
        },
      });
      result.applied = true;
      return result;
    },

    /** Every agency and (live, non-first-party) system, in the import format; never secrets. */
    async export(p: Principal, format: ManifestFormat): Promise<string> {
      guard.global(p);
      const doc: ManifestDocument = { agencies: [], systems: [] };
      for (let after: string | undefined; ;) {
        const page = await admins.listAgencies(p, { limit: 200, after });
        doc.agencies.push(
          ...page.items.map((a) => ({
            name: a.name,
            ...(a.nameEn && { name_en: a.nameEn }),
            ...(a.contact && { contact: a.contact }),
          })),
        );
        if (!page.next) break;
        after = page.next;
      }
      for (let after: string | undefined; ;) {
        const rows = await clients.list({ after, limit: 500 });
        for (const r of rows) {
          if (isFirstPartyClient(r.clientId)) continue;
          const { subject_type: _pairwise, ...metadata } = r.metadata;
          const allowances = (await clients.allowances(r.clientId)).map((a) => ({
            claim: a.claim,
            purpose: a.purpose,
            required: a.required,
            retention_days: a.retentionDays,
          }));
          doc.systems.push({
            client_id: r.clientId,
            agency: r.agency,
            status: r.status,
            ...metadata,
            ...(allowances.length && { allowed_claims: allowances }),
          });
        }
        if (rows.length < 500) break;
        after = rows.at(-1)!.clientId;
      }
      return formatManifest(doc, format);
    },
  };
};

export type ManifestService = ReturnType<typeof createManifestService>;
