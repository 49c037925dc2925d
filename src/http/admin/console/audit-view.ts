// The audit trail as administrators read it: who (a name where known, not an account UUID or a
// bare client id), what (a label per action, from the admin locale tables), and what changed
// (before -> after for each changed field; a creation's values as set, a deletion's as removed).
// Pure helpers plus one batched look-up per kind of name. Only the presentation: the records
// themselves (hash-chained) are shown whole under "raw record".
import { readableAgencies, type AdminModule, type Principal } from '../../../admin/index.ts';
import type { AuditRecord } from '../../../audit/index.ts';
import type { SystemNames } from '../../../clients/index.ts';
import type { UpstreamService } from '../../../federation/index.ts';
import { MESSAGES, type Lang } from '../../render/messages.ts';

/**
 * Who or what a record names: `name` where known (per language), `ref` the id shown beside a
 * name that does not identify alone (a system: "민원포털 (minwon-portal)"), else the raw `id`.
 */
export type Party = {
  id: string;
  name?: Record<Lang, string> | undefined;
  ref?: string | undefined;
  filter: string;
};
export type Change = { field: string; before: string; after: string };
/** A field's value as a creation set it or a deletion removed it. */
export type FieldValue = { field: string; value: string };
export type AuditRow = {
  id: string;
  at: Date;
  action: string;
  actor: Party;
  subject: Party | undefined;
  ip: string | null;
  changes: Change[];
  set: FieldValue[];
  removed: FieldValue[];
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
 * What a record's details say changed. An update (`details.before` and `details.after`): each
 * field whose value differs, before and after. A creation (only `after`): the values it set; a
 * deletion (only `before`): the values it removed, as there is no other side to compare with.
 * The other details (agency, channel, reason...) as facts.
 */
export const describeDetails = (details: Record<string, unknown> | null) => {
  const none = { changes: [] as Change[], set: [] as FieldValue[], removed: [] as FieldValue[] };
  if (!details) return { ...none, facts: [] };
  const before = leaves(details.before);
  const after = leaves(details.after);
  const values = (fields: Map<string, unknown>) =>
    [...fields].map(([field, value]) => ({ field, value: shown(value) }));
  const described = { ...none };
  if (!isObject(details.before)) described.set = values(after);
  else if (!isObject(details.after)) described.removed = values(before);
  else
    for (const field of new Set([...before.keys(), ...after.keys()])) {
      const b = before.get(field);
      const a = after.get(field);
      if (JSON.stringify(b) !== JSON.stringify(a))
        described.changes.push({ field, before: shown(b), after: shown(a) });
    }
  const facts = Object.entries(details)
    .filter(([k, v]) => k !== 'before' && k !== 'after' && v !== undefined)
    .map(([key, value]) => ({ key, value: shown(value) }));
  return { ...described, facts };
};

const ACCOUNT = /^(admin|account):([0-9a-f-]{36})$/i;
const CLIENT = /^client:(.+)$/;
const UPSTREAM = /^upstream:(.+)$/;

export type AuditNameSources = {
  admin: AdminModule;
  /** Systems' names in Korean and English with their agency, in one query (the directory's). */
  systemNames?: ((clientIds: readonly string[]) => Promise<Map<string, SystemNames>>) | undefined;
  upstreams?: Pick<UpstreamService, 'list'> | undefined;
};

const bothLangs = (name: string | undefined) => (name ? { ko: name, en: name } : undefined);

/**
 * Records as the console's audit table shows them, with names looked up once per page: people
 * (one query), systems (one query; an agency's administrators see only their agencies' names)
 * and upstream providers (one list, only when the page names one). Unknown ids stay as they are.
 */
export const auditRows = async (
  sources: AuditNameSources,
  p: Principal,
  records: AuditRecord[],
): Promise<AuditRow[]> => {
  const parties = records.flatMap((r) => (r.subject ? [r.actor, r.subject] : [r.actor]));
  const ids = { admins: [] as string[], accounts: [] as string[] };
  const clientIds = new Set<string>();
  for (const party of parties) {
    const m = ACCOUNT.exec(party);
    if (m) (m[1] === 'admin' ? ids.admins : ids.accounts).push(m[2]!);
    const client = CLIENT.exec(party)?.[1];
    if (client) clientIds.add(client);
  }
  const wantsUpstreams = parties.some((party) => UPSTREAM.test(party));
  const agencies = readableAgencies(p);
  const [people, systems, upstreams] = await Promise.all([
    sources.admin.admins.accountNames(p, ids),
    clientIds.size && sources.systemNames ? sources.systemNames([...clientIds]) : new Map(),
    wantsUpstreams && sources.upstreams ? sources.upstreams.list() : [],
  ]);
  const named = (id: string): Pick<Party, 'name' | 'ref'> => {
    const account = ACCOUNT.exec(id)?.[2];
    if (account) return { name: bothLangs(people.get(account)) };
    const client = CLIENT.exec(id)?.[1];
    const system = client ? systems.get(client) : undefined;
    if (client && system && (!agencies || agencies.includes(system.agency.ko)))
      return { name: { ko: system.name.ko, en: system.name.en }, ref: client };
    const upstream = UPSTREAM.exec(id)?.[1];
    const provider = upstream ? upstreams.find((u) => u.id === upstream) : undefined;
    if (upstream && provider) return { name: provider.displayName, ref: upstream };
    return {};
  };
  const party = (id: string, field: 'actor' | 'subject'): Party => ({
    id,
    ...named(id),
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
