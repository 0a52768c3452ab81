/**
 * The reads of deliveries by subscription are served by one index, deliveries_subscription_status_idx,
 * so that no (subscription_id, id) index is needed. Sequential scans
 * are switched off so that the plan names the index the planner would use on a large table; on
 * the test's tiny table it would rightly scan.
 */
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabase } from '../support/database.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** Every scan of a partition of `deliveries` in the plan: the index it uses, or the node type when it uses none. */
function deliveriesScans(node: PlanNode): string[] {
  const scan = /^deliveries(_|$)/.test(node['Relation Name'] ?? '') && node['Node Type'].endsWith('Scan');
  const own = scan ? [node['Index Name'] ?? node['Node Type']] : [];
  return [...own, ...(node.Plans ?? []).flatMap(deliveriesScans)];
}

describe('indexes of deliveries', () => {
  let sql: Sql;

  beforeAll(async () => {
    const url = await createMigratedDatabase();
    sql = postgres(url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql.end({ timeout: 5 });
  });

  async function indexesUsed(statement: string): Promise<string[]> {
    return sql.begin(async (tx) => {
      await tx`set local enable_seqscan = off`;
      const [row] = await tx.unsafe<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>(`explain (format json) ${statement}`);
      // deliveries is partitioned: each partition's index, by the index of deliveries it is part of.
      const parents = await tx<{ child: string; parent: string }[]>`
        select c.relname as child, p.relname as parent from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
        where c.relkind = 'i'`;
      const parentOf = new Map(parents.map((row) => [row.child, row.parent]));
      return [...new Set(deliveriesScans(row!['QUERY PLAN'][0].Plan).map((index) => parentOf.get(index) ?? index))];
    });
  }

  it('serves every read by subscription from (subscription_id, status, id)', async () => {
    const bySubscription = "d.tenant_id = 'ten_a' AND d.subscription_id = 'sub_a'";
    const reads = [
      // Deleting a subscription deletes its deliveries (hooklane_delete_dependents).
      `DELETE FROM deliveries d USING (VALUES ('sub_a', 'ten_a')) AS gone(id, tenant_id) WHERE d.subscription_id = gone.id AND d.tenant_id = gone.tenant_id`,
      // The oldest due delivery, and the head of an ordered stream.
      `SELECT d.id FROM deliveries d WHERE ${bySubscription} AND d.status = 'PENDING' ORDER BY d.id LIMIT 1`,
      `SELECT d.id FROM deliveries d WHERE ${bySubscription} AND d.status = 'PENDING' AND d.ordering_key = 'k' ORDER BY d.id LIMIT 1`,
      // Held deliveries, released or discarded; failed ones in a window, re-sent.
      `SELECT d.id FROM deliveries d WHERE ${bySubscription} AND d.status = 'HELD'`,
      `SELECT count(*) FROM deliveries d WHERE ${bySubscription} AND d.status = 'FAILED' AND d.created_at >= now() - interval '1 day' AND d.created_at < now()`,
    ];
    for (const read of reads) {
      expect({ read, indexes: await indexesUsed(read) }).toEqual({ read, indexes: ['deliveries_subscription_status_idx'] });
    }
    const [dropped] = await sql<{ n: number }[]>`select count(*)::int as n from pg_indexes where indexname = 'deliveries_subscription_idx'`;
    expect(dropped!.n).toBe(0);
  });
});
