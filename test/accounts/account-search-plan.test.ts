// The administrators' account search stays an index walk at 14 million accounts: the planner
// serves the name prefix and its order (the LIMIT ends the walk) from accounts_name_search_idx,
// and the email match from accounts_email_idx, never a sequential scan of accounts. The SQL
// explained is the one searchAccounts sends, caught from knex's query event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAccounts } from '../../src/accounts/index.ts';
import { onPostgres, startTestApp, type TestApp } from '../support/app.ts';

type PgConnection = {
  query: (sql: string, values: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;
};
type PlanNode = { 'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string };
type Plan = PlanNode & { Plans?: Plan[] };

const flatten = (plan: Plan): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(flatten)];

let app: TestApp;

/** What searchAccounts finds for `text`, and the plan of the very statement it ran. */
const searchWithPlan = async (text: string) => {
  const sent: { sql: string; bindings: unknown[] }[] = [];
  const listen = (query: { sql: string; bindings: unknown[] }) => sent.push(query);
  app.knex.on('query', listen);
  const found = await searchAccounts(app.knex, text, 20).finally(() =>
    app.knex.off('query', listen),
  );
  expect(sent).toHaveLength(1);
  const [{ sql, bindings }] = sent;
  // The statement as sent (placeholders $1, $2...), on one of the app's own pg connections.
  const connection = (await app.knex.client.acquireConnection()) as PgConnection;
  const explained = await connection
    .query(`explain (format json) ${sql}`, bindings)
    .finally(() => app.knex.client.releaseConnection(connection));
  const [{ Plan: plan }] = explained.rows[0]['QUERY PLAN'] as [{ Plan: Plan }];
  return { found, nodes: flatten(plan) };
};

/** The plan reads accounts through `index` alone: no other index, no sequential scan. */
const usesOnly = (nodes: PlanNode[], index: string) => {
  expect(nodes.flatMap((n) => n['Index Name'] ?? [])).toEqual([index]);
  expect(nodes.map((n) => n['Node Type'])).not.toContain('Seq Scan');
};

describe.skipIf(!onPostgres())('the administrators’ account search on PostgreSQL', () => {
  beforeAll(async () => {
    app = await startTestApp();
    // 20,000 accounts in one statement: a third named 김…, a third Kim <n> (these with an email),
    // a third lee<n>; then statistics, as autovacuum would gather them.
    await app.knex.raw(`
      insert into accounts (id, name, email, webauthn_user_id)
      select gen_random_uuid(),
             case g % 3 when 0 then '김' || md5(g::text) when 1 then 'Kim ' || g else 'lee' || g end,
             case when g % 3 = 1 then 'person' || g || '@Example.org' end,
             'plan-' || g
      from generate_series(1, 20000) g`);
    await app.knex.raw('analyze accounts');
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('walks the name index for a common prefix, in the order asked, without sorting', async () => {
    const { found, nodes } = await searchWithPlan('김');
    usesOnly(nodes, 'accounts_name_search_idx');
    expect(nodes.map((n) => n['Node Type'])).not.toContain('Sort');
    expect(found).toHaveLength(20);
    const names = found.map((a) => a.name);
    expect(names.every((name) => name.startsWith('김'))).toBe(true);
    expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  it('walks it for a rare prefix, with % and _ still taken literally', async () => {
    const rare = await searchWithPlan('Kim 1234');
    usesOnly(rare.nodes, 'accounts_name_search_idx');
    // Kim <g> exists for g % 3 == 1: 1234 and, of 12340-12349, 12340, 12343, 12346, 12349.
    expect(rare.found.map((a) => a.name)).toEqual([
      'Kim 1234',
      'Kim 12340',
      'Kim 12343',
      'Kim 12346',
      'Kim 12349',
    ]);
    for (const text of ['Kim_1', 'lee%']) {
      const escaped = await searchWithPlan(text);
      usesOnly(escaped.nodes, 'accounts_name_search_idx');
      expect(escaped.found).toEqual([]);
    }
  });

  it('finds by email, any case, through the lower(email) index', async () => {
    const { found, nodes } = await searchWithPlan('PERSON1@example.ORG');
    usesOnly(nodes, 'accounts_email_idx');
    expect(found.map((a) => a.name)).toEqual(['Kim 1']);
  });
});
