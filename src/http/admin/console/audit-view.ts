// The audit trail as administrators read it: who (a name where known, not an account UUID),
// what (a label per action, from the admin locale tables), and what changed (before -> after for
// each changed field, not only the names of the fields). Pure helpers plus one batched name look-up.
import type { AdminModule, Principal } from '../../../admin/index.ts';
import type { AuditRecord } from '../../../audit/index.ts';
import { MESSAGES } from '../../render/messages.ts';

export type Party = { id: string; name?: string | undefined; filter: string };
export type Change = { field: string; before: string; after: string };
export type AuditRow = {
  id: string;
  at: Date;
  action: string;
  actor: Party;
  subject: Party | undefined;
  ip: string | null;
  changes: Change[];
  facts: { key: string; value: string }[];
  details: Record<string, unknown> | null;
};

const ACTION_PREFIX = 'admin.action.';

/** The actions the console names (one ko/en label each): the action filter's choices, by group. */
export const auditActions = (): { group: string; actions: string[] }[] => {
  const groups = new Map<string, string[]>();
  for (const key of Object.keys(MESSAGES.ko)) {
    if (!key.startsWith(ACTION_PREFIX)) continue;
    const action = key.slice(ACTION_PREFIX.length);
    const group = action.split('.')[0]!;
    groups.set(group, [...(groups.get(group) ?? []), action]);
  }
  return [...groups].map(([group, actions]) => ({ group, actions: actions.sort() }));
};

const MAX_TEXT = 200;
const shown = (value: unknown): string => {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  Boolean(v) && typeof v === 'object' && !Array.isArray(v);

/** Leaves of an object by dotted path (arrays are leaves: compared and shown whole). */
const leaves = (value: unknown, path = '', out = new Map<string, unknown>(), depth = 0) => {
  if (isObject(value) && depth < 6) {
    for (const [k, v] of Object.entries(value))
      leaves(v, path ? `${path}.${k}` : k, out, depth + 1);
  } else if (path) out.set(path, value);
  return out;
};

/**
 * What a record's details say changed: each field whose value differs between `details.before`
 * and `details.after` (a creation lists what was set, a deletion what was removed), and the
 * other details (agency, channel, reason...) as facts.
 */
export const describeDetails = (details: Record<string, unknown> | null) => {
  if (!details) return { changes: [], facts: [] };
  const before = leaves(details.before);
  const after = leaves(details.after);
  const changes: Change[] = [];
  for (const field of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(field);
    const a = after.get(field);
    if (JSON.stringify(b) !== JSON.stringify(a))
      changes.push({ field, before: shown(b), after: shown(a) });
  }
  const facts = Object.entries(details)
    .filter(([k, v]) => k !== 'before' && k !== 'after' && v !== undefined)
    .map(([key, value]) => ({ key, value: shown(value) }));
  return { changes, facts };
};

const ACCOUNT = /^(admin|account):([0-9a-f-]{36})$/i;

/** Records as the console's audit table shows them, with names looked up in one query. */
export const auditRows = async (
  admin: AdminModule,
  p: Principal,
  records: AuditRecord[],
): Promise<AuditRow[]> => {
  const ids = { admins: [] as string[], accounts: [] as string[] };
  for (const r of records)
    for (const party of [r.actor, r.subject]) {
      const m = party ? ACCOUNT.exec(party) : null;
      if (m) (m[1] === 'admin' ? ids.admins : ids.accounts).push(m[2]!);
    }
  const names = await admin.admins.accountNames(p, ids);
  const party = (id: string, field: 'actor' | 'subject'): Party => ({
    id,
    name: names.get(ACCOUNT.exec(id)?.[2] ?? ''),
    filter: `/admin/audit?${new URLSearchParams({ [field]: id })}`,
  });
  return records.map((r) => ({
    id: r.id,
    at: r.occurredAt,
    action: r.action,
    actor: party(r.actor, 'actor'),
    subject: r.subject ? party(r.subject, 'subject') : undefined,
    ip: r.ip,
    ...describeDetails(r.details),
    details: r.details,
  }));
};
