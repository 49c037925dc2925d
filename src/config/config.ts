// One validated environment schema: every setting the server reads, parsed once at start.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { AppError } from '../shared/index.ts';

export type Config = Readonly<{
  port: number;
  host: string;
  issuer: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** How to reach Redis: REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES (undefined: in-process store). */
  redis: RedisSettings | undefined;
  metrics: MetricsConfig;
  dataDir: string;
  cookieKeys: string[] | undefined;
  keyEncryptionKeys: Buffer[] | undefined;
  /** AUDIT_KEYS: HMAC keys of the audit chain; the first keys new records, any listed verifies. */
  auditKeys: Buffer[] | undefined;
  pairwiseSalt: string | undefined;
  /** REDIS_KEY_PREFIX: starts every Redis key this deployment writes (default: derived from ISSUER). */
  redisKeyPrefix: string;
  trustedProxies: string[];
  logLevel: string;
  enrolmentTtlSeconds: number;
  sessionIdleSeconds: number;
  sessionAbsoluteSeconds: number;
  /** How often each instance looks for sessions that expired (idle or absolute) to send their logout tokens. */
  sessionSweepSeconds: number;
  /** On SIGTERM: how long /readyz says 503 while every request is still served, before the listener closes. */
  shutdownDrainMs: number;
  backchannel: BackchannelConfig;
  /** Hosts of agency systems One-ID may call on loopback or private addresses (the engine refuses them otherwise). */
  outboundPrivateHosts: string[];
  consentMaxAgeDays: number;
  keyActivationDelaySeconds: number;
  claimSourceTimeoutMs: number;
  /** Deadline of each request to an upstream identity provider (discovery, token, JWKS, userinfo). */
  federationTimeoutMs: number;
  /** CLIENT_SECRET_GRACE_SECONDS: a rotated-out client secret keeps working this long. */
  clientSecretGraceSeconds: number;
  admin: AdminConfig;
  certificates: CertificateConfig;
  rateLimits: RateLimitConfig;
  /** Who runs the service and where citizens get help: shown on every citizen page. */
  site: SiteConfig;
  production: boolean;
}>;

/** Rate limits (per minute) and the lockout of a sign-in method after repeated failures (docs/security.md). */
export type RateLimitConfig = Readonly<{
  signInPerMinute: number;
  accountPerMinute: number;
  enrolmentPerMinute: number;
  tokenPerMinute: number;
  adminPerMinute: number;
  lockoutThreshold: number;
  lockoutSeconds: number;
}>;

/** The operator and its links (SITE_*): the banner and footer of every citizen page. */
export type SiteConfig = Readonly<{
  operator: Readonly<{ ko: string; en: string }>;
  helpdeskPhone: string;
  helpUrl: string | undefined;
  privacyUrl: string | undefined;
  termsUrl: string | undefined;
  accessibilityUrl: string | undefined;
}>;

/** Certificate login (docs/certificates.md). Disabled when trustAnchorsPath is undefined. */
export type CertificateConfig = Readonly<{
  trustAnchorsPath: string | undefined;
  policyOids: string[];
  revocationFailOpen: boolean;
  revocationTimeoutMs: number;
  crlUrls: string[];
  mappingRule: 'subject-serial' | 'san-email' | 'issuer-serial';
  /** The mutual-TLS listener runs only when loginPort, tlsCert and tlsKey are all set. */
  loginPort: number | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  header: string;
  headerFormat: 'rfc9440' | 'nginx-escaped';
  /** RFC 8705 2.1 (tls_client_auth): the CAs trusted to issue agency systems' client certificates. */
  clientTrustAnchorsPath: string | undefined;
}>;

/** The durable back-channel logout queue (docs/logout.md). */
export type BackchannelConfig = Readonly<{
  pollMs: number;
  timeoutMs: number;
  retryBaseMs: number;
  maxAttempts: number;
}>;

/** The administration console and API (docs/admin.md). */
export type AdminConfig = Readonly<{
  sessionIdleSeconds: number;
  sessionAbsoluteSeconds: number;
  reauthSeconds: number;
  /** The level every console session and admin API token must carry (ADMIN_MIN_ACR), an acr URN. */
  minAcr: string;
  dcrEnabled: boolean;
}>;

export type HostPort = Readonly<{ host: string; port: number }>;

/** One Redis topology; credentials and TLS for Sentinel and Cluster (a REDIS_URL carries its own). */
export type RedisSettings =
  | Readonly<{ mode: 'standalone'; url: string }>
  | Readonly<{
      mode: 'sentinel';
      sentinels: HostPort[];
      name: string;
      username?: string | undefined;
      password?: string | undefined;
      sentinelPassword?: string | undefined;
      tls: boolean;
    }>
  | Readonly<{
      mode: 'cluster';
      nodes: HostPort[];
      username?: string | undefined;
      password?: string | undefined;
      tls: boolean;
    }>;

