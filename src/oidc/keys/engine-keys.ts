// One-ID's signing keys: the engine's key set, and the current ES256 key that signs requests to
// other agencies' claims endpoints and the events telling them to refuse a distributed token.
import { importJWK, type CryptoKey } from 'jose';
import type { Knex } from 'knex';
import type { Config } from '../../config/index.ts';
import type { Clock, SecretBox } from '../../shared/index.ts';
import type { ChangeFeed } from '../../store/index.ts';
import type { ClaimSourceSigner } from '../claims/claim-sources.ts';
import { createSigningKeyService } from './signing-keys.ts';

/** Creates the service and makes sure a key set exists and keys due are active. */
export const createEngineKeys = async (deps: {
  knex: Knex;
  secretBox: SecretBox;
  clock: Clock;
  /** KEY_ACTIVATION_DELAY_SECONDS: a new key is published this long before it signs. */
  config: Pick<Config, 'keyActivationDelaySeconds'>;
  /** Where a revoked key is announced to every instance (none: PostgreSQL without Redis). */
  feed?: ChangeFeed | undefined;
}) => {
  const { knex, secretBox, clock, feed } = deps;
  const activationDelaySeconds = deps.config.keyActivationDelaySeconds;
  const service = createSigningKeyService({ knex, secretBox, clock, activationDelaySeconds, feed });
  await service.ensureKeys();
  await service.activateDue();
  let signer: Promise<ClaimSourceSigner> | undefined;
  return {
    service,
    /** The current ES256 key, imported once per engine build. */
    signer: () =>
      (signer ??= service.engineJwks().then(async ({ keys }) => {
        const jwk = keys.find((k) => k.alg === 'ES256')!;
        return { key: (await importJWK(jwk, 'ES256')) as CryptoKey, kid: jwk.kid!, alg: 'ES256' };
      })),
    /** The key set changed (the engine is being rebuilt): import the signer again. */
    forgetSigner: () => void (signer = undefined),
  };
};

export type EngineKeys = Awaited<ReturnType<typeof createEngineKeys>>;
