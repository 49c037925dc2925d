import { describe, expect, it } from 'vitest';
import { formatManifest, parseCsv, parseManifest } from './manifest-format.ts';

describe('manifest format', () => {
  it('parses RFC 4180 CSV: quotes, doubled quotes, commas and line breaks in cells', () => {
    expect(parseCsv('a,b\r\n"x, ""y""","multi\nline"\n\n')).toEqual([
      ['a', 'b'],
      ['x, "y"', 'multi\nline'],
    ]);
    expect(() => parseCsv('a,"open')).toThrow(/quoted cell/);
  });

  it('round-trips agencies and systems through CSV', () => {
    const doc = {
      agencies: [
        { name: '행정안전부', name_en: 'Ministry, of the Interior', contact: 'it@mois.go.kr' },
      ],
      systems: [
        {
          client_id: 'mois-portal',
          agency: '행정안전부',
          client_name: '정부24 "민원"',
          status: 'active',
          redirect_uris: ['https://a.go.kr/cb', 'https://a.go.kr/cb2'],
          backchannel_logout_session_required: true,
          allowed_claims: [
            {
              claim: 'name',
              purpose: { ko: '확인', en: 'Checking' },
              required: true,
              retention_days: 30,
            },
          ],
        },
      ],
    };
    const parsed = parseManifest(formatManifest(doc, 'csv'), 'csv');
    expect(parsed.agencies.map((r) => r.value)).toEqual(doc.agencies);
    expect(parsed.systems.map((r) => r.value)).toEqual(doc.systems);
    expect(parsed.systems[0]!.where).toBe('line 3');
  });

  it('names what it cannot read', () => {
    expect(() => parseManifest('{"systems": {}}', 'json')).toThrow(/systems: must be an array/);
    expect(() => parseManifest('{"clients": []}', 'json')).toThrow(/unknown key\(s\) clients/);
    expect(() => parseManifest('kind,colour\nsystem,blue\n', 'csv')).toThrow(
      /line 1: unknown column\(s\) colour/,
    );
    expect(() => parseManifest('kind,client_id\nrobot,x\n', 'csv')).toThrow(
      /line 2: kind: must be agency or system/,
    );
    expect(() => parseManifest('kind,client_id,allowed_claims\nsystem,x,[oops\n', 'csv')).toThrow(
      /line 2: allowed_claims: is not valid JSON/,
    );
  });
});
