// Revoking a grant straight on the store, without a request context: every token issued under
// it (the models the engine's own revoke helper covers), then the grant itself.
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
