// The engine's own validation of client metadata, run when a client is registered or changed
// through the admin API, console, CLI or manifest (dynamic registration runs it anyway): every
// standard field's form, the algorithms offered, the combinations the specifications forbid.
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import { AppError } from '../shared/index.ts';
import { clientFeatures, clientSettings } from './client-settings.ts';

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

/** A checker for `issuer`'s client metadata; throws ERR_INVALID_CLIENT_METADATA with the engine's reason. */
export const createEngineMetadataCheck = (issuer: string) => {
  let engine: Provider | undefined;
  return async (metadata: Record<string, unknown>): Promise<void> => {
    // Built on first use with the same client settings as the running provider; never served.
    engine ??= new Provider(issuer, {
      ...clientSettings,
      jwks: { keys: checkKeys() } as never,
      features: { ...clientFeatures, devInteractions: { enabled: false } },
    });
    try {
      // The schema only: a sector_identifier_uri is fetched when the engine loads the client.
      new (engine.Client as unknown as new (metadata: object) => object)(metadata);
    } catch (error) {
      if (!(error instanceof errors.InvalidClientMetadata)) throw error;
      const problem = error.error_description ?? error.message;
      throw new AppError('ERR_INVALID_CLIENT_METADATA', problem, {
        details: { problems: [problem] },
      });
    }
  };
};
