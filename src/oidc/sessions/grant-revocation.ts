// Revoking a grant straight on the store, without a request context: every token issued under
// it (the models the engine's own revoke helper covers), then the grant itself. The one revoker:
// single-use reuse, sessions ending and consents ending all revoke through it.
import type { AdapterConstructor } from 'oidc-provider';

export const GRANTABLE_MODELS = [
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
];

export const createGrantRevoker = (Adapter: AdapterConstructor) => {
  const grantables = GRANTABLE_MODELS.map((model) => new Adapter(model));
  const grants = new Adapter('Grant');
  return async (grantId: string): Promise<void> => {
    await Promise.all(grantables.map((adapter) => adapter.revokeByGrantId(grantId)));
    await grants.destroy(grantId);
  };
};

/** Revokes each grant in turn (a consent's grants when it ends). */
export const createGrantsRevoker = (Adapter: AdapterConstructor) => {
  const revoke = createGrantRevoker(Adapter);
  return async (grantIds: readonly string[]): Promise<void> => {
    for (const grantId of grantIds) await revoke(grantId);
  };
};
