// Errors as log fields: the type, a clipped message, the code and the stack, nothing else.
const clip = (value: unknown, max = 200) =>
  typeof value === 'string' ? value.slice(0, max) : undefined;

/**
 * An error without its own fields: drivers attach values (a PostgreSQL error's `detail` holds
 * the row's data), and the engine's errors may carry request parameters.
 */
export const safeError = (err: unknown) =>
  err instanceof Error
    ? {
        type: err.constructor.name,
        message: clip(err.message, 500),
        code: (err as { code?: unknown }).code,
        stack: err.stack,
      }
    : { type: typeof err };
