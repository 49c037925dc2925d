import { describe, expect, it } from 'vitest';
import { passkeyLabels, providerName } from './passkey-label.ts';

const day = (d: Date) => d.toISOString().slice(0, 10);
const at = new Date('2026-01-05T03:00:00Z');

describe('passkey labels', () => {
  it('names the provider from the AAGUID in the page language, with the day it was added', () => {
    const keys = [
      { name: 'Passkey (macOS)', aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd', createdAt: at },
      { name: 'Passkey (Android)', aaguid: 'EA9B8D66-4D01-1D21-3CE4-B6B48CB575D4', createdAt: at },
    ];
    expect(passkeyLabels(keys, 'ko', day)).toEqual([
      'iCloud 키체인 · 2026-01-05',
      'Google 비밀번호 관리자 · 2026-01-05',
    ]);
    expect(passkeyLabels(keys, 'en', day)).toEqual([
      'iCloud Keychain · 2026-01-05',
      'Google Password Manager · 2026-01-05',
    ]);
    expect(providerName('53414d53-554e-4700-0000-000000000000', 'ko')).toBe('삼성 패스');
  });

  it("keeps the citizen's own name and tells equal labels apart", () => {
    const unknown = {
      name: 'Passkey (Linux)',
      aaguid: '00000000-0000-0000-0000-000000000000',
      createdAt: at,
    };
    expect(
      passkeyLabels(
        [unknown, unknown, { name: '회사 노트북', aaguid: null, createdAt: at }],
        'ko',
        day,
      ),
    ).toEqual(['패스키 · 2026-01-05', '패스키 · 2026-01-05 (2)', '회사 노트북']);
  });
});
