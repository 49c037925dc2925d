// Append-only audit trail in keyed hash chains. Each record's hash is an HMAC-SHA-256, under a
// key the database never holds (AUDIT_KEYS), of its content and the previous record's hash:
// editing or deleting a row breaks the chain from that row on, and without the key nobody can
// compute the hashes that would mend it (docs/security.md).
import { createHash, createHmac } from 'node:crypto';
import type { Knex } from 'knex';
import { numbered, prepared } from '../store/index.ts';

export type AuditEvent = {
  /** Dotted, past tense: `auth.passkey.verified`, `clients.created`. */
  action: string;
  /** Who did it: `account:<id>`, `admin:<id>`, `cli`, `system`, `client:<id>`, `anonymous`. */
  actor: string;
  subject?: string | undefined;
  ip?: string | undefined;
  details?: Record<string, unknown>;
};

export type AuditRecord = {
  id: string;
  occurredAt: Date;
  action: string;
  actor: string;
  subject: string | null;
  ip: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
  /** Which AUDIT_KEYS key made `hash`. */
  keyId: string | null;
};

/** A row of `audit_events` as a record (also for the admin's audit search, src/admin). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a database row, mapped here
export const auditRecordFromRow = (row: Record<string, any>): AuditRecord => ({
  id: String(row.id),
  occurredAt: new Date(row.occurred_at),
  action: row.action,
  actor: row.actor,
  subject: row.subject,
  ip: row.ip,
  details: row.details,
  prevHash: row.prev_hash,
  hash: row.hash,
  keyId: row.key_id ?? null,
});

/**
 * The chain's keys travel with the database handle (knex userParams, inherited by every
 * transaction), so every appendAudit(trx, ...) in the tree keys its record without being handed
 * the key: wrap the handle once in the composition root. The first key makes new records; any
 * listed key verifies old ones (rotation, like KEY_ENCRYPTION_KEYS). The handle also carries
 * this instance's last-known head of each lane (see appendAudit).
 */
export const withAuditKeys = (knex: Knex, keys: Buffer[]): Knex => {
  if (!keys.length || keys.some((k) => k.length !== 32))
    throw new TypeError('audit keys must be 32 bytes');
  // Each key with its id, computed here once rather than on every append (copies: a caller
  // reusing its buffers cannot change a key under its id).
  const auditKeys: readonly AuditKey[] = keys.map((k) => {
    const key = Buffer.from(k);
    return Object.freeze({ id: auditKeyId(key), key });
  });
  return knex.withUserParams({ ...knex.userParams, auditKeys, auditHeads: new Map() });
};

type AuditKey = { id: string; key: Buffer };
const auditKeyId = (key: Buffer) =>
  createHash('sha256').update('one-id audit key').update(key).digest('base64url').slice(0, 8);
const auditKeysOf = (knex: Knex | Knex.Transaction): readonly AuditKey[] => {
  const keys = (knex.userParams as { auditKeys?: readonly AuditKey[] }).auditKeys;
  if (!keys) throw new TypeError('the audit trail needs a database handle from withAuditKeys');
  return keys;
};
const headsOf = (knex: Knex | Knex.Transaction): Map<number, string> =>
  (knex.userParams as { auditHeads?: Map<number, string> }).auditHeads ?? new Map();

const GENESIS = 'genesis';
/**
 * The trail is AUDIT_LANES hash chains: an event goes to the lane of its subject (else its actor),
 * so one citizen's events stay in order in one chain, and sign-ins of different citizens do not
 * queue behind one head (one chain measured at ~65% of all PostgreSQL waits at 50 concurrent
 * sign-ins; docs/performance.md). Records written before lanes existed are lane 0. The lanes'
 * head rows (audit_heads) are seeded for exactly these lanes.
 */
export const AUDIT_LANES = 16;

/** FNV-1a of the key, modulo the lane count: stable across instances and versions. */
export const auditLane = (key: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i += 1) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % AUDIT_LANES;
};

// jsonb does not keep key order, so the hash covers a canonical form (keys sorted, recursively).
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(
      ([, v]) => v !== undefined,
    );
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
};

