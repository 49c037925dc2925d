// `seed accounts`: N synthetic citizens for load tests and capacity planning, optionally each
// with a synced passkey and a remembered consent for one client. Everything is derived from a
// seed label and the account's index, so the benchmark (bench/) can sign in as account #i by
// recomputing its credential id and private key: passkeys use a pool of SEED_KEY_POOL P-256 key
// pairs (account i uses pair i % SEED_KEY_POOL), counters stay 0 as synced passkeys report.
// Never run against a production database: the keys are derivable from the seed label.
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
} from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../shared/index.ts';
import {
  copyLines,
  copyText as t,
  insertSeedAccounts,
  insertSeedConsents,
  insertSeedCredentials,
  seedClientAllowances,
  seedClientExists,
  type SeedAccountRow,
  type SeedConsentRow,
  type SeedCredentialRow,
} from './seed-repo.ts';

export const SEED_KEY_POOL = 256;
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

const uuidFrom = (bytes: Buffer) => {
  const b = Buffer.from(bytes.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** What identifies seeded account #index (no I/O): all from one SHA-512 of the seed and index. */
export const seededAccount = (seed: string, index: number) => {
  const bytes = createHash('sha512').update(`${seed}\u0000${index}`).digest();
  return {
    accountId: uuidFrom(bytes.subarray(0, 16)),
    consentId: uuidFrom(bytes.subarray(16, 32)),
    credentialId: bytes.subarray(32, 64).toString('base64url'),
    webauthnUserId: bytes.subarray(0, 32).toString('base64url'),
    email: `c${index}@${seed}.seed.example`,
    keyIndex: index % SEED_KEY_POOL,
  };
};

const keys = new Map<string, { privateKey: KeyObject; cose: Buffer }>();

/** Seeded key pair #k: the private key (for the benchmark's authenticator) and its COSE public key (stored). */
export const seedKeyPair = (seed: string, k: number): { privateKey: KeyObject; cose: Buffer } => {
  const cacheKey = `${seed}\u0000${k}`;
  const cached = keys.get(cacheKey);
  if (cached) return cached;
  let d = 0n;
  for (let attempt = 0; d === 0n || d >= P256_ORDER; attempt += 1)
    d = BigInt(`0x${createHmac('sha256', seed).update(`key:${k}:${attempt}`).digest('hex')}`);
  // SEC1 ECPrivateKey { version 1, privateKey, [0] prime256v1 } (RFC 5915); the public key is derived.
  const der = Buffer.concat([
    Buffer.from('30310201010420', 'hex'),
    Buffer.from(d.toString(16).padStart(64, '0'), 'hex'),
    Buffer.from('a00a06082a8648ce3d030107', 'hex'),
  ]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'sec1' });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  // COSE_Key (RFC 9053): {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
  const cose = Buffer.concat([
    Buffer.from([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]),
    Buffer.from(jwk.x!, 'base64url'),
    Buffer.from([0x22, 0x58, 0x20]),
    Buffer.from(jwk.y!, 'base64url'),
  ]);
  const pair = { privateKey, cose };
  keys.set(cacheKey, pair);
  return pair;
};

const FAMILY = ['김', '이', '박', '최', '정', '강', '조', '윤', '장', '임'];
const GIVEN = ['민준', '서연', '도윤', '하은', '시우', '지우', '주원', '서윤', '예준', '지민'];

export type SeedOptions = {
  count: number;
  /** Index of the first account (to add more to an earlier seed). Default 0. */
  start?: number;
  seed?: string;
  withPasskeys?: boolean;
  /** A remembered consent for this client (its allowances, all granted). */
  consentClient?: string | undefined;
  batchSize?: number;
  /** Batches written at once (each on its own connection). */
  parallel?: number;
  onProgress?: (done: number) => void;
  /** PostgreSQL COPY (fast; a range already seeded fails on its keys) instead of INSERT ... ON CONFLICT DO NOTHING (PGlite, re-runs). */
  copy?: boolean;
};

const ACCOUNT_COLUMNS = ['id', 'name', 'birthdate', 'email', 'phone_number', 'webauthn_user_id'];
const CREDENTIAL_COLUMNS = [
  'id',
  'account_id',
  'public_key',
  'counter',
  'transports',
  'device_type',
  'backed_up',
  'name',
];
const CONSENT_COLUMNS = [
  'id',
  'account_id',
  'client_id',
  'granted_claims',
  'declined_claims',
  'scopes',
  'purposes',
  'grant_ids',
  'granted_at',
  'updated_at',
  'expires_at',
];

const copyBatch = async (
  knex: Knex,
  accounts: SeedAccountRow[],
  credentials: SeedCredentialRow[],
  consents: SeedConsentRow[],
) => {
  await copyLines(
    knex,
    'accounts',
    ACCOUNT_COLUMNS,
    accounts.map(
      (a) =>
        `${t(a.id)}\t${t(a.name)}\t${a.birthdate}\t${t(a.email)}\t${t(a.phoneNumber)}\t${t(a.webauthnUserId)}\n`,
    ),
  );
  const now = new Date().toISOString();
  const consentText = consents[0] && {
    granted: t(JSON.stringify(consents[0].grantedClaims)),
    scopes: t(JSON.stringify(consents[0].scopes)),
    purposes: t(JSON.stringify(consents[0].purposes)),
    expires: consents[0].expiresAt.toISOString(),
  };
  await Promise.all([
    copyLines(
      knex,
      'passkey_credentials',
      CREDENTIAL_COLUMNS,
      credentials.map(
        (c) =>
          `${t(c.id)}\t${c.accountId}\t${t(c.publicKey)}\t0\t["internal"]\tmultiDevice\tt\t${t(c.name)}\n`,
      ),
    ),
    copyLines(
      knex,
      'consents',
      CONSENT_COLUMNS,
      consents.map(
        (c) =>
          `${c.id}\t${c.accountId}\t${t(c.clientId)}\t${consentText!.granted}\t[]\t${consentText!.scopes}\t${consentText!.purposes}\t[]\t${now}\t${now}\t${consentText!.expires}\n`,
      ),
    ),
  ]);
};

export const DEFAULT_SEED = 'bench';

/** Loads the accounts; returns how many were written and the rate. Idempotent per index. */
export const seedAccounts = async (
  knex: Knex,
  options: SeedOptions,
): Promise<{ accounts: number; seconds: number; perSecond: number }> => {
  const {
    count,
    start = 0,
    seed = DEFAULT_SEED,
    withPasskeys = false,
    consentClient,
    batchSize = 5000,
    parallel = 2,
    onProgress,
    copy = false,
  } = options;
  if (!Number.isInteger(count) || count < 1)
    throw new AppError('ERR_USAGE', '--count must be a positive whole number');
  let consentTemplate: Omit<SeedConsentRow, 'id' | 'accountId'> | undefined;
  if (consentClient) {
    if (!(await seedClientExists(knex, consentClient)))
      throw new AppError(
        'ERR_USAGE',
        `--client ${consentClient} is not a registered client (register it first: clients add)`,
      );
    const allowances = await seedClientAllowances(knex, consentClient);
    const granted = allowances.map((a) => a.claim);
    consentTemplate = {
      clientId: consentClient,
      grantedClaims: granted,
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      purposes: Object.fromEntries(
        allowances.map((a) => [
          a.claim,
          {
            ko: a.purpose_ko,
            en: a.purpose_en,
            required: a.required,
            retentionDays: a.retention_days,
          },
        ]),
      ),
      expiresAt: new Date(Date.now() + 365 * 86400_000),
    };
  }
  const cose = withPasskeys
    ? Array.from({ length: SEED_KEY_POOL }, (_, k) => seedKeyPair(seed, k).cose)
    : [];
  const began = process.hrtime.bigint();
  let done = 0;
  let next = start;
  const end = start + count;

  const writeBatch = async (from: number, to: number) => {
    const accounts: SeedAccountRow[] = [];
    const credentials: SeedCredentialRow[] = [];
    const consents: SeedConsentRow[] = [];
    for (let i = from; i < to; i += 1) {
      const a = seededAccount(seed, i);
      accounts.push({
        id: a.accountId,
        name: `${FAMILY[i % FAMILY.length]}${GIVEN[Math.floor(i / FAMILY.length) % GIVEN.length]}`,
        birthdate: `${1940 + (i % 66)}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
        email: a.email,
        phoneNumber: i % 2 ? `010${String(i % 100_000_000).padStart(8, '0')}` : null,
        webauthnUserId: a.webauthnUserId,
      });
      if (withPasskeys)
        credentials.push({
          id: a.credentialId,
          accountId: a.accountId,
          publicKey: cose[a.keyIndex]!,
          name: 'Seeded passkey',
        });
      if (consentTemplate)
        consents.push({ id: a.consentId, accountId: a.accountId, ...consentTemplate });
    }
    if (copy) await copyBatch(knex, accounts, credentials, consents);
    else {
      await insertSeedAccounts(knex, accounts);
      await Promise.all([
        insertSeedCredentials(knex, credentials),
        insertSeedConsents(knex, consents),
      ]);
    }
    done += to - from;
    onProgress?.(done);
  };

  const worker = async () => {
    while (next < end) {
      const from = next;
      next = Math.min(end, next + batchSize);
      await writeBatch(from, next);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  return { accounts: done, seconds, perSecond: Math.round(done / seconds) };
};
