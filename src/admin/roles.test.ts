import { describe, expect, it } from 'vitest';
import {
  canRead,
  canWrite,
  createGuard,
  readableAgencies,
  writableAgencies,
  type Principal,
} from './roles.ts';

const at = (seconds: number) => ({ now: () => new Date(seconds * 1000) });
const principal = (grants: Principal['grants'], extra: Partial<Principal> = {}): Principal => ({
  actor: 'admin:x',
  grants,
  via: 'api',
  acr: 'urn:one-id:loa:substantial',
  ...extra,
});

describe('administrator roles', () => {
  it('scopes agency administrators and agency auditors to their agencies', () => {
    const agency = principal([
      { role: 'agency', agency: 'A' },
      { role: 'auditor', agency: 'B' },
    ]);
    expect(readableAgencies(agency)).toEqual(['A', 'B']);
    expect(writableAgencies(agency)).toEqual(['A']);
    expect([canRead(agency, 'B'), canWrite(agency, 'B'), canRead(agency, 'C')]).toEqual([
      true,
      false,
      false,
    ]);
    expect(readableAgencies(principal([{ role: 'auditor', agency: null }]))).toBeUndefined();
    expect(writableAgencies(principal([{ role: 'auditor', agency: null }]))).toEqual([]);
    expect(writableAgencies(principal([{ role: 'platform', agency: null }]))).toBeUndefined();
  });

  it('needs admin:write, a writing role and a recent sign-in for changes', () => {
    const guard = createGuard({ clock: at(10_000), reauthSeconds: 300 });
    const fresh = principal([{ role: 'agency', agency: 'A' }], {
      authTime: 9_800,
      scopes: new Set(['admin:read', 'admin:write']),
    });
    expect(() => guard.change(fresh)).not.toThrow();
    expect(() => guard.change({ ...fresh, authTime: 9_699 })).toThrow(
      expect.objectContaining({ code: 'ERR_REAUTH_REQUIRED', status: 401 }),
    );
    expect(() => guard.change({ ...fresh, scopes: new Set(['admin:read']) })).toThrow(
      expect.objectContaining({ code: 'ERR_INSUFFICIENT_SCOPE', status: 403 }),
    );
    expect(() => guard.read({ ...fresh, scopes: new Set(['openid']) })).toThrow(
      expect.objectContaining({ code: 'ERR_INSUFFICIENT_SCOPE' }),
    );
    expect(() => guard.change(principal([{ role: 'auditor', agency: null }]))).toThrow(
      expect.objectContaining({ code: 'ERR_ADMIN_FORBIDDEN' }),
    );
    expect(() => guard.read(principal([]))).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_ADMIN' }),
    );
    expect(() => guard.platform(fresh)).toThrow(
      expect.objectContaining({ code: 'ERR_ADMIN_FORBIDDEN' }),
    );
    // The CLI (no authTime, no scopes) is the operator at the database.
    expect(() =>
      guard.platform(principal([{ role: 'platform', agency: null }], { via: 'cli' })),
    ).not.toThrow();
  });

  it('needs a sign-in at the minimum level (ADMIN_MIN_ACR) for every use, except the CLI', () => {
    const platform = [{ role: 'platform' as const, agency: null }];
    const guard = createGuard({ clock: at(10_000), reauthSeconds: 300 });
    expect(() => guard.read(principal(platform))).not.toThrow();
    for (const acr of ['urn:one-id:loa:low', undefined, 'urn:other'])
      expect(() => guard.read(principal(platform, { acr }))).toThrow(
        expect.objectContaining({ code: 'ERR_STEP_UP_REQUIRED', status: 401 }),
      );
    const strict = createGuard({
      clock: at(10_000),
      reauthSeconds: 300,
      minAcr: 'urn:one-id:loa:high',
    });
    expect(() => strict.read(principal(platform))).toThrow(
      expect.objectContaining({ code: 'ERR_STEP_UP_REQUIRED' }),
    );
    expect(() => strict.read(principal(platform, { acr: 'urn:one-id:loa:high' }))).not.toThrow();
    expect(() =>
      strict.platform(principal(platform, { via: 'cli', acr: undefined })),
    ).not.toThrow();
  });
});