const hashRecord = (
  { id: keyId, key }: AuditKey,
  prevHash: string,
  r: {
    occurredAt: Date;
    action: string;
    actor: string;
    subject: string | null;
    ip: string | null;
    details: Record<string, unknown>;
  },
) =>
  createHmac('sha256', key)
    .update(
      canonical([
        keyId,
        prevHash,
        r.occurredAt.toISOString(),
        r.action,
        r.actor,
        r.subject,
        r.ip,
        r.details,
      ]),
    )
    .digest('hex');

/**
 * A write that must commit only with its audit record, in the same statement: a data-modifying
 * SQL statement (no trailing semicolon) with `?` bindings whose WHERE includes `EXISTS (SELECT 1
 * FROM audit_head)`, so it runs only when the append does (and is not applied twice by a retry).
 * The record is appended only if the write returned at least one row.
 */
export type AuditedWrite = { name: string; sql: string; bindings: readonly unknown[] };

// One statement per append (issue 16), a compare-and-swap on the lane's head row: the head is
// locked (FOR UPDATE) only if it still holds the hash this record was computed over; the trigger
// of migration 20261207100000 then moves the head to the new hash as the row goes in. When the
// head moved (another instance appended, or a rolled-back append left this instance's cached head
// wrong), nothing is written and the statement returns the head it sees: the record is hashed
// again over that and retried. In READ COMMITTED a FOR UPDATE that waited on another writer
// re-checks the condition against the committed row, so two writers can never extend the same
// head, and the head row's lock is held to commit, as the advisory lock was.
const APPEND_SQL = (write: string | undefined) =>
  numbered(`
  WITH audit_head AS (
    SELECT chain FROM audit_heads WHERE chain = ? AND hash = ? FOR UPDATE
  )${write ? `, audited_write AS (${write})` : ''}, appended AS (
    INSERT INTO audit_events
      (occurred_at, action, actor, subject, ip, details, prev_hash, hash, key_id, chain)
    SELECT ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, chain FROM audit_head
    ${write ? 'WHERE EXISTS (SELECT 1 FROM audited_write)' : ''}
    RETURNING id
  )
  SELECT (SELECT count(*) FROM audit_head)::int AS locked,
    (SELECT count(*) FROM appended)::int AS appended,
    (SELECT hash FROM audit_heads WHERE chain = ?) AS head`);
const APPEND = APPEND_SQL(undefined);
const appendWith = new Map<string, string>();

// A lane could only keep moving under an append this long if it were written without pause by
// others; far beyond any real contention (each retry waits for the winner's commit).
const MAX_ATTEMPTS = 100;

/**
 * Appends `event` (with `write`, if given, in the same statement). Returns false only when the
 * write matched no row (then neither is applied). One round trip when this instance's cached
 * head of the lane is current; otherwise one more per move of the head.
 */
export const appendAuditWith = async (
  db: Knex | Knex.Transaction,
  event: AuditEvent,
  write?: AuditedWrite,
): Promise<boolean> => {
  const [key] = auditKeysOf(db) as [AuditKey];
  const heads = headsOf(db);
  const chain = auditLane(event.subject ?? event.actor);
  // Millisecond precision: what JavaScript dates round-trip, so verification recomputes the same hash.
  const occurredAt = new Date(Math.floor(Date.now()));
  const record = {
    occurredAt,
    action: event.action,
    actor: event.actor,
    subject: event.subject ?? null,
    ip: event.ip ?? null,
    details: event.details ?? {},
  };
  const details = JSON.stringify(record.details);
  let prevHash = heads.get(chain) ?? GENESIS;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const hash = hashRecord(key, prevHash, record);
    let text = APPEND;
    if (write) {
      text = appendWith.get(write.name) ?? APPEND_SQL(write.sql);
      appendWith.set(write.name, text);
    }
    const [row] = await prepared<{ locked: number; appended: number; head: string | null }>(
      db,
      write ? `audit_append_${write.name}` : 'audit_append',
      text,
      [
        chain,
        prevHash,
        ...(write?.bindings ?? []),
        occurredAt,
        record.action,
        record.actor,
        record.subject,
        record.ip,
        details,
        prevHash,
        hash,
        key.id,
        chain,
      ],
    );
    if (!row) break;
    if (row.locked) {
      if (row.appended) heads.set(chain, hash);
      return row.appended > 0;
    }
    // A head this instance had not seen; if the statement's snapshot predates the move it saw,
    // the next attempt (a new snapshot) returns the newer one.
    if (row.head === null) throw new Error(`audit lane ${chain} has no head row`);
    prevHash = row.head;
    heads.set(chain, prevHash);
  }
  throw new Error(`audit lane ${chain}: could not append after ${MAX_ATTEMPTS} attempts`);
};

