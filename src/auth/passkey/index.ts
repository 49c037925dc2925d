export { createPasskeyService, passkeyAmr } from './passkey-service.ts';
export type { Checked, PasskeyService, SignInContext } from './passkey-service.ts';
export { listCredentials } from './credential-repo.ts';
export type { PasskeyCredential } from './credential-repo.ts';
