// What an audit record's details say changed: before -> after per changed field, other details as facts.
import { describe, expect, it } from 'vitest';
import { auditActions, describeDetails } from './audit-view.ts';

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
      facts: [
        { key: 'agency', value: '국세청' },
        { key: 'via', value: 'console' },
      ],
    });
  });

  it('a creation lists what was set, a deletion what was removed; arrays compare whole', () => {
    expect(describeDetails({ after: { uris: ['https://a'] } }).changes).toEqual([
      { field: 'uris', before: '', after: '["https://a"]' },
    ]);
    expect(describeDetails({ before: { contact: 'x@y' } }).changes).toEqual([
      { field: 'contact', before: 'x@y', after: '' },
    ]);
    expect(describeDetails({ before: { a: [1, 2] }, after: { a: [1, 2] } }).changes).toEqual([]);
  });

  it('shortens long values and survives records without details', () => {
    const long = 'x'.repeat(500);
    expect(describeDetails({ after: { note: long } }).changes[0]!.after).toHaveLength(200);
    expect(describeDetails(null)).toEqual({ changes: [], facts: [] });
  });
});

describe('auditActions', () => {
  it('groups the labelled actions by their first segment, for the filter', () => {
    const groups = auditActions();
    expect(groups.find((g) => g.group === 'clients')?.actions).toContain('clients.review.returned');
    expect(groups.every((g) => g.actions.every((a) => a.startsWith(`${g.group}.`)))).toBe(true);
  });
});
