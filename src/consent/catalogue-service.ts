// The claims catalogue: one source for every data item's labels, scopes and source.
import seedItems from './catalogue.json' with { type: 'json' };
import type { Knex } from 'knex';
import { z } from 'zod';
import { appendAudit } from '../audit/index.ts';
import { AppError } from '../shared/index.ts';
import {
  catalogueVersion,
  listCatalogue,
  seedCatalogue,
  upsertCatalogueItem,
  type CatalogueItem,
} from './catalogue-repo.ts';

const bilingual = z.object({
  ko: z.string().trim().min(1).max(200),
  en: z.string().trim().min(1).max(200),
});
const httpsUrl = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      const url = new URL(v);
      return (
        url.protocol === 'https:' ||
        (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname))
      );
    } catch {
      return false;
    }
  }, 'must be an https URL (http only for localhost)');

export const catalogueItemSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]{1,63}$/, 'must be lower_snake_case'),
    label: bilingual,
    description: z.object({
      ko: z.string().trim().min(1).max(500),
      en: z.string().trim().min(1).max(500),
    }),
    sensitivity: z.enum(['low', 'medium', 'high']),
    scopes: z.array(z.string().regex(/^[a-z][a-z0-9_]{1,63}$/)).min(1),
    source: z.enum(['one-id', 'agency']).default('one-id'),
    sourceAgency: z.string().trim().min(1).max(200).optional(),
    sourceEndpoint: httpsUrl.optional(),
    sourceJwksUri: httpsUrl.optional(),
    sourceClientId: z.string().max(100).optional(),
    delivery: z.enum(['aggregated', 'distributed']).optional(),
    sourceEventsUri: httpsUrl.optional(),
  })
  .strict()
  .superRefine((i, ctx) => {
    if (i.source === 'agency') {
      for (const key of [
        'sourceAgency',
        'sourceEndpoint',
        'sourceJwksUri',
        'sourceClientId',
        'delivery',
      ] as const) {
        if (!i[key])
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'is required for a claim held by another agency',
          });
      }
      // A withdrawal must reach the holder of a distributed token at once (docs/claim-sources.md 3).
      if (i.delivery === 'distributed' && !i.sourceEventsUri)
        ctx.addIssue({
          code: 'custom',
          path: ['sourceEventsUri'],
          message: 'is required for distributed delivery',
        });
    }
  });

export const createCatalogueService = ({ knex }: { knex: Knex }) => ({
  /** Adds One-ID's own claims from the data file where missing. Safe on every start. */
  seed: async () =>
    seedCatalogue(
      knex,
      (seedItems as unknown[]).map((i) => catalogueItemSchema.parse(i) as CatalogueItem),
    ),
  list: () => listCatalogue(knex),
  version: () => catalogueVersion(knex),
  /** Adds or edits an item (e.g. a claim served by another agency); audited with before/after. */
  async put(input: unknown, actor: string): Promise<CatalogueItem> {
    const parsed = catalogueItemSchema.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (i) => `${i.path.join('.') || 'item'}: ${i.message}`,
      );
      throw new AppError('ERR_INVALID_CLAIM', problems.join('; '), { details: { problems } });
    }
    const item = parsed.data as CatalogueItem;
    await knex.transaction(async (trx) => {
      const before = (await listCatalogue(trx)).find((i) => i.name === item.name);
      await upsertCatalogueItem(trx, item);
      await appendAudit(trx, {
        action: before ? 'claims.updated' : 'claims.created',
        actor,
        subject: `claim:${item.name}`,
        details: { before, after: item },
      });
    });
    return item;
  },
});

export type CatalogueService = ReturnType<typeof createCatalogueService>;