/** GET /metrics: on its own listener when port is set; on the main port only when public (never in production). */
export type MetricsConfig = Readonly<{ port: number | undefined; host: string; public: boolean }>;

export class ConfigError extends AppError {
  readonly problems: string[];
  constructor(problems: string[], options: { cause?: unknown } = {}) {
    super('ERR_CONFIG', `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      status: 500,
      cause: options.cause,
    });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  );

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min).max(max));

const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

// An IP address or CIDR range (10.0.0.0/8, fd00::/8).
const isAddressOrRange = (entry: string) => {
  const [address = '', prefix, extra] = entry.split('/');
  const version = isIP(address);
  if (!version || extra !== undefined) return false;
  return (
    prefix === undefined ||
    (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128))
  );
};

// A 32-byte key, base64 or base64url encoded; several (comma-separated) allow rotation: the first encrypts.
const keyList = list.pipe(
  z
    .array(z.string())
    .min(1)
    .refine(
      (keys) => keys.every((k) => Buffer.from(k, 'base64url').length === 32),
      'each key must be 32 bytes, base64url encoded (e.g. `openssl rand -base64 32`)',
    ),
);

// host:port, comma-separated (IPv6 in brackets: [fd00::1]:26379).
const parseHostPort = (entry: string): HostPort | undefined => {
  const m = /^(?:\[([0-9a-f:.]+)\]|([\w.-]+)):(\d{1,5})$/i.exec(entry);
  const port = Number(m?.[3]);
  return m && port >= 1 && port <= 65535 ? { host: m[1] ?? m[2]!, port } : undefined;
};
const hostPortList = list.pipe(
  z
    .array(z.string())
    .min(1, 'must list at least one host:port')
    .refine(
      (entries) => entries.every((e) => parseHostPort(e)),
      'each entry must be host:port (IPv6 as [address]:port)',
    )
    .transform((entries) => entries.map((e) => parseHostPort(e)!)),
);
const bool = z
  .enum(['true', 'false'], 'must be true or false')
  .default('false')
  .transform((v) => v === 'true');

const schema = z.object({
  PORT: int(1, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  ISSUER: url(['http:', 'https:'])
    .refine((v) => !/[?#]/.test(v), 'must not have a query or fragment')
    .default('http://localhost:3000'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REDIS_SENTINELS: hostPortList.optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  REDIS_CLUSTER_NODES: hostPortList.optional(),
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_TLS: bool,
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[\w.:{}-]{1,64}$/, 'must be 1-64 letters, digits or _ . : { } -')
    .optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  COOKIE_KEYS: list
    .pipe(z.array(z.string().min(32, 'each cookie key must be at least 32 characters')).min(1))
    .optional(),
  KEY_ENCRYPTION_KEYS: keyList.optional(),
  AUDIT_KEYS: keyList.optional(),
  PAIRWISE_SALT: z.string().min(32, 'must be at least 32 characters').optional(),
  TRUSTED_PROXIES: list
    .pipe(
      z
        .array(z.string())
        .refine(
          (entries) => entries.every(isAddressOrRange),
          'each entry must be an IP address or a CIDR range (e.g. 10.0.0.0/8)',
        ),
    )
    .default([]),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METRICS_PORT: int(1, 65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  METRICS_PUBLIC: bool,
  ENROLMENT_TTL_SECONDS: int(60, 30 * 86400).default(72 * 3600),
  SESSION_IDLE_SECONDS: int(60, 30 * 86400).default(30 * 60),
  SESSION_ABSOLUTE_SECONDS: int(300, 30 * 86400).default(8 * 3600),
  SESSION_SWEEP_SECONDS: int(1, 3600).default(30),
  SHUTDOWN_DRAIN_MS: int(0, 60_000).default(2000),
  BACKCHANNEL_POLL_MS: int(10, 60_000).default(2000),
  BACKCHANNEL_TIMEOUT_MS: int(500, 60_000).default(5000),
  BACKCHANNEL_RETRY_BASE_MS: int(10, 600_000).default(5000),
  BACKCHANNEL_MAX_ATTEMPTS: int(1, 50).default(8),
  OUTBOUND_PRIVATE_HOSTS: list
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/i,
            'each entry must be a host name or address (no scheme, no port)',
          ),
      ),
    )
    .default([]),
  CONSENT_MAX_AGE_DAYS: int(1, 3650).default(365),
  KEY_ACTIVATION_DELAY_SECONDS: int(0, 7 * 86400).default(900),
  CLAIM_SOURCE_TIMEOUT_MS: int(100, 30_000).default(2000),
  FEDERATION_TIMEOUT_MS: int(100, 60_000).default(5000),
  CLIENT_SECRET_GRACE_SECONDS: int(0, 90 * 86400).default(86400),
  ADMIN_SESSION_IDLE_SECONDS: int(60, 86400).default(900),
  ADMIN_SESSION_ABSOLUTE_SECONDS: int(300, 86400).default(3600),
  ADMIN_REAUTH_SECONDS: int(30, 86400).default(300),
  ADMIN_MIN_ACR: z.enum(['substantial', 'high']).default('substantial'),
  DCR_ENABLED: bool,
  NODE_ENV: z.string().default('development'),
  CERT_TRUST_ANCHORS: z.string().min(1).optional(),
  CERT_POLICY_OIDS: list
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^[0-2](\.\d+)+$/,
            'each entry must be a dotted OID (e.g. 1.2.410.200004.5.2.1.2)',
          ),
      ),
    )
    .default([]),
  CERT_REVOCATION_FAIL_OPEN: z
    .enum(['true', 'false'], 'must be true or false')
    .default('false')
    .transform((v) => v === 'true'),
  CERT_REVOCATION_TIMEOUT_MS: int(100, 60_000).default(3000),
  CERT_CRL_URLS: list.pipe(z.array(url(['http:', 'https:']))).default([]),
  CERT_MAPPING_RULE: z
    .enum(['subject-serial', 'san-email', 'issuer-serial'])
    .default('subject-serial'),
  CERT_LOGIN_PORT: int(1, 65535).optional(),
  TLS_CERT: z.string().min(1).optional(),
  TLS_KEY: z.string().min(1).optional(),
  CERT_HEADER: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/i, 'must be a header name (letters, digits, -)')
    .transform((v) => v.toLowerCase())
    .default('client-cert'),
  CERT_HEADER_FORMAT: z.enum(['rfc9440', 'nginx-escaped']).default('rfc9440'),
  CLIENT_CERT_TRUST_ANCHORS: z.string().min(1).optional(),
  RATE_LIMIT_SIGNIN_PER_MINUTE: int(1, 1_000_000).default(300),
  RATE_LIMIT_ACCOUNT_PER_MINUTE: int(1, 1_000_000).default(30),
  RATE_LIMIT_ENROLMENT_PER_MINUTE: int(1, 1_000_000).default(60),
  RATE_LIMIT_TOKEN_PER_MINUTE: int(1, 1_000_000).default(600),
  RATE_LIMIT_ADMIN_PER_MINUTE: int(1, 1_000_000).default(600),
  LOCKOUT_THRESHOLD: int(2, 1000).default(10),
  LOCKOUT_SECONDS: int(1, 86_400).default(900),
  SITE_OPERATOR_KO: z.string().min(1).max(100).default('행정안전부'),
  SITE_OPERATOR_EN: z.string().min(1).max(100).default('Ministry of the Interior and Safety'),
  SITE_HELPDESK_PHONE: z.string().min(1).max(40).default('110'),
  SITE_HELP_URL: url(['https:', 'http:']).optional(),
  SITE_PRIVACY_URL: url(['https:', 'http:']).optional(),
  SITE_TERMS_URL: url(['https:', 'http:']).optional(),
  SITE_ACCESSIBILITY_URL: url(['https:', 'http:']).optional(),
});

/** Every key the server reads; a test keeps `.env.example` in step with it. */
export const CONFIG_KEYS = Object.keys(schema.shape);

/** Parses the environment; collects every problem and throws one ConfigError naming each bad key. */
export const loadConfig = (env: Record<string, string | undefined>): Config => {
  const input = Object.fromEntries(
    CONFIG_KEYS.map((key) => [key, env[key] === '' ? undefined : env[key]]),
  );
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const v = parsed.data;
  const production = v.NODE_ENV === 'production';
  const problems: string[] = [];
  if (production) {
    // Production never falls back to generated development secrets or the embedded store.
    for (const key of [
      'DATABASE_URL',
      'COOKIE_KEYS',
      'KEY_ENCRYPTION_KEYS',
      'AUDIT_KEYS',
      'PAIRWISE_SALT',
    ] as const) {
      if (!v[key]) problems.push(`${key}: is required when NODE_ENV=production`);
    }
    if (!v.REDIS_URL && !v.REDIS_SENTINELS && !v.REDIS_CLUSTER_NODES)
      problems.push(
        'REDIS_URL: is required when NODE_ENV=production (or REDIS_SENTINELS, or REDIS_CLUSTER_NODES)',
      );
    if (v.METRICS_PUBLIC)
      problems.push(
        'METRICS_PUBLIC: must not be true when NODE_ENV=production; serve metrics on METRICS_PORT instead',
      );
    if (new URL(v.ISSUER).protocol !== 'https:')
      problems.push('ISSUER: must be https when NODE_ENV=production');
  }
  if (v.ADMIN_SESSION_IDLE_SECONDS > v.ADMIN_SESSION_ABSOLUTE_SECONDS)
    problems.push('ADMIN_SESSION_IDLE_SECONDS: must not exceed ADMIN_SESSION_ABSOLUTE_SECONDS');
  if (v.SESSION_IDLE_SECONDS > v.SESSION_ABSOLUTE_SECONDS) {
    problems.push('SESSION_IDLE_SECONDS: must not exceed SESSION_ABSOLUTE_SECONDS');
  }
  problems.push(...redisProblems(v));
  if (v.METRICS_PORT !== undefined && [v.PORT, v.CERT_LOGIN_PORT].includes(v.METRICS_PORT))
    problems.push('METRICS_PORT: must differ from PORT and CERT_LOGIN_PORT');
  // A half-configured mutual-TLS listener is a mistake to report, not to ignore silently.
  if (v.CERT_LOGIN_PORT !== undefined) {
    if (!v.TLS_CERT || !v.TLS_KEY) problems.push('CERT_LOGIN_PORT: needs TLS_CERT and TLS_KEY');
    if (!v.CERT_TRUST_ANCHORS) problems.push('CERT_LOGIN_PORT: needs CERT_TRUST_ANCHORS');
    if (v.CERT_LOGIN_PORT === v.PORT) problems.push('CERT_LOGIN_PORT: must differ from PORT');
  }
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze({
    port: v.PORT,
    host: v.HOST,
    issuer: v.ISSUER.replace(/\/$/, ''),
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    redis: redisSettings(v),
    metrics: Object.freeze({
      port: v.METRICS_PORT,
      host: v.METRICS_HOST,
      public: v.METRICS_PUBLIC,
    }),
    dataDir: v.DATA_DIR,
    cookieKeys: v.COOKIE_KEYS,
    keyEncryptionKeys: v.KEY_ENCRYPTION_KEYS?.map((k) => Buffer.from(k, 'base64url')),
    auditKeys: v.AUDIT_KEYS?.map((k) => Buffer.from(k, 'base64url')),
    pairwiseSalt: v.PAIRWISE_SALT,
    redisKeyPrefix: v.REDIS_KEY_PREFIX ?? defaultRedisKeyPrefix(v.ISSUER.replace(/\/$/, '')),
    trustedProxies: v.TRUSTED_PROXIES,
    logLevel: v.LOG_LEVEL,
    enrolmentTtlSeconds: v.ENROLMENT_TTL_SECONDS,
    sessionIdleSeconds: v.SESSION_IDLE_SECONDS,
    sessionAbsoluteSeconds: v.SESSION_ABSOLUTE_SECONDS,
    sessionSweepSeconds: v.SESSION_SWEEP_SECONDS,
    shutdownDrainMs: v.SHUTDOWN_DRAIN_MS,
    backchannel: Object.freeze({
      pollMs: v.BACKCHANNEL_POLL_MS,
      timeoutMs: v.BACKCHANNEL_TIMEOUT_MS,
      retryBaseMs: v.BACKCHANNEL_RETRY_BASE_MS,
      maxAttempts: v.BACKCHANNEL_MAX_ATTEMPTS,
    }),
    outboundPrivateHosts: v.OUTBOUND_PRIVATE_HOSTS.map((h) => h.toLowerCase()),
    consentMaxAgeDays: v.CONSENT_MAX_AGE_DAYS,
    keyActivationDelaySeconds: v.KEY_ACTIVATION_DELAY_SECONDS,
    claimSourceTimeoutMs: v.CLAIM_SOURCE_TIMEOUT_MS,
    federationTimeoutMs: v.FEDERATION_TIMEOUT_MS,
    clientSecretGraceSeconds: v.CLIENT_SECRET_GRACE_SECONDS,
    admin: Object.freeze({
      sessionIdleSeconds: v.ADMIN_SESSION_IDLE_SECONDS,
      sessionAbsoluteSeconds: v.ADMIN_SESSION_ABSOLUTE_SECONDS,
      reauthSeconds: v.ADMIN_REAUTH_SECONDS,
      minAcr: `urn:one-id:loa:${v.ADMIN_MIN_ACR}`,
      dcrEnabled: v.DCR_ENABLED,
    }),
    certificates: Object.freeze({
      trustAnchorsPath: v.CERT_TRUST_ANCHORS,
      policyOids: v.CERT_POLICY_OIDS,
      revocationFailOpen: v.CERT_REVOCATION_FAIL_OPEN,
      revocationTimeoutMs: v.CERT_REVOCATION_TIMEOUT_MS,
      crlUrls: v.CERT_CRL_URLS,
      mappingRule: v.CERT_MAPPING_RULE,
      loginPort: v.CERT_LOGIN_PORT,
      tlsCert: v.TLS_CERT,
      tlsKey: v.TLS_KEY,
      header: v.CERT_HEADER,
      headerFormat: v.CERT_HEADER_FORMAT,
      clientTrustAnchorsPath: v.CLIENT_CERT_TRUST_ANCHORS,
    }),
    rateLimits: Object.freeze({
      signInPerMinute: v.RATE_LIMIT_SIGNIN_PER_MINUTE,
      accountPerMinute: v.RATE_LIMIT_ACCOUNT_PER_MINUTE,
      enrolmentPerMinute: v.RATE_LIMIT_ENROLMENT_PER_MINUTE,
      tokenPerMinute: v.RATE_LIMIT_TOKEN_PER_MINUTE,
      adminPerMinute: v.RATE_LIMIT_ADMIN_PER_MINUTE,
      lockoutThreshold: v.LOCKOUT_THRESHOLD,
      lockoutSeconds: v.LOCKOUT_SECONDS,
    }),
    site: Object.freeze({
      operator: Object.freeze({ ko: v.SITE_OPERATOR_KO, en: v.SITE_OPERATOR_EN }),
      helpdeskPhone: v.SITE_HELPDESK_PHONE,
      helpUrl: v.SITE_HELP_URL,
      privacyUrl: v.SITE_PRIVACY_URL,
      termsUrl: v.SITE_TERMS_URL,
      accessibilityUrl: v.SITE_ACCESSIBILITY_URL,
    }),
    production,
  });
};

type Parsed = z.infer<typeof schema>;

// Two deployments (issuers) sharing one Redis never share a key: "oneid:" and 8 characters of
// the issuer's SHA-256 (a stable function of ISSUER, so every instance and the CLI agree).
const defaultRedisKeyPrefix = (issuer: string) =>
  `oneid:${createHash('sha256').update(issuer).digest('base64url').slice(0, 8)}:`;

// One topology at a time; the Sentinel/Cluster-only settings are mistakes anywhere else.
const redisProblems = (v: Parsed) => {
  const problems: string[] = [];
  const topologies = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter(
    (key) => v[key],
  );
  if (topologies.length > 1) problems.push(`${topologies.join(', ')}: set only one of them`);
  if (v.REDIS_SENTINELS && !v.REDIS_SENTINEL_NAME)
    problems.push(
      'REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS (the name of the monitored master)',
    );
  for (const key of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
    if (v[key] && !v.REDIS_SENTINELS) problems.push(`${key}: needs REDIS_SENTINELS`);
  }
  if (!v.REDIS_SENTINELS && !v.REDIS_CLUSTER_NODES) {
    for (const key of ['REDIS_USERNAME', 'REDIS_PASSWORD'] as const) {
      if (v[key])
        problems.push(
          `${key}: applies to REDIS_SENTINELS or REDIS_CLUSTER_NODES; with REDIS_URL put it in the URL`,
        );
    }
    if (v.REDIS_TLS)
      problems.push(
        'REDIS_TLS: applies to REDIS_SENTINELS or REDIS_CLUSTER_NODES; with REDIS_URL use rediss://',
      );
  }
  return problems;
};

const redisSettings = (v: Parsed): RedisSettings | undefined => {
  const auth = { username: v.REDIS_USERNAME, password: v.REDIS_PASSWORD, tls: v.REDIS_TLS };
  if (v.REDIS_SENTINELS)
    return Object.freeze({
      mode: 'sentinel',
      sentinels: v.REDIS_SENTINELS,
      name: v.REDIS_SENTINEL_NAME!,
      sentinelPassword: v.REDIS_SENTINEL_PASSWORD,
      ...auth,
    });
  if (v.REDIS_CLUSTER_NODES)
    return Object.freeze({ mode: 'cluster', nodes: v.REDIS_CLUSTER_NODES, ...auth });
  return v.REDIS_URL ? Object.freeze({ mode: 'standalone', url: v.REDIS_URL }) : undefined;
};
