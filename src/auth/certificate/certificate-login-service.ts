// Certificate login use cases: the three proofs of possession (signed challenge, TLS client
// authentication on the dedicated listener, a trusted proxy's forwarded TLS certificate), the
// mapping of a validated certificate to an account, and self-enrolment. A certificate alone
// never signs anyone in: every path here starts from a signed nonce or a TLS handshake.
// State between steps (nonces, TLS tickets, the certificate awaiting enrolment) lives in the
// KV store, bound to one interaction; nothing the browser sends back is trusted.
import { createHash } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import type { Knex } from 'knex';
import type { AccountService } from '../../accounts/index.ts';
import { appendAudit, type AuditEvent } from '../../audit/index.ts';
import { AppError, randomToken, type Clock } from '../../shared/index.ts';
import type { KvStore } from '../../store/index.ts';
import {
  CertificateError,
  isCertificateError,
  type CertificateErrorReason,
} from './certificate-errors.ts';
import { certificateSubjectKey, type CertificateMappingRule } from './certificate-mapping.ts';
import {
  findAccountIdBySubjectKey,
  findCertificateByFingerprint,
  insertCertificate,
  lockSubjectKey,
  recordCertificateUse,
} from './certificate-repo.ts';
import type { CertificateValidator } from './validation/chain-validator.ts';
import {
  parseForwardedCertificate,
  parseForwardedChain,
  type ForwardedCertificateFormat,
} from './forwarded-certificate.ts';
import {
  CHALLENGE_ALGORITHMS,
  CHALLENGE_TYP,
  createChallengeNonce,
  verifySignedChallenge,
} from './signed-challenge.ts';
import { linkCertificate } from './link-certificate.ts';
import { isTrustedProxy } from './trusted-proxy.ts';
import type { ValidatedCertificate } from './validation/validated-certificate.ts';

export const CHALLENGE_TTL_SECONDS = 300;
export const TLS_TICKET_TTL_SECONDS = 120;
// The certificate awaiting the citizen's confirmation; the interaction itself lives 15 min.
const PENDING_TTL_SECONDS = 600;

/** How possession of the certificate's key was proven. */
export type CertificateMethod = 'challenge' | 'mtls' | 'proxy';

/**
 * amr values. `pop` is RFC 8176 (proof of possession of a key); `x509` (an X.509 certificate
 * was used) and `mtls` (the proof was a TLS client authentication) are One-ID extensions:
 * RFC 8176 has no value for either.
 */
export const certificateAmr = (method: CertificateMethod): string[] =>
  method === 'challenge' ? ['pop', 'x509'] : ['pop', 'mtls', 'x509'];

/** What the certificate showed: a linked account signs in; otherwise enrolment is offered. */
export type CertificateOutcome =
  { kind: 'signed-in'; accountId: string; amr: string[] } | { kind: 'enrol' };

/** The validated certificate awaiting self-enrolment, as kept server-side (KV). */
export type PendingEnrolment = {
  fingerprint: string;
  subjectKey: string;
  issuer: string;
  serial: string;
  subject: string;
  notAfter: string;
  name?: string;
  birthdate?: string;
  method: CertificateMethod;
};

type TlsResult = { uid: string; outcome?: CertificateOutcome; reason?: CertificateErrorReason };

type Deps = {
  knex: Knex;
  kv: KvStore;
  clock: Clock;
  accounts: AccountService;
  validator: CertificateValidator;
  /** Our issuer URL: the signed challenge's audience. */
  issuer: string;
  mappingRule: CertificateMappingRule;
  trustedProxies: readonly string[];
  headerFormat: ForwardedCertificateFormat;
};

/** `clientId`: the system being signed in to, named in the citizen's activity list. */
type RequestContext = { ip?: string | undefined; clientId?: string | undefined };

