// Revoking grants in the engine: every token issued under them stops working at once.
import type Provider from 'oidc-provider';

export const revokeGrants = async (provider: Provider, grantIds: string[]): Promise<void> => {
  const models = [
    provider.AccessToken,
    provider.RefreshToken,
    provider.AuthorizationCode,
  ] as unknown as { revokeByGrantId: (id: string) => Promise<void> }[];
  for (const grantId of grantIds) {
    await Promise.all([
      ...models.map((m) => m.revokeByGrantId(grantId)),
      provider.Grant.find(grantId).then((g) => g?.destroy()),
    ]);
  }
};
