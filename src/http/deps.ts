// What the HTTP layer uses from the domains below it (types only, plus assurance constants).
export { ACR, acrRank, requestedAcr, satisfiesAcr } from '../auth/index.ts';
export type {
  Checked,
  PasskeyService as PasskeyServiceLike,
  SignInContext,
} from '../auth/passkey/index.ts';
export type ClientLike = {
  clientId: string;
  clientName?: string | undefined;
  logoUri?: string | undefined;
  policyUri?: string | undefined;
  tosUri?: string | undefined;
};