const TOKEN = /^[\w-]{20,100}$/;
export const fingerprintOf = (der: Buffer) => createHash('sha256').update(der).digest('hex');
/** The certificate a JWS names in x5c[0], unverified: only to say in the audit which one was refused. */
export const claimedLeaf = (jws: string): Buffer | undefined => {
  try {
    const first = decodeProtectedHeader(jws).x5c?.[0];
    return typeof first === 'string' && first.length < 16_384
      ? Buffer.from(first, 'base64')
      : undefined;
  } catch {
    return undefined;
  }
};
const nonceKey = (uid: string, nonce: string) => `cert:nonce:${uid}:${nonce}`;

/**
 * The signed-challenge proof, for sign-in and for linking alike: the JWS's signature (by the key
 * of x5c[0]) and audience first, then the single-use nonce under `nonceKeyOf` (replays fail),
 * then the chain. `seen.leafDer` holds the claimed certificate as soon as it is known, so a
 * refusal can be audited with it.
 */
export const verifyChallengeProof = async (
  jws: unknown,
  deps: { kv: KvStore; clock: Clock; validator: CertificateValidator; issuer: string },
  nonce: { keyOf: (nonce: string) => string; replayed: string },
  seen: { leafDer?: Buffer | undefined },
): Promise<ValidatedCertificate> => {
  if (typeof jws !== 'string' || jws.trim() === '')
    throw new CertificateError('no_proof', 'no signed challenge was sent');
  seen.leafDer = claimedLeaf(jws.trim());
  const challenge = await verifySignedChallenge(jws.trim(), {
    audience: deps.issuer,
    now: deps.clock.now,
  });
  seen.leafDer = challenge.leafDer;
  // A replay is the interaction's failure, not the holder's (anyone may resend a captured JWS).
  if (!(await deps.kv.take(nonce.keyOf(challenge.nonce))))
    throw new CertificateError('replayed', nonce.replayed);
  try {
    return await deps.validator.validate(challenge.leafDer, challenge.intermediatesDer);
  } catch (error) {
    // The key made this proof: a refused chain counts against the certificate.
    if (isCertificateError(error)) error.keyProven = true;
    throw error;
  }
};
const pendingKey = (uid: string) => `cert:pending:${uid}`;

const ticketInvalid = () =>
  new AppError(
    'ERR_CERT_TICKET_INVALID',
    'This certificate sign-in link has expired or was already used. Please start again from the sign-in page.',
    { status: 400 },
  );

