// What One-ID asserts about a citizen. The engine filters these by granted scopes and claims.
import type { Account } from '../accounts/index.ts';

/** Standard claims per scope (OIDC Core 5.4). */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'birthdate'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
} as const;

export const accountClaims = (account: Account, sub: string): { sub: string; [claim: string]: unknown } => ({
  sub,
  name: account.name,
  ...(account.birthdate && { birthdate: account.birthdate }),
  // Attributes recorded at the service counter were checked by an operator: verified.
  ...(account.email && { email: account.email, email_verified: true }),
  ...(account.phoneNumber && { phone_number: account.phoneNumber, phone_number_verified: true }),
});
