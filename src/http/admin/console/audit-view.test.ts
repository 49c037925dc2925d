// What an audit record's details say changed: before -> after per changed field (a creation's
// values as set, a deletion's as removed), other details as facts; and who and what a record
// names: people, systems and providers by name, looked up once per page.
import { describe, expect, it, vi } from 'vitest';
import type { AdminModule, Principal } from '../../../admin/index.ts';
import type { AuditRecord } from '../../../audit/index.ts';
import type { SystemNames } from '../../../clients/index.ts';
import type { UpstreamView } from '../../../federation/index.ts';
import { auditActions, auditRows, describeDetails } from './audit-view.ts';

describe('describeDetails', () => {
  it('lists each changed field with its value before and after, nested fields by path', () => {
    expect(
      describeDetails({
        agency: '국세청',
        via: 'console',
        before: { status: 'draft', metadata: { client_name: '홈택스', scope: 'openid' } },
        after: { status: 'active', metadata: { client_name: '홈택스', scope: 'openid profile' } },
      }),
    ).toEqual({
      changes: [
        { field: 'status', before: 'draft', after: 'active' },
        { field: 'metadata.scope', before: 'openid', after: 'openid profile' },
      ],
      set: [],
      removed: [],
      facts: [
        { key: 'agency', value: '국세청' },
        { key: 'via', value: 'console' },
      ],
    });
  });

  it('a creation shows the values it set, a deletion those it removed, not "(none) ->" each', () => {
    const created = describeDetails({
      agency: '행정안전부',
      after: { client_name: '민원포털', uris: ['https://a'], metadata: { scope: 'openid' } },
    });
    expect(created.set).toEqual([
      { field: 'client_name', value: '민원포털' },
      { field: 'uris', value: '["https://a"]' },
      { field: 'metadata.scope', value: 'openid' },
    ]);
    expect(created.changes).toEqual([]);
    expect(created.removed).toEqual([]);
    const deleted = describeDetails({ before: { status: 'active', contact: 'x@y' } });
    expect(deleted.removed).toEqual([
      { field: 'status', value: 'active' },
      { field: 'contact', value: 'x@y' },
    ]);
    expect(deleted.changes).toEqual([]);
    expect(deleted.set).toEqual([]);
  });

  it('an update lists only real changes (a field new in it as well); arrays compare whole', () => {
    expect(describeDetails({ before: { a: 1 }, after: { a: 1, b: 'x' } })).toMatchObject({
      changes: [{ field: 'b', before: '', after: 'x' }],
      set: [],
      removed: [],
    });
    expect(describeDetails({ before: { a: [1, 2] }, after: { a: [1, 2] } }).changes).toEqual([]);
  });

  it('shortens long values and survives records without details', () => {
    const long = 'x'.repeat(500);
    expect(describeDetails({ after: { note: long } }).set[0]!.value).toHaveLength(200);
    expect(describeDetails({ before: {}, after: { note: long } }).changes[0]!.after).toHaveLength(
      200,
    );
    expect(describeDetails(null)).toEqual({ changes: [], set: [], removed: [], facts: [] });
  });
});

describe('auditActions', () => {
  it('groups the labelled actions by their first segment, for the filter', () => {
    const groups = auditActions();
    expect(groups.find((g) => g.group === 'clients')?.actions).toContain('clients.review.returned');
    expect(groups.every((g) => g.actions.every((a) => a.startsWith(`${g.group}.`)))).toBe(true);
  });
});

describe('auditRows', () => {
  const record = (n: number, actor: string, subject: string | null): AuditRecord => ({
    id: String(n),
    occurredAt: new Date(0),
    action: 'clients.updated',
    actor,
    subject,
    ip: null,
    details: {},
    prevHash: '',
    hash: '',
    keyId: null,
  });
  const ADMIN_ID = '11111111-2222-3333-4444-555555555555';
  const admin = {
    admins: { accountNames: async () => new Map([[ADMIN_ID, '김관리']]) },
  } as unknown as AdminModule;
  const system = (ko: string, en: string, agency: string): SystemNames => ({
    name: { ko, en, enIsKo: false },
    agency: { ko: agency, en: agency, enIsKo: true },
  });
  const platform: Principal = {
    actor: 'cli',
    grants: [{ role: 'platform', agency: null }],
    via: 'cli',
  };
  const records = [
    record(1, `admin:${ADMIN_ID}`, 'client:minwon'),
    record(2, 'client:minwon', 'client:gone'),
    record(3, 'cli', 'client:other-agency'),
    record(4, 'cli', 'upstream:mid'),
    record(5, 'cli', 'dcr-token:abc'),
  ];
  const sources = () => ({
    admin,
    systemNames: vi.fn(
      async (ids: readonly string[]) =>
        new Map(
          [
            ['minwon', system('민원포털', 'Civil Petitions', '행정안전부')],
            ['other-agency', system('홈택스', 'Hometax', '국세청')],
          ].filter(([id]) => ids.includes(id as string)) as [string, SystemNames][],
        ),
    ),
    upstreams: {
      list: vi.fn(async () => [
        { id: 'mid', displayName: { ko: '모바일 신분증', en: 'Mobile ID' } } as UpstreamView,
      ]),
    },
  });

  it('names systems (with their client id) and providers, in one look-up per page', async () => {
    const s = sources();
    const rows = await auditRows(s, platform, records);
    expect(s.systemNames).toHaveBeenCalledTimes(1);
    expect([...s.systemNames.mock.calls[0]![0]].sort()).toEqual(['gone', 'minwon', 'other-agency']);
    expect(s.upstreams.list).toHaveBeenCalledTimes(1);
    expect(rows[0]!.actor).toMatchObject({ name: { ko: '김관리', en: '김관리' } });
    expect(rows[0]!.subject).toMatchObject({
      id: 'client:minwon',
      name: { ko: '민원포털', en: 'Civil Petitions' },
      ref: 'minwon',
      filter: '/admin/audit?subject=client%3Aminwon',
    });
    expect(rows[1]!.actor).toMatchObject({ name: { ko: '민원포털' }, ref: 'minwon' });
    // An unknown (or hard-deleted) system, or an id of no named kind: the id as recorded.
    expect(rows[1]!.subject).toEqual({ id: 'client:gone', filter: expect.any(String) });
    expect(rows[3]!.subject).toMatchObject({ name: { ko: '모바일 신분증' }, ref: 'mid' });
    expect(rows[4]!.subject).toEqual({ id: 'dcr-token:abc', filter: expect.any(String) });
  });

  it("an agency's administrator sees only its own agency's systems by name", async () => {
    const agency: Principal = {
      actor: `admin:${ADMIN_ID}`,
      grants: [{ role: 'agency', agency: '행정안전부' }],
      via: 'console',
    };
    const rows = await auditRows(sources(), agency, records);
    expect(rows[0]!.subject!.name?.ko).toBe('민원포털');
    expect(rows[2]!.subject).toEqual({ id: 'client:other-agency', filter: expect.any(String) });
  });

  it('looks nothing up when the page names no system or provider', async () => {
    const s = sources();
    await auditRows(s, platform, [record(1, 'cli', 'agency:국세청')]);
    expect(s.systemNames).not.toHaveBeenCalled();
    expect(s.upstreams.list).not.toHaveBeenCalled();
  });
});
