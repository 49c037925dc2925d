// The consent page's items in the order a person expects.
import { describe, expect, it } from 'vitest';
import { clientView, inNaturalOrder } from './interaction-view.ts';

describe('inNaturalOrder', () => {
  it('puts required items first, each group name first, then birthdate, contact, the rest', () => {
    const items = [
      { claim: 'vehicle_count', required: true },
      { claim: 'email', required: true },
      { claim: 'address', required: false },
      { claim: 'name', required: true },
      { claim: 'phone_number', required: false },
      { claim: 'birthdate', required: true },
    ];
    expect(inNaturalOrder(items).map((i) => i.claim)).toEqual([
      'name',
      'birthdate',
      'email',
      'vehicle_count',
      'phone_number',
      'address',
    ]);
  });
});

describe('clientView', () => {
  const client = { clientId: 'rp-1', clientName: '복지 서비스' };
  const names = {
    name: { ko: '복지 서비스', en: 'Welfare service', enIsKo: false },
    agency: { ko: '보건복지부', en: 'Ministry of Health and Welfare', enIsKo: false },
  };

  it('names the system and agency in the page language when registered', () => {
    expect(clientView(client, '보건복지부', 'en', names)).toMatchObject({
      name: 'Welfare service',
      agency: 'Ministry of Health and Welfare',
    });
    expect(clientView(client, '보건복지부', 'ko', names)).toMatchObject({
      name: '복지 서비스',
      agency: '보건복지부',
    });
    expect(clientView(client, '보건복지부', 'en')).toMatchObject({
      name: '복지 서비스',
      agency: '보건복지부',
    });
  });
});
