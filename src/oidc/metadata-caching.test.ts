import { describe, expect, it } from 'vitest';
import {
  DISCOVERY_MAX_AGE_SECONDS,
  JWKS_MAX_AGE_CAP_SECONDS,
  jwksMaxAgeSeconds,
  metadataCacheControl,
} from './metadata-caching.ts';

describe('JWKS max-age', () => {
  it('expires a set fetched before the last instance reloads before the new key signs', () => {
    for (const reloadSeconds of [1, 10, 30, 120])
      for (const activationDelaySeconds of [0, 1, 30, 60, 61, 300, 900, 1230, 3600, 7 * 86400]) {
        const maxAge = jwksMaxAgeSeconds({ activationDelaySeconds, reloadSeconds });
        expect(maxAge).toBeGreaterThanOrEqual(0);
        expect(maxAge).toBeLessThanOrEqual(JWKS_MAX_AGE_CAP_SECONDS);
        // Twice: a proxy's copy cached again by a client that ignores Age.
        if (maxAge > 0)
          expect(reloadSeconds + 2 * maxAge).toBeLessThanOrEqual(activationDelaySeconds);
      }
  });

  it('follows the activation delay up to the cap', () => {
    expect(jwksMaxAgeSeconds({ activationDelaySeconds: 900, reloadSeconds: 30 })).toBe(435);
    expect(jwksMaxAgeSeconds({ activationDelaySeconds: 300, reloadSeconds: 30 })).toBe(135);
    expect(jwksMaxAgeSeconds({ activationDelaySeconds: 86400, reloadSeconds: 30 })).toBe(
      JWKS_MAX_AGE_CAP_SECONDS,
    );
    expect(jwksMaxAgeSeconds({ activationDelaySeconds: 20, reloadSeconds: 30 })).toBe(0);
  });
});

describe('metadata Cache-Control', () => {
  it('lets caches keep discovery an hour and the JWKS its max-age, or revalidate each time', () => {
    expect(metadataCacheControl({ activationDelaySeconds: 900, reloadSeconds: 30 })).toEqual({
      discovery: `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`,
      jwks: 'public, max-age=435',
    });
    expect(metadataCacheControl({ activationDelaySeconds: 0, reloadSeconds: 30 }).jwks).toBe(
      'public, no-cache',
    );
  });
});
