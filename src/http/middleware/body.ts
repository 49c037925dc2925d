// Request bodies for our own routes (the engine parses its own): JSON or urlencoded forms only,
// with a size limit, and a clear 4xx for anything else.
import coBody from 'co-body';
import type { Context } from 'koa';
import { AppError } from '../../shared/index.ts';

const LIMIT = '64kb';

/**
 * What PostgreSQL cannot store: U+0000 (text and jsonb), and a lone UTF-16 surrogate, which jsonb
 * refuses as an escape (`"\ud800"`) and text would silently turn into U+FFFD.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unstorable = (text: string) =>
  text.includes('\u0000')
    ? 'a NUL character'
    : LONE_SURROGATE.test(text)
      ? 'a lone surrogate'
      : undefined;

/** The first field (dotted path) holding unstorable text, in a key or a value; undefined when none. */
const findUnstorable = (
  value: unknown,
  path = '',
  depth = 0,
): { field: string; what: string } | undefined => {
  if (typeof value === 'string') {
    const what = unstorable(value);
    return what ? { field: path || '(body)', what } : undefined;
  }
  if (!value || typeof value !== 'object' || depth > 32) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const field = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    const what = unstorable(key);
    if (what) return { field, what };
    const found = findUnstorable(inner, field, depth + 1);
    if (found) return found;
  }
  return undefined;
};

/** Refuses (400, naming the field) a JSON or form value the database could not store; `field`: where `body` sits. */
export const refuseUnstorable = <T>(body: T, field = ''): T => {
  const found = findUnstorable(body, field);
  if (found)
    throw new AppError(
      'ERR_BAD_BODY',
      `${found.field}: contains ${found.what}, which no field accepts`,
      { details: { field: found.field } },
    );
  return body;
};

/**
 * The body as an object. `fields`: how many form fields are read (more are dropped by the
 * parser), 100 unless a form needs more (the console's system form: a row per catalogue item).
 */
export const readBody = async (
  ctx: Context,
  { fields = 100 }: { fields?: number } = {},
): Promise<Record<string, unknown>> => {
  try {
    if (ctx.is('application/json')) {
      const body = await coBody.json(ctx, { limit: LIMIT, strict: true });
      if (!body || typeof body !== 'object' || Array.isArray(body))
        throw new AppError('ERR_BAD_BODY', 'The request body must be a JSON object.');
      return refuseUnstorable(body as Record<string, unknown>);
    }
    if (ctx.is('application/x-www-form-urlencoded'))
      return refuseUnstorable(
        (await coBody.form(ctx, {
          limit: LIMIT,
          queryString: { depth: 0, parameterLimit: fields },
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
