// Request bodies for our own routes (the engine parses its own): JSON or urlencoded forms only,
// with a size limit, and a clear 4xx for anything else.
import coBody from 'co-body';
import type { Context } from 'koa';
import { AppError } from '../shared/index.ts';

const LIMIT = '64kb';

/** PostgreSQL text and jsonb cannot hold U+0000, and no field of ours has a use for it. */
const holdsNul = (value: unknown, depth = 0): boolean => {
  if (typeof value === 'string') return value.includes('\u0000');
  if (!value || typeof value !== 'object' || depth > 32) return false;
  return Object.entries(value).some(
    ([key, inner]) => key.includes('\u0000') || holdsNul(inner, depth + 1),
  );
};

const refuseNul = (body: Record<string, unknown>) => {
  if (holdsNul(body))
    throw new AppError(
      'ERR_BAD_BODY',
      'The request contains a NUL character, which no field accepts.',
    );
  return body;
};

export const readBody = async (ctx: Context): Promise<Record<string, unknown>> => {
  try {
    if (ctx.is('application/json')) {
      const body = await coBody.json(ctx, { limit: LIMIT, strict: true });
      if (!body || typeof body !== 'object' || Array.isArray(body))
        throw new AppError('ERR_BAD_BODY', 'The request body must be a JSON object.');
      return refuseNul(body as Record<string, unknown>);
    }
    if (ctx.is('application/x-www-form-urlencoded'))
      return refuseNul(
        (await coBody.form(ctx, {
          limit: LIMIT,
          queryString: { depth: 0, parameterLimit: 100 },
        })) as Record<string, unknown>,
      );
  } catch (error) {
    if (error instanceof AppError) throw error;
    const status = (error as { status?: number }).status;
    throw new AppError(
      'ERR_BAD_BODY',
      status === 413 ? 'The request body is too large.' : 'The request body could not be read.',
      { status: status === 413 ? 413 : 400 },
    );
  }
  throw new AppError('ERR_UNSUPPORTED_MEDIA_TYPE', 'Send JSON or a form.', { status: 415 });
};

export const stringField = (
  body: Record<string, unknown>,
  name: string,
  max = 2000,
): string | undefined => {
  const value = body[name];
  return typeof value === 'string' && value.length <= max ? value : undefined;
};
