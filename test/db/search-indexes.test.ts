/**
 * Every filter of `events(filter)` and `deliveries(filter)` is served by an index, and since/until
 * prune partitions: the plans of the very queries the stores run (src/db/scoped/search.ts).
 * Sequential scans are switched off so that the plan names the index the planner would use on a
 * large table; on the test's tiny tables it would rightly scan.
 */
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseClient } from '../../src/db/client.js';
import { deliverySearchQuery, eventSearchQuery, type DeliverySearch, type EventSearch } from '../../src/db/scoped/search.js';
import { createMigratedDatabase } from '../support/database.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

interface Scan {
  relation: string;
  /** The index of the parent table (for a partition's index), or the node type when it uses none. */
  access: string;
}

function scans(node: PlanNode): { relation: string; index?: string | undefined; type: string }[] {
  const own = node['Relation Name'] && node['Node Type'].endsWith('Scan') ? [{ relation: node['Relation Name'], index: node['Index Name'], type: node['Node Type'] }] : [];
  return [...own, ...(node.Plans ?? []).flatMap(scans)];
}

const TENANT = 'ten_a';
const HOUR = 3_600_000;

describe('indexes and partitions of event and delivery searches', () => {
  let url: string;
  let sql: Sql;
  let client: DatabaseClient;

  beforeAll(async () => {
    url = await createMigratedDatabase();
    sql = postgres(url, { max: 1, onnotice: () => {} });
    client = connectDatabase(url, { max: 1 });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await client?.close();
  });

  /** The scans of a statement's plan: each relation read, and the index of its parent table it reads through. */
  async function plan(query: { toSQL(): { sql: string; params: unknown[] } }): Promise<Scan[]> {
    const { sql: text, params } = query.toSQL();
    return sql.begin(async (tx) => {
      await tx`set local enable_seqscan = off`;
      const [row] = await tx.unsafe<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>(`explain (format json) ${text}`, params as never[]);
      const parents = await tx<{ child: string; parent: string }[]>`
        select c.relname as child, p.relname as parent from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
        where c.relkind = 'i'`;
      const parentOf = new Map(parents.map((entry) => [entry.child, entry.parent]));
      return scans(row!['QUERY PLAN'][0].Plan).map((scan) => ({
        relation: scan.relation,
        access: scan.index ? (parentOf.get(scan.index) ?? scan.index) : scan.type,
      }));
    });
  }

  /** True when the plan reads through `index` (or one of them). */
  const servedBy = (found: Scan[], index: string | string[]) =>
    found.some((scan) => (typeof index === 'string' ? [index] : index).includes(scan.access)) || found.map((scan) => scan.access);

  it('serves each event filter from an index that the tenant leads', async () => {
    const cases: [EventSearch, string | string[]][] = [
      [{}, 'events_pkey'],
      [{ eventTypes: ['a.b', 'c.d'] }, 'events_tenant_type_idx'],
      [{ orderingKey: 'k' }, 'events_tenant_ordering_key_idx'],
      [{ idempotencyKey: 'k' }, 'event_idempotency_keys_pkey'],
      [{ subscriptionId: 'sub_a' }, 'deliveries_subscription_status_idx'],
      [{ subscriptionId: 'sub_a', deliveryStatus: 'FAILED' }, 'deliveries_subscription_status_idx'],
      [{ deliveryStatus: 'FAILED' }, 'deliveries_subscription_status_idx'],
    ];
    for (const [search, index] of cases) {
      const found = await plan(eventSearchQuery(client.db, TENANT, search, 'evt_ffffffffffff', 21));
      expect.soft({ search, served: servedBy(found, index) }).toEqual({ search, served: true });
      expect.soft({ search, scans: found.filter((scan) => scan.access === 'Seq Scan') }).toEqual({ search, scans: [] });
    }
  });

  it('serves each delivery filter from an index that the tenant (or its subscription) leads', async () => {
    const cases: [DeliverySearch, string | string[]][] = [
      [{}, 'deliveries_pkey'],
      [{ subscriptionId: 'sub_a' }, 'deliveries_subscription_status_idx'],
      [{ subscriptionId: 'sub_a', status: 'FAILED' }, 'deliveries_subscription_status_idx'],
      // A status alone: the same index, once per subscription of the tenant.
      [{ status: 'FAILED' }, 'deliveries_subscription_status_idx'],
      [{ status: 'HELD' }, 'deliveries_subscription_status_idx'],
      [{ status: 'PENDING' }, 'deliveries_subscription_status_idx'],
      // Most deliveries succeed: the primary key, newest first, finds them at once.
      [{ status: 'SUCCEEDED' }, 'deliveries_pkey'],
      [{ eventTypes: ['a.b'] }, 'events_tenant_type_idx'],
    ];
    for (const [search, index] of cases) {
      const found = await plan(deliverySearchQuery(client.db, TENANT, search, 'dlv_ffffffffffff', 21));
      expect.soft({ search, served: servedBy(found, index) }).toEqual({ search, served: true });
      expect.soft({ search, scans: found.filter((scan) => scan.access === 'Seq Scan') }).toEqual({ search, scans: [] });
    }
  });

  it('reads only the partitions of the since/until window', async () => {
    const windows = await sql<{ table_name: string; partition_name: string; from_at: Date | null; to_at: Date | null }[]>`
      select table_name, partition_name, from_at, to_at from hooklane_partition_windows() where attached and from_at is not null and to_at is not null
      order by from_at`;
    const eventWindows = windows.filter((window) => window.table_name === 'events');
    expect(eventWindows.length).toBeGreaterThan(1);
    const inside = eventWindows[0]!;
    const since = new Date(inside.from_at!.getTime() + 1);
    const until = new Date(Math.min(inside.to_at!.getTime() - 1, since.getTime() + HOUR));

    const allEvents = new Set((await plan(eventSearchQuery(client.db, TENANT, {}, undefined, 21))).map((scan) => scan.relation));
    const windowEvents = new Set((await plan(eventSearchQuery(client.db, TENANT, { since, until }, undefined, 21))).map((scan) => scan.relation));
    expect([...windowEvents]).toEqual([inside.partition_name]);
    expect(allEvents.size).toBeGreaterThan(1);

    const deliveryWindow = windows.find((window) => window.table_name === 'deliveries' && window.from_at!.getTime() === inside.from_at!.getTime())!;
    const windowDeliveries = await plan(deliverySearchQuery(client.db, TENANT, { since, until, status: 'FAILED' }, undefined, 21));
    expect([...new Set(windowDeliveries.map((scan) => scan.relation).filter((relation) => relation.startsWith('deliveries')))]).toEqual([
      deliveryWindow.partition_name,
    ]);
  });
});
