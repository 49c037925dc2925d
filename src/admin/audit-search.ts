// Searching and exporting the audit trail for administrators: platform administrators and
// unscoped auditors see every record; agency administrators and agency auditors only the
// records about their agencies. Export streams in keyset batches (JSON lines or CSV).
import type { Knex } from 'knex';
import type { AuditRecord, AuditService } from '../audit/index.ts';
import { AppError } from '../shared/index.ts';
import { searchAudit, type AuditFilter } from './audit-search-repo.ts';
import { MAX_LIMIT, toPage, type Page, type PageRequest } from './pagination.ts';
import { readableAgencies, type Guard, type Principal } from './roles.ts';

export type AuditQuery = Omit<AuditFilter, 'agencies' | 'from' | 'to'> & {
  agency?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
};

const bad = (field: string, message: string) =>
  new AppError('ERR_BAD_PARAMETER', `${field}: ${message}`, { details: { field } });

const date = (field: string, value: string | undefined) => {
  if (!value) return undefined;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw bad(field, 'must be an ISO 8601 date or time');
  return parsed;
};

const text = (field: string, value: string | undefined) => {
  if (value !== undefined && value.length > 300) throw bad(field, 'is too long');
  return value || undefined;
};

export const AUDIT_CSV_COLUMNS = [
  'id',
  'occurred_at',
  'action',
  'actor',
  'subject',
  'ip',
  'details',
  'prev_hash',
  'hash',
] as const;

export const auditJson = (r: AuditRecord) => ({
  id: r.id,
  occurred_at: r.occurredAt.toISOString(),
  action: r.action,
  actor: r.actor,
  subject: r.subject,
  ip: r.ip,
  details: r.details,
  prev_hash: r.prevHash,
  hash: r.hash,
});

const csvCell = (value: unknown) => {
  const s =
    value === null || value === undefined
      ? ''
      : typeof value === 'string'
        ? value
        : JSON.stringify(value);
  // Cells that a spreadsheet would run as a formula are prefixed (CSV injection).
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
};

export const auditCsvLine = (r: AuditRecord) => {
  const j = auditJson(r);
  return `${AUDIT_CSV_COLUMNS.map((c) => csvCell(j[c])).join(',')}\r\n`;
};

export const createAuditSearch = ({
  knex,
  audit,
  guard,
}: {
  knex: Knex;
  audit: AuditService;
  guard: Guard;
}) => {
  const filter = (p: Principal, q: AuditQuery): AuditFilter | undefined => {
    guard.read(p);
    const from = date('from', q.from);
    const to = date('to', q.to);
    let agencies = readableAgencies(p);
    if (q.agency) agencies = !agencies || agencies.includes(q.agency) ? [q.agency] : [];
    if (agencies && !agencies.length) return undefined;
    return {
      action: text('action', q.action),
      actor: text('actor', q.actor),
      subject: text('subject', q.subject),
      from,
      to,
      agencies,
    };
  };

  return {
    async search(p: Principal, q: AuditQuery & PageRequest = {}): Promise<Page<AuditRecord>> {
      const f = filter(p, q);
      if (!f) return { items: [], next: null };
      const limit = Math.min(q.limit ?? 50, MAX_LIMIT);
      const before = q.after ? Buffer.from(q.after, 'base64url').toString('utf8') : undefined;
      if (before !== undefined && !/^\d{1,19}$/.test(before))
        throw bad('after', 'must be a cursor from a previous page');
      const rows = await searchAudit(knex, { ...f, before, limit: limit + 1 });
      return toPage(
        rows,
        limit,
        (r) => r.id,
        (r) => r,
      );
    },

    /** Every matching record, newest first, in batches (constant memory). */
    async *export(p: Principal, q: AuditQuery = {}): AsyncGenerator<AuditRecord> {
      const f = filter(p, q);
      if (!f) return;
      let before: string | undefined;
      for (;;) {
        const rows = await searchAudit(knex, { ...f, before, limit: 1000 });
        yield* rows;
        if (rows.length < 1000) return;
        before = rows.at(-1)!.id;
      }
    },

    /** The hash chain check (`audit verify`): platform administrators and unscoped auditors. */
    async verify(p: Principal) {
      guard.global(p);
      return audit.verify();
    },
  };
};

export type AuditSearch = ReturnType<typeof createAuditSearch>;
