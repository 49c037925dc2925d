// Federation failures: each a readable AppError with a stable code (translated in
// src/http/render/locales/). The citizen's sign-in stays open: another method may still work.
import { AppError } from '../shared/index.ts';

export const upstreamUnknown = () =>
  new AppError('ERR_UPSTREAM_UNKNOWN', 'This sign-in service is not available.', { status: 404 });

/** The upstream did not answer (down, slow, or broken metadata): nothing about the citizen. */
export const upstreamUnavailable = (name: string, cause?: unknown) =>
  new AppError(
    'ERR_UPSTREAM_UNAVAILABLE',
    `${name} is not responding right now. Please try again later, or sign in another way.`,
    { status: 502, cause },
  );

/** The upstream's answer could not be verified (signature, audience, nonce, expiry, ...). */
export const upstreamRejected = (name: string, cause?: unknown) =>
  new AppError(
    'ERR_UPSTREAM_REJECTED',
    `The sign-in through ${name} could not be verified. Please try again, or sign in another way.`,
    { status: 400, cause },
  );

/** The citizen (or the upstream) ended the sign-in there. */
export const upstreamDenied = (name: string) =>
  new AppError('ERR_UPSTREAM_DENIED', `The sign-in through ${name} was cancelled.`, {
    status: 400,
  });

export const upstreamAcr = () =>
  new AppError(
    'ERR_UPSTREAM_ACR',
    'This service needs a stronger sign-in than this sign-in service provides.',
    { status: 400 },
  );

export const federationExpired = () =>
  new AppError(
    'ERR_FEDERATION_EXPIRED',
    'This sign-in through another service has expired or was already used. Please start again from the sign-in page.',
    { status: 400 },
  );

export const invalidUpstream = (problems: string[]) =>
  new AppError('ERR_INVALID_UPSTREAM', problems.join('; '), { details: { problems } });