export const createCertificateLoginService = ({
  knex,
  kv,
  clock,
  accounts,
  validator,
  issuer,
  mappingRule,
  trustedProxies,
  headerFormat,
}: Deps) => {
  const audit = (...events: AuditEvent[]) =>
    knex.transaction(async (trx) => {
      for (const event of events) await appendAudit(trx, event);
    });

  /** Audits a refused attempt and returns the error to throw (`no_proof` for non-certificate failures of the proof). */
  const rejected = async (
    error: unknown,
    method: CertificateMethod,
    context: RequestContext & { leafDer?: Buffer | undefined },
    extra: AuditEvent[] = [],
  ) => {
    if (!isCertificateError(error)) return error;
    await audit(...extra, {
      action: 'auth.certificate.rejected',
      actor: 'anonymous',
      ip: context.ip,
      details: {
        method,
        reason: error.reason,
        detail: error.message.slice(0, 500),
        ...(context.leafDer && { fingerprint: fingerprintOf(context.leafDer) }),
      },
    });
    return error;
  };

  /** Maps a validated certificate (whose key possession is proven) to an account. */
  const resolve = async (
    uid: string,
    cert: ValidatedCertificate,
    method: CertificateMethod,
    context: RequestContext,
  ): Promise<CertificateOutcome> => {
    const amr = certificateAmr(method);
    const linked = await findCertificateByFingerprint(knex, cert.fingerprintSha256);
    const subjectKey = linked?.subjectKey ?? certificateSubjectKey(cert, mappingRule);
    const accountId = linked?.accountId ?? (await findAccountIdBySubjectKey(knex, subjectKey));
    const facts = {
      method,
      fingerprint: cert.fingerprintSha256,
      serial: cert.serialNumber,
      issuer: cert.issuer,
      revocation: cert.revocation,
    };
    if (!accountId) {
      const pending: PendingEnrolment = {
        fingerprint: cert.fingerprintSha256,
        subjectKey,
        issuer: cert.issuer,
        serial: cert.serialNumber,
        subject: cert.subject,
        notAfter: cert.notAfter.toISOString(),
        ...(cert.name && { name: cert.name }),
        ...(cert.birthdate && { birthdate: cert.birthdate }),
        method,
      };
      await kv.set(pendingKey(uid), JSON.stringify(pending), PENDING_TTL_SECONDS);
      await audit({
        action: 'auth.certificate.verified',
        actor: 'anonymous',
        ip: context.ip,
        details: { ...facts, account: null, enrolment: 'offered' },
      });
      return { kind: 'enrol' };
    }
    const account = await accounts.findById(accountId);
    if (!account || account.status !== 'active') {
      await audit({
        action: 'auth.certificate.rejected',
        actor: 'anonymous',
        subject: `account:${accountId}`,
        ip: context.ip,
        details: { ...facts, reason: 'account_disabled' },
      });
      throw new AppError(
        'ERR_ACCOUNT_DISABLED',
        'This account cannot sign in. Please contact a service counter.',
        { status: 403 },
      );
    }
    await knex.transaction(async (trx) => {
      if (!linked) {
        // A renewed certificate (new key, new serial) with the same subject key: same account.
        await linkCertificate(trx, {
          accountId,
          subjectKey,
          cert,
          ip: context.ip,
          details: { via: 'renewal' },
        });
      }
      await recordCertificateUse(trx, cert.fingerprintSha256, clock.now());
      await appendAudit(trx, {
        action: 'auth.certificate.verified',
        actor: `account:${accountId}`,
        subject: `account:${accountId}`,
        ip: context.ip,
        details: { ...facts, amr, ...(context.clientId && { clientId: context.clientId }) },
      });
    });
    return { kind: 'signed-in', accountId, amr };
  };

  const pendingEnrolment = async (uid: string): Promise<PendingEnrolment | undefined> => {
    const raw = await kv.get(pendingKey(uid));
    return raw ? (JSON.parse(raw) as PendingEnrolment) : undefined;
  };

  return {
    /** A single-use nonce for the interaction; the citizen's signing software signs it (docs/certificates.md). */
    async issueChallenge(uid: string) {
      const nonce = createChallengeNonce();
      await kv.set(nonceKey(uid, nonce), '1', CHALLENGE_TTL_SECONDS);
      return {
        nonce,
        audience: issuer,
        expiresIn: CHALLENGE_TTL_SECONDS,
        typ: CHALLENGE_TYP,
        algorithms: [...CHALLENGE_ALGORITHMS],
      };
    },

    /**
     * Proof 1: a compact JWS over a nonce issued for THIS interaction, carrying its chain in
     * x5c. Order: the signature proves the key, the nonce is consumed (replays fail), then the
     * chain is validated and mapped. Throws CertificateError (audited) or AppError.
     */
    async signInWithChallenge(
      uid: string,
      jws: unknown,
      context: RequestContext = {},
    ): Promise<CertificateOutcome> {
      const seen: { leafDer?: Buffer | undefined } = {};
      try {
        const cert = await verifyChallengeProof(
          jws,
          { kv, clock, validator, issuer },
          {
            keyOf: (nonce) => nonceKey(uid, nonce),
            replayed: 'the signed nonce was not issued for this sign-in or was already used',
          },
          seen,
        );
        return await resolve(uid, cert, 'challenge', context);
      } catch (error) {
        throw await rejected(error, 'challenge', { ...context, leafDer: seen.leafDer });
      }
    },

    /** Proof 2, step 1: a single-use ticket binding the mutual-TLS listener's request to the interaction. */
    async issueTlsTicket(uid: string): Promise<string> {
      const ticket = randomToken(32);
      await kv.set(`cert:tls:${ticket}`, uid, TLS_TICKET_TTL_SECONDS);
      return ticket;
    },

    /**
     * Proof 2, step 2 (on the mutual-TLS listener): validates the handshake's peer chain
     * (leaf first) and keeps the outcome, success or refusal, under the ticket for the
     * interaction to pick up. Returns the interaction uid to send the browser back to.
     * Throws AppError ERR_CERT_TICKET_INVALID for an unknown, used or expired ticket.
     */
    async acceptTlsCertificate(
      ticket: unknown,
      peerChainDer: Buffer[],
      context: RequestContext = {},
    ): Promise<{ uid: string }> {
      const uid =
        typeof ticket === 'string' && TOKEN.test(ticket)
          ? await kv.take(`cert:tls:${ticket}`)
          : null;
      if (!uid) throw ticketInvalid();
      const [leafDer, ...intermediatesDer] = peerChainDer;
      let result: TlsResult;
      try {
        if (!leafDer)
          throw new CertificateError('no_proof', 'the browser presented no client certificate');
        const cert = await validator.validate(leafDer, intermediatesDer);
        result = { uid, outcome: await resolve(uid, cert, 'mtls', context) };
      } catch (error) {
        const refusal = await rejected(error, 'mtls', { ...context, leafDer });
        if (!isCertificateError(refusal)) throw refusal;
        result = { uid, reason: refusal.reason };
      }
      await kv.set(`cert:tls-result:${ticket}`, JSON.stringify(result), TLS_TICKET_TTL_SECONDS);
      return { uid };
    },

    /** Proof 2, step 3 (back on the main listener, with the interaction cookie): the outcome, once. */
    async completeTls(uid: string, ticket: unknown): Promise<CertificateOutcome> {
      const raw =
        typeof ticket === 'string' && TOKEN.test(ticket)
          ? await kv.take(`cert:tls-result:${ticket}`)
          : null;
      const result = raw ? (JSON.parse(raw) as TlsResult) : undefined;
      if (!result || result.uid !== uid) throw ticketInvalid();
      // Already audited on the listener.
      if (result.reason)
        throw new CertificateError(result.reason, 'the TLS client certificate was refused');
      return result.outcome!;
    },

    /**
     * Proof 3: the certificate a TLS-terminating proxy forwarded. Read ONLY when the TCP peer
     * (never X-Forwarded-For) is a trusted proxy and the header occurs exactly once;
     * otherwise it is ignored, audited `auth.certificate.header_ignored`, and the sign-in
     * refused with `no_proof`. `values` are the header's distinct lines (headersDistinct).
     */
    async signInWithForwarded(
      uid: string,
      input: { peer: string; values: string[] | undefined; chainValues: string[] | undefined },
      context: RequestContext = {},
    ): Promise<CertificateOutcome> {
      const present = input.values !== undefined || input.chainValues !== undefined;
      const ignore = async (reason: string, message: string): Promise<never> => {
        const ignored: AuditEvent = {
          action: 'auth.certificate.header_ignored',
          actor: 'anonymous',
          ip: context.ip,
          details: { peer: input.peer, reason },
        };
        throw await rejected(
          new CertificateError('no_proof', message),
          'proxy',
          context,
          present ? [ignored] : [],
        );
      };
      if (!isTrustedProxy(input.peer, trustedProxies))
        await ignore(
          'untrusted_peer',
          `forwarded certificate from untrusted peer ${input.peer} ignored`,
        );
      const values = input.values;
      // Two lines, or two values folded into one (RFC 9440 values never hold a comma): one of
      // them may be the client's own, passed through by the proxy.
      if (
        values &&
        (values.length !== 1 || (headerFormat === 'rfc9440' && values[0]!.includes(',')))
      ) {
        await ignore('duplicate_header', 'forwarded certificate header occurs more than once');
      }
      let leafDer: Buffer | undefined;
      try {
        leafDer = parseForwardedCertificate(values, headerFormat) ?? undefined;
        if (!leafDer)
          throw new CertificateError('no_proof', 'the proxy forwarded no client certificate');
        const cert = await validator.validate(leafDer, parseForwardedChain(input.chainValues));
        return await resolve(uid, cert, 'proxy', context);
      } catch (error) {
        throw await rejected(error, 'proxy', { ...context, leafDer });
      }
    },

    /** The certificate awaiting enrolment for this interaction (what the confirmation page shows). */
    pendingEnrolment,

    /**
     * Self-enrolment: creates the account for the pending certificate (name and birthdate from
     * the certificate; the citizen's input only where the certificate has none), links the
     * certificate, and audits both, in one transaction. Single use.
     */
    async completeEnrolment(
      uid: string,
      input: { name?: string | undefined; birthdate?: string | undefined },
      context: RequestContext = {},
    ): Promise<{ accountId: string; amr: string[] }> {
      const pending = await pendingEnrolment(uid);
      if (!pending)
        throw new AppError(
          'ERR_CERT_ENROLMENT_EXPIRED',
          'This certificate sign-in has expired. Please sign in with your certificate again.',
          { status: 410 },
        );
      const amr = certificateAmr(pending.method);
      const accountId = await knex.transaction(async (trx) => {
        await lockSubjectKey(trx, pending.subjectKey);
        if (
          (await findCertificateByFingerprint(trx, pending.fingerprint)) ||
          (await findAccountIdBySubjectKey(trx, pending.subjectKey))
        ) {
          throw new AppError(
            'ERR_CERT_ALREADY_LINKED',
            'This certificate is already linked to an account. Please sign in with it again.',
            { status: 409 },
          );
        }
        const account = await accounts.createCitizen(trx, {
          name: (pending.name ?? input.name ?? '').trim(),
          birthdate: (pending.birthdate ?? input.birthdate ?? '').trim(),
        });
        await insertCertificate(trx, {
          fingerprint: pending.fingerprint,
          accountId: account.id,
          subjectKey: pending.subjectKey,
          issuer: pending.issuer,
          serial: pending.serial,
          subject: pending.subject,
          notAfter: new Date(pending.notAfter),
          lastUsedAt: clock.now(),
        });
        const actor = `account:${account.id}`;
        await appendAudit(trx, {
          action: 'accounts.created.certificate',
          actor,
          subject: actor,
          ip: context.ip,
          details: {
            fingerprint: pending.fingerprint,
            issuer: pending.issuer,
            serial: pending.serial,
            nameFrom: pending.name ? 'certificate' : 'citizen',
            birthdateFrom: pending.birthdate ? 'certificate' : 'citizen',
          },
        });
        await appendAudit(trx, {
          action: 'auth.certificate.linked',
          actor,
          subject: actor,
          ip: context.ip,
          details: {
            fingerprint: pending.fingerprint,
            serial: pending.serial,
            issuer: pending.issuer,
            via: 'enrolment',
          },
        });
        await appendAudit(trx, {
          action: 'auth.certificate.verified',
          actor,
          subject: actor,
          ip: context.ip,
          details: {
            method: pending.method,
            fingerprint: pending.fingerprint,
            amr,
            ...(context.clientId && { clientId: context.clientId }),
          },
        });
        // Single use: a second submission (or a race) finds nothing and rolls back.
        if (!(await kv.take(pendingKey(uid))))
          throw new AppError(
            'ERR_CERT_ENROLMENT_EXPIRED',
            'This certificate sign-in has expired. Please sign in with your certificate again.',
            { status: 410 },
          );
        return account.id;
      });
      return { accountId, amr };
    },
  };
};

export type CertificateLoginService = ReturnType<typeof createCertificateLoginService>;
