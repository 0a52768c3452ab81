/**
 * The key rule that keeps every tenant table distributable by tenant_id (Citus, docs/scaling.md):
 * a table with a tenant_id column has it NOT NULL, and every primary key, unique constraint, unique
 * index and foreign key of it includes tenant_id. A table without tenant_id is the tenants table
 * (distributed by its id) or one that stays on the coordinator, listed here by name so that a new
 * table cannot slip past the rule unnoticed. graphile-worker's schema stays on the coordinator.
 */
import { readFileSync } from 'node:fs';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabase } from '../support/database.js';

/** Tables of the public schema without tenant_id, and why. */
const WITHOUT_TENANT = {
  tenants: 'the distribution root: its id is every other table’s tenant_id',
  platform_audit_log: 'platform actions that outlive their tenant: on the coordinator',
  hooklane_worker_heartbeats: 'worker liveness: on the coordinator, beside graphile-worker',
};

interface KeyRow {
  table: string;
  name: string;
  kind: string;
  columns: string[];
}

describe('the key rule for distributing by tenant_id', () => {
  let sql: Sql;

  beforeAll(async () => {
    const url = await createMigratedDatabase();
    sql = postgres(url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
  });

  /** The tables of the public schema, partitions left out (they take their parent's keys). */
  async function tables(): Promise<{ name: string; tenantColumn: boolean; tenantNotNull: boolean }[]> {
    return sql`
      select c.relname as name, a.attname is not null as "tenantColumn", coalesce(a.attnotnull, false) as "tenantNotNull"
      from pg_class c
      left join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
      order by 1`;
  }

  /** Primary keys, unique constraints, foreign keys and unique indexes of the tables that are not partitions. */
  async function keys(): Promise<KeyRow[]> {
    const constraints = await sql<KeyRow[]>`
      select c.relname as table, k.conname as name, k.contype::text as kind,
        array(select a.attname::text from unnest(k.conkey) as n join pg_attribute a on a.attrelid = k.conrelid and a.attnum = n) as columns
      from pg_constraint k join pg_class c on c.oid = k.conrelid
      where c.relnamespace = 'public'::regnamespace and not c.relispartition and k.contype in ('p', 'u', 'f')`;
    const uniqueIndexes = await sql<KeyRow[]>`
      select c.relname as table, i.relname as name, 'unique index' as kind,
        array(select a.attname::text from unnest(x.indkey) as n join pg_attribute a on a.attrelid = x.indrelid and a.attnum = n) as columns
      from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class c on c.oid = x.indrelid
      where c.relnamespace = 'public'::regnamespace and not c.relispartition and x.indisunique`;
    return [...constraints, ...uniqueIndexes];
  }

  it('finds the tenant tables (not an empty check)', async () => {
    const tenantTables = (await tables()).filter((table) => table.tenantColumn).map((table) => table.name);
    expect(tenantTables).toEqual(
      expect.arrayContaining(['audit_log', 'deliveries', 'delivery_attempts', 'event_idempotency_keys', 'event_types', 'events', 'subscriptions', 'tenant_usage']),
    );
  });

  it('every table has tenant_id NOT NULL, or is one of the tables known to have none', async () => {
    for (const table of await tables()) {
      if (table.tenantColumn) expect(table.tenantNotNull, `${table.name}.tenant_id`).toBe(true);
      else expect(Object.keys(WITHOUT_TENANT), `${table.name} has no tenant_id`).toContain(table.name);
    }
  });

  it('every primary key, unique key and foreign key of a tenant table includes tenant_id', async () => {
    const tenantTables = new Set((await tables()).filter((table) => table.tenantColumn).map((table) => table.name));
    const found = (await keys()).filter((key) => tenantTables.has(key.table));
    expect(found.filter((key) => key.kind === 'p').map((key) => key.table).sort()).toEqual([...tenantTables].sort());
    for (const key of found) expect(key.columns, `${key.kind} ${key.name} on ${key.table}`).toContain('tenant_id');
  });

  it('a foreign key between tables is only ever a tenant table’s tenant_id to tenants', async () => {
    const foreign = await sql<{ table: string; name: string; references: string; columns: string[]; referenced: string[] }[]>`
      select c.relname as table, k.conname as name, r.relname as references,
        array(select a.attname::text from unnest(k.conkey) as n join pg_attribute a on a.attrelid = k.conrelid and a.attnum = n) as columns,
        array(select a.attname::text from unnest(k.confkey) as n join pg_attribute a on a.attrelid = k.confrelid and a.attnum = n) as referenced
      from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_class r on r.oid = k.confrelid
      where k.contype = 'f' and c.relnamespace = 'public'::regnamespace and not c.relispartition`;
    expect(foreign.length).toBeGreaterThan(0);
    for (const key of foreign) {
      expect({ key: key.name, references: key.references, columns: key.columns, referenced: key.referenced }).toEqual({
        key: key.name,
        references: 'tenants',
        columns: ['tenant_id'],
        referenced: ['id'],
      });
    }
  });

  it('docs/scaling.md distributes exactly the tenant tables, tenants first, and keeps the others on the coordinator', async () => {
    const doc = readFileSync(new URL('../../docs/scaling.md', import.meta.url), 'utf8');
    const calls = [...doc.matchAll(/create_distributed_table\('(\w+)', '(\w+)'(?:, colocate_with => '(\w+)')?\)/g)].map(([, table, column, colocateWith]) => ({
      table,
      column,
      colocateWith,
    }));
    const all = await tables();
    const expected = [
      { table: 'tenants', column: 'id', colocateWith: undefined },
      ...all.filter((table) => table.tenantColumn).map((table) => ({ table: table.name, column: 'tenant_id', colocateWith: 'tenants' })),
    ];
    expect(calls[0]).toEqual(expected[0]);
    expect([...calls].sort((x, y) => x.table!.localeCompare(y.table!))).toEqual([...expected].sort((x, y) => x.table.localeCompare(y.table)));
    for (const local of Object.keys(WITHOUT_TENANT).filter((name) => name !== 'tenants')) expect(doc).toContain(`\`${local}\``);
  });

  it('graphile-worker’s tables refer to no tenant table', async () => {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_class r on r.oid = k.confrelid
      where k.contype = 'f' and c.relnamespace = 'graphile_worker'::regnamespace and r.relnamespace = 'public'::regnamespace`;
    expect(row!.n).toBe(0);
  });
});
