// The pure rules of federation: which amr values pass, how upstream claims become attributes,
// and what an upstream registration may claim.
import { describe, expect, it } from 'vitest';
import { federatedAmr } from './amr.ts';
import { canMatch, mapAttributes, normalisePhone } from './attribute-mapping.ts';
import { parseUpstream } from './upstream-metadata.ts';

const base = {
  id: 'gov-app',
  issuer: 'https://id.example.go.kr',
  client_id: 'one-id',
  client_secret: 's3cret',
  acr: 'urn:one-id:loa:substantial',
  display_name: { ko: '정부 앱', en: 'Government app' },
};
const problems = (input: unknown) => {
  try {
    parseUpstream(input);
    return [];
  } catch (error) {
    return (error as { details: { problems: string[] } }).details.problems;
  }
};

describe('amr of a federated sign-in', () => {
  it("is fed plus the upstream's RFC 8176 values only, each once", () => {
    expect(federatedAmr(['pwd', 'otp', 'mfa', 'x-vendor', 'pwd', 42])).toEqual([
      'fed',
      'pwd',
      'otp',
      'mfa',
    ]);
    expect(federatedAmr(undefined)).toEqual(['fed']);
    expect(federatedAmr('pwd')).toEqual(['fed']);
  });
});

describe('attributes from upstream claims', () => {
  it('maps, normalises, and takes email and phone only when verified', () => {
    const mapping = {
      name: 'nm',
      birthdate: 'birthdate',
      phone_number: 'phone_number',
      email: 'email',
    };
    expect(
      mapAttributes(
        {
          nm: ' 김  철수 ',
          birthdate: '1985-03-04',
          phone_number: '+82 10-1234-5678',
          phone_number_verified: true,
          email: 'A@Example.com',
          email_verified: false,
        },
        mapping,
      ),
    ).toEqual({ name: '김 철수', birthdate: '1985-03-04', phone_number: '01012345678' });
    expect(
      mapAttributes(
        { birthdate: '1985-02-30', email: 'a@example.com', email_verified: true },
        mapping,
      ),
    ).toEqual({ email: 'a@example.com' });
    expect(normalisePhone('010 1234 5678')).toBe('01012345678');
    expect(canMatch({ name: 'x', birthdate: '2000-01-01' }, ['name', 'birthdate'])).toBe(true);
    expect(canMatch({ name: 'x' }, ['name', 'birthdate'])).toBe(false);
    expect(canMatch({ name: 'x' }, [])).toBe(false);
  });
});

describe('upstream registration', () => {
  it('accepts a complete registration with defaults', () => {
    expect(parseUpstream(base)).toMatchObject({
      tokenEndpointAuthMethod: 'client_secret_basic',
      scopes: ['openid'],
      matchRule: [],
      enrolment: false,
    });
  });

  it('names every problem', () => {
    expect(
      problems({
        ...base,
        issuer: 'http://id.example.go.kr',
        scopes: ['profile'],
        client_secret: undefined,
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^issuer: must be an https URL/),
        'scopes: must include openid',
        'client_secret: is required with client_secret_basic',
      ]),
    );
    expect(problems({ ...base, unknown: 1 })).toEqual([expect.stringMatching(/unrecognized key/i)]);
  });

  it('lets only substantial or stronger upstreams find or create accounts', () => {
    const low = {
      ...base,
      acr: 'urn:one-id:loa:low',
      claims: { name: 'name', birthdate: 'birthdate' },
    };
    expect(problems({ ...low, match: ['name', 'birthdate'], enrolment: true })).toEqual([
      'match: needs acr urn:one-id:loa:substantial or higher',
      'enrolment: needs acr urn:one-id:loa:substantial or higher',
    ]);
    expect(problems({ ...base, match: ['name'], claims: {} })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^match: must name at least two/),
        'match: name is not in claims (map it to an upstream claim)',
      ]),
    );
    expect(problems({ ...base, enrolment: true })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^enrolment: needs claims.name/)]),
    );
    expect(problems({ ...base, acr: 'urn:one-id:loa:extreme' })).toHaveLength(1);
  });
});
