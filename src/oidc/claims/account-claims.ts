// What One-ID asserts about a citizen. The engine filters these by the grant (consent).
import type { Account } from '../../accounts/index.ts';
import type { CatalogueItem } from '../../consent/index.ts';

/** Claims that travel with another (their consent is the other's). */
const COMPANIONS: Record<string, string[]> = {
  email: ['email_verified'],
  phone_number: ['phone_number_verified'],
};

/** Scope -> claims, from the claims catalogue (OIDC Core 5.4 for the standard ones). */
export const scopeClaims = (catalogue: CatalogueItem[]): Record<string, string[]> => {
  const result: Record<string, string[]> = {};
  for (const item of catalogue) {
    for (const scope of item.scopes)
      (result[scope] ??= []).push(item.name, ...(COMPANIONS[item.name] ?? []));
  }
  return result;
};

export const accountClaims = (
  account: Account,
  sub: string,
): { sub: string; [claim: string]: unknown } => ({
  sub,
  name: account.name,
  ...(account.birthdate && { birthdate: account.birthdate }),
  ...(account.gender && { gender: account.gender }),
  ...(account.address && { address: account.address }),
  // Attributes recorded at the service counter were checked by an operator: verified.
  ...(account.email && { email: account.email, email_verified: true }),
  ...(account.phoneNumber && { phone_number: account.phoneNumber, phone_number_verified: true }),
});

/**
 * `agency_member_id`: the member id an agency system linked to the citizen (agency account
 * links), looked up for the client asking (`clientId`) only, so it only ever returns to the
 * agency that wrote it. Asked for by its scope or the claims parameter; the grant (consent)
 * filters it like any other item.
 */
export const agencyMemberClaim = async (
  memberId: ((clientId: string, accountId: string) => Promise<string | undefined>) | undefined,
  clientId: string | undefined,
  accountId: string,
  request: { scope: string; claims: Record<string, unknown> | undefined; rejected: string[] },
): Promise<{ agency_member_id?: string }> => {
  const asked =
    request.scope.split(' ').includes('agency_member_id') ||
    Object.prototype.hasOwnProperty.call(request.claims ?? {}, 'agency_member_id');
  if (!memberId || !clientId || !asked || request.rejected.includes('agency_member_id')) return {};
  const value = await memberId(clientId, accountId);
  return value ? { agency_member_id: value } : {};
};
