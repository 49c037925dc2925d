export { AppError, isAppError } from './app-error.ts';
export { randomToken, newId, sha256, safeEqual } from './ids.ts';
export { systemClock } from './clock.ts';
export type { Clock } from './clock.ts';
export { createSecretBox } from './secret-box.ts';
export type { SecretBox } from './secret-box.ts';
export { createLogger } from './logger.ts';
export { hostCookie } from './cookie-names.ts';
