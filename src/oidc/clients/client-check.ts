// The engine's own validation of client metadata, run when a client is registered or changed
// through the admin API, console, CLI or manifest (dynamic registration runs it anyway): every
// standard field's form, the algorithms offered, the combinations the specifications forbid.
import { generateKeyPairSync } from 'node:crypto';
import type Provider from 'oidc-provider';
import { AppError } from '../../shared/index.ts';
import { clientFeatures, clientSettings } from './client-settings.ts';
import { authMethods, CHECK_CERTIFICATES, fapiFeatures } from './fapi-profile.ts';

/** Throwaway keys of each signing algorithm offered: the engine accepts only algorithms it holds keys for. */
const checkKeys = () => [
  {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    alg: 'ES256',
  },
  {
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
    alg: 'RS256',
  },
];

/** The check stores nothing (and so needs no quick-start in-memory store). */
class NoStorage {
  async upsert() {}
  async find() {
    return undefined;
  }
  async findByUserCode() {
    return undefined;
  }
  async findByUid() {
    return undefined;
  }
  async consume() {}
  async destroy() {}
  async revokeByGrantId() {}
}

/**
 * The engine module, imported without its warning about Node 20 (package.json supports it): CLI
 * commands answer on stderr only with their own problems.
 */
const loadEngine = async () => {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('Unsupported runtime')) warn(...args);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = warn;
  }
};

/** A checker for `issuer`'s client metadata; throws ERR_INVALID_CLIENT_METADATA with the engine's reason. */
export const createEngineMetadataCheck = (issuer: string) => {
  let engine: Provider | undefined;
  return async (metadata: Record<string, unknown>): Promise<void> => {
    // Built on first use with the same client settings as the running provider; never served.
    // Loaded on first use: the CLI imports this module for every command, and needs it for few.
    const { default: Engine, errors } = await loadEngine();
    engine ??= new Engine(issuer, {
      ...clientSettings,
      clientAuthMethods: authMethods(clientSettings.clientAuthMethods, CHECK_CERTIFICATES),
      jwks: { keys: checkKeys() } as never,
      adapter: NoStorage,
      // Every field a security profile may use is accepted here; the running engine offers
      // mutual TLS only where client certificates arrive (fapi-profile.ts).
      features: {
        ...clientFeatures,
        ...fapiFeatures(CHECK_CERTIFICATES),
        devInteractions: { enabled: false },
      },
    });
    // Scopes come from the claims catalogue, which only the running engine knows; it checks them.
    const { scope: _scope, ...rest } = metadata;
    try {
      // The schema only: a sector_identifier_uri is fetched when the engine loads the client.
      new (engine.Client as unknown as new (metadata: object) => object)(rest);
    } catch (error) {
      if (!(error instanceof errors.InvalidClientMetadata)) throw error;
      // The engine's reasons start with the field ("default_max_age must be ..."): name it first.
      const reason = error.error_description ?? error.message;
      const field = /^(\w+) (.*)$/s.exec(reason);
      const problem = field && field[1]! in metadata ? `${field[1]}: ${field[2]}` : reason;
      throw new AppError('ERR_INVALID_CLIENT_METADATA', problem, {
        details: { problems: [problem] },
      });
    }
  };
};
