import { AppError } from '../../shared/index.ts';

/** A WebAuthn ceremony failed: shown to the citizen as a readable, retryable error. */
export const passkeyFailed = (reason: string, cause?: unknown) =>
  new AppError('ERR_PASSKEY_VERIFICATION_FAILED', reason, { status: 400, cause });
