// CRL revocation check (RFC 5280 5, 6.3): download, verify against the issuer,
// cache in memory until nextUpdate, look the serial number up.
import { CertificateError } from '../certificate-errors.ts';
import { readKeyUsage } from '../validation/certificate-extensions.ts';
import { fetchBytes } from './revocation-fetch.ts';
import { KeyUsageFlags, X509Crl, type X509Certificate } from '../validation/x509.ts';
import { certificateLabel } from '../certificate-label.ts';

/** Tolerated clock difference with the CA for thisUpdate. */
export const REVOCATION_CLOCK_SKEW_MS = 5 * 60_000;
const MAX_CRL_BYTES = 32 * 1024 * 1024;

export interface CrlCheckerDeps {
  fetch: typeof fetch;
  timeoutMs: number;
  now: () => Date;
}

interface CachedCrl {
  crl: X509Crl;
  nextUpdate: Date;
  /** SPKI of the issuer whose signature was verified before caching. */
  issuerKey: Buffer;
}

const unavailable = (url: string, detail: string): CertificateError =>
  new CertificateError('revocation_unavailable', `CRL ${url}: ${detail}`);

const issuerKeyOf = (issuer: X509Certificate): Buffer => Buffer.from(issuer.publicKey.rawData);

export const createCrlChecker = ({ fetch, timeoutMs, now }: CrlCheckerDeps) => {
  const cache = new Map<string, CachedCrl>();
  // Concurrent logins for the same CA share one download.
  const inflight = new Map<string, Promise<X509Crl>>();

  const download = (url: string): Promise<X509Crl> => {
    const pending = inflight.get(url);
    if (pending) return pending;
    const started = fetchBytes(url, { fetch, timeoutMs, maxBytes: MAX_CRL_BYTES })
      .then((body) => {
        try {
          // CAs publish DER (RFC 5280 4.2.1.13); PEM is accepted from mirrors.
          const text = Buffer.from(body.subarray(0, 64)).toString('latin1');
          const crl = new X509Crl(
            text.includes('-----BEGIN')
              ? Buffer.from(body).toString('latin1')
              : new Uint8Array(body),
          );
          void crl.issuer;
          void crl.thisUpdate;
          return crl;
        } catch (cause) {
          throw new CertificateError('revocation_unavailable', `CRL ${url}: not a CRL`, { cause });
        }
      })
      .finally(() => inflight.delete(url));
    inflight.set(url, started);
    return started;
  };

  // Checks a freshly downloaded CRL before it may be cached and used.
  const verify = async (
    crl: X509Crl,
    issuer: X509Certificate,
    url: string,
    at: Date,
  ): Promise<Date> => {
    if (crl.issuer !== issuer.subject)
      throw unavailable(url, `issued by "${crl.issuer}", not "${issuer.subject}"`);
    const keyUsage = readKeyUsage(issuer);
    if (keyUsage !== null && !(keyUsage & KeyUsageFlags.cRLSign))
      throw unavailable(url, 'issuer keyUsage lacks cRLSign');
    const signed = await crl.verify({ publicKey: issuer }).catch(() => false);
    if (!signed) throw unavailable(url, 'signature does not verify with the issuer key');
    // Critical CRL extensions (issuingDistributionPoint, deltaCRLIndicator) mean a partial
    // or delta CRL, which cannot prove a certificate unrevoked on its own (RFC 5280 5.2).
    const critical = crl.extensions.find((ext) => ext.critical);
    if (critical) throw unavailable(url, `unsupported critical CRL extension ${critical.type}`);
    if (crl.entries.some((entry) => entry.extensions.some((ext) => ext.critical))) {
      throw unavailable(url, 'unsupported critical CRL entry extension');
    }
    if (crl.thisUpdate.getTime() > at.getTime() + REVOCATION_CLOCK_SKEW_MS)
      throw unavailable(url, 'thisUpdate is in the future');
    // RFC 5280 5.1.2.5: conforming CAs MUST include nextUpdate; without it we cannot tell staleness.
    const nextUpdate = crl.nextUpdate;
    if (!nextUpdate) throw unavailable(url, 'has no nextUpdate');
    if (nextUpdate <= at)
      throw unavailable(url, `is stale (nextUpdate ${nextUpdate.toISOString()})`);
    return nextUpdate;
  };

  const usableCrl = async (url: string, issuer: X509Certificate, at: Date): Promise<X509Crl> => {
    const cached = cache.get(url);
    if (cached && at < cached.nextUpdate) {
      if (cached.crl.issuer !== issuer.subject || !cached.issuerKey.equals(issuerKeyOf(issuer))) {
        throw unavailable(url, `issued by "${cached.crl.issuer}", not by this issuer key`);
      }
      return cached.crl;
    }
    cache.delete(url);
    const crl = await download(url);
    const nextUpdate = await verify(crl, issuer, url, at);
    cache.set(url, { crl, nextUpdate, issuerKey: issuerKeyOf(issuer) });
    return crl;
  };

  return {
    /** 'good' or throws CertificateError: `revoked`, or `revocation_unavailable` (caller decides fail-open). */
    async check(cert: X509Certificate, issuer: X509Certificate, url: string): Promise<'good'> {
      const at = now();
      const crl = await usableCrl(url, issuer, at);
      const entry = crl.findRevoked(cert);
      if (entry) {
        throw new CertificateError(
          'revoked',
          `${certificateLabel(cert)} revoked at ${entry.revocationDate.toISOString()} per CRL ${url}`,
        );
      }
      return 'good';
    },
    /** Drop cached CRLs, e.g. after an operator learns of a compromise. */
    clear(): void {
      cache.clear();
    },
  };
};

export type CrlChecker = ReturnType<typeof createCrlChecker>;
