// Keyset pagination for every admin list: `?limit=N&after=CURSOR`, where the cursor is the last
// item's key (opaque to callers). Never OFFSET: page 10 000 costs what page 1 costs.
import { AppError } from '../shared/index.ts';

export type Page<T> = { items: T[]; next: string | null };
export type PageRequest = { after?: string | undefined; limit?: number | undefined };

export const MAX_LIMIT = 200;

const badParam = (field: string, message: string) =>
  new AppError('ERR_BAD_PARAMETER', `${field}: ${message}`, { details: { field } });

/** Validates a page request from strings (query parameters or CLI options). */
export const pageRequest = (limit: unknown, after: unknown): PageRequest => {
  let n: number | undefined;
  if (limit !== undefined && limit !== '') {
    n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT)
      throw badParam('limit', `must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  if (after !== undefined && (typeof after !== 'string' || after.length > 400))
    throw badParam('after', 'must be a cursor from a previous page');
  return {
    ...(n !== undefined && { limit: n }),
    ...(typeof after === 'string' && after && { after }),
  };
};

export const encodeCursor = (key: string) => Buffer.from(key, 'utf8').toString('base64url');

export const decodeCursor = (cursor: string | undefined): string | undefined => {
  if (!cursor) return undefined;
  if (!/^[\w-]+$/.test(cursor)) throw badParam('after', 'must be a cursor from a previous page');
  return Buffer.from(cursor, 'base64url').toString('utf8');
};

/** Rows fetched with `limit + 1`: the extra one only says whether a next page exists. */
export const toPage = <R, T>(
  rows: R[],
  limit: number,
  key: (row: R) => string,
  map: (row: R) => T,
): Page<T> => ({
  items: rows.slice(0, limit).map(map),
  next: rows.length > limit ? encodeCursor(key(rows[limit - 1]!)) : null,
});