/**
 * Appends an event inside the caller's transaction, so the audit record commits (or not)
 * together with the change it describes.
 */
export const appendAudit = async (trx: Knex.Transaction, event: AuditEvent): Promise<void> => {
  await appendAuditWith(trx, event);
};

/** Each lane's newest record when the trail was verified; kept outside the database. */
export type AuditCheckpoint = {
  count: number;
  lanes: Record<string, { id: string; hash: string }>;
};
export type AuditVerification =
  | { ok: true; count: number; checkpoint: AuditCheckpoint }
  /**
   * `missing`: the record is a checkpoint's head that is no longer in the trail; `unknownKey`:
   * the record names a key AUDIT_KEYS does not list (removed too early, or a forged key id).
   */
  | { ok: false; count: number; brokenAt: string; missing?: true; unknownKey?: string };

export const createAuditService = ({ knex }: { knex: Knex }) => ({
  /** Records an event on its own (one statement, which commits by itself). */
  record: async (event: AuditEvent): Promise<void> => {
    await appendAuditWith(knex, event);
  },

  /**
   * Walks every lane's chain in one pass by id; returns the first record (by id) whose hash does
   * not match, and, when intact, each lane's head as a checkpoint. The chain alone cannot show
   * that a lane's newest records were deleted; a checkpoint kept outside the database can: every
   * head it names must still be there, with the same hash.
   */
  async verify(options: { checkpoint?: AuditCheckpoint } = {}): Promise<AuditVerification> {
    const keys = new Map(auditKeysOf(knex).map((k) => [k.id, k]));
    const lanes = new Map<number, { id: string; hash: string }>();
    const expected = new Map(
      Object.entries(options.checkpoint?.lanes ?? {}).map(([lane, head]) => [
        head.id,
        { lane: Number(lane), hash: head.hash },
      ]),
    );
    let count = 0;
    let afterId = '0';
    for (;;) {
      const rows = await knex('audit_events').where('id', '>', afterId).orderBy('id').limit(1000);
      for (const row of rows) {
        const id = String(row.id);
        const chain = Number(row.chain ?? 0);
        const prevHash = lanes.get(chain)?.hash ?? GENESIS;
        // A record without a listed key (unkeyed, or keyed with a removed key) cannot be trusted.
        const key = keys.get(row.key_id);
        if (!key) return { ok: false, count, brokenAt: id, unknownKey: String(row.key_id) };
        if (
          row.prev_hash !== prevHash ||
          row.hash !== hashRecord(key, prevHash, auditRecordFromRow(row))
        )
          return { ok: false, count, brokenAt: id };
        const saved = expected.get(id);
        if (saved && (saved.lane !== chain || saved.hash !== row.hash))
          return { ok: false, count, brokenAt: id };
        expected.delete(id);
        lanes.set(chain, { id, hash: row.hash });
        count += 1;
        afterId = id;
      }
      if (rows.length < 1000) break;
    }
    const [missing] = expected.keys();
    if (missing !== undefined) return { ok: false, count, brokenAt: missing, missing: true };
    return {
      ok: true,
      count,
      checkpoint: {
        count,
        lanes: Object.fromEntries([...lanes].map(([lane, head]) => [String(lane), head])),
      },
    };
  },

  /**
   * Newest first; `involving` matches events about it or done by it (a citizen's own consent
   * decisions), and `alsoAbout` events about those subjects too (e.g. their consents' expiry).
   */
  async list(
    options: {
      subject?: string;
      involving?: string;
      alsoAbout?: string[];
      action?: string;
      limit?: number;
    } = {},
  ): Promise<AuditRecord[]> {
    const query = knex('audit_events')
      .orderBy('id', 'desc')
      .limit(options.limit ?? 50);
    if (options.subject) query.where('subject', options.subject);
    const about = options.alsoAbout ?? [];
    if (options.involving)
      query.where((q) =>
        q
          .where('subject', options.involving)
          .orWhere('actor', options.involving)
          .orWhereIn('subject', about),
      );
    if (options.action) query.where('action', options.action);
    return (await query).map(auditRecordFromRow);
  },
});

export type AuditService = ReturnType<typeof createAuditService>;
