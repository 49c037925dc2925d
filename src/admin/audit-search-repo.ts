// Reading the audit trail (it is written only by src/audit): filters by action, actor, subject,
// agency and time, newest first, keyset-paginated by id. Each filter has an (x, id) index
// (store/migrations/20261125130000), so a page is an index walk even over millions of records.
import type { Knex } from 'knex';
import { auditRecordFromRow, type AuditRecord } from '../audit/index.ts';

export type AuditFilter = {
  /** Exact, or a prefix ending in `*` (`clients.*`). */
  action?: string | undefined;
  /** Exact, or a prefix ending in `*` (`cli*`: every CLI operator, `admin:*`: every administrator). */
  actor?: string | undefined;
  subject?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** Only records about these agencies (`details.agency`); undefined: all. */
  agencies?: string[] | undefined;
};

/** `column` equal to `value`, or starting with it when it ends in `*` (`%` and `_` taken literally). */
const exactOrPrefix = (query: Knex.QueryBuilder, column: string, value: string | undefined) => {
  if (value?.endsWith('*'))
    query.where(column, 'like', `${value.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`);
  else if (value) query.where(column, value);
};

/** Records older than `before` (an id), newest first. */
export const searchAudit = async (
  db: Knex,
  f: AuditFilter & { before?: string | undefined; limit: number },
): Promise<AuditRecord[]> => {
  const query = db('audit_events').orderBy('id', 'desc').limit(f.limit);
  if (f.before) query.where('id', '<', f.before);
  exactOrPrefix(query, 'action', f.action);
  exactOrPrefix(query, 'actor', f.actor);
  if (f.subject) query.where('subject', f.subject);
  if (f.from) query.where('occurred_at', '>=', f.from);
  if (f.to) query.where('occurred_at', '<', f.to);
  if (f.agencies) query.whereRaw("details->>'agency' = ANY(?::text[])", [f.agencies]);
  return (await query).map(auditRecordFromRow);
};
