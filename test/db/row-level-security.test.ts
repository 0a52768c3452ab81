import postgres, { type Sql, type TransactionSql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, createSubscription, publish, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

// The second wall between tenants, checked directly in SQL with the role the application uses
// (hooklane_app, taken on at connection start-up): without a declared tenant nothing is visible,
// with one only that tenant's rows are, and writes for another tenant are refused.

const TENANT_TABLES = ['events', 'event_idempotency_keys', 'subscriptions', 'deliveries', 'delivery_attempts', 'delivery_stats', 'event_types', 'tenant_usage', 'audit_log'] as const;
const ALL_TABLES = [...TENANT_TABLES, 'tenants'] as const;

let hooklane: TestHooklane;
let receiver: TestReceiver;
let app: Sql;
let a: { id: string; token: string; subscriptionId: string };
let b: { id: string; token: string; subscriptionId: string };

async function seed(name: string) {
  const tenant = await hooklane.createTenant(name);
  await createEventType(hooklane, tenant.token, { name: 'rls.test' });
  const { subscription } = await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['rls.test'] });
  const event = await publish(hooklane, tenant.token, { eventType: 'rls.test', payload: { tenant: name }, idempotencyKey: `${name}-key` });
  await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');
  return { ...tenant, subscriptionId: subscription.id };
}

/** Rows of `table` per tenant id, as the app role sees them inside `tx`. */
async function visible(tx: Sql | TransactionSql, table: string): Promise<Map<string, number>> {
  const column = table === 'tenants' ? 'id' : 'tenant_id';
  const rows = await tx.unsafe<{ tenant: string; count: number }[]>(
    `select ${column} as tenant, count(*)::int as count from ${table} group by ${column}`,
  );
  return new Map(rows.map((row) => [row.tenant, row.count]));
}

beforeAll(async () => {
  receiver = await TestReceiver.start();
  hooklane = await startTestHooklane();
  a = await seed('rls-a');
  b = await seed('rls-b');
  app = postgres(hooklane.databaseUrl, { max: 1, onnotice: () => {}, connection: { role: 'hooklane_app' } as Record<string, string> });
});

afterAll(async () => {
  await app?.end({ timeout: 5 });
  await hooklane?.stop();
  await receiver?.close();
});

describe('row-level security for hooklane_app', () => {
  it('runs as hooklane_app, which has no BYPASSRLS and is not a superuser', async () => {
    const [who] = await app`select current_user as role`;
    expect(who!.role).toBe('hooklane_app');
    const [role] = await app`select rolbypassrls, rolsuper from pg_roles where rolname = 'hooklane_app'`;
    expect(role).toEqual({ rolbypassrls: false, rolsuper: false });
  });

  it('the owner connection sees both tenants’ data in every table (so the checks below are meaningful)', async () => {
    for (const table of TENANT_TABLES) {
      const counts = await visible(hooklane.sql, table);
      expect(counts.get(a.id) ?? 0, table).toBeGreaterThan(0);
      expect(counts.get(b.id) ?? 0, table).toBeGreaterThan(0);
    }
  });

  it.each(ALL_TABLES)('sees no row of %s without hooklane.tenant_id', async (table) => {
    const [row] = await app.unsafe<{ count: number }[]>(`select count(*)::int as count from ${table}`);
    expect(row!.count).toBe(0);
    // Empty or bogus settings do not help either.
    await app.begin(async (tx) => {
      await tx`select set_config('hooklane.tenant_id', '', true)`;
      const [empty] = await tx.unsafe<{ count: number }[]>(`select count(*)::int as count from ${table}`);
      expect(empty!.count).toBe(0);
      await tx`select set_config('hooklane.platform', 'yes', true)`;
      const [bogus] = await tx.unsafe<{ count: number }[]>(`select count(*)::int as count from ${table}`);
      expect(bogus!.count).toBe(0);
    });
  });

  it('a transaction declaring tenant A sees only A’s rows', async () => {
    await app.begin(async (tx) => {
      await tx`select set_config('hooklane.tenant_id', ${a.id}, true)`;
      for (const table of ALL_TABLES) {
        const counts = await visible(tx, table);
        expect(counts.get(a.id) ?? 0, table).toBeGreaterThan(0);
        expect([...counts.keys()], table).toEqual([a.id]);
      }
      const byId = await tx`select id from subscriptions where id = ${b.subscriptionId}`;
      expect(byId).toHaveLength(0);
    });
    // The setting was transaction-local: gone afterwards.
    const [after] = await app`select count(*)::int as count from events`;
    expect(after!.count).toBe(0);
  });

  it('an UPDATE or DELETE of B’s rows as A changes nothing', async () => {
    await app.begin(async (tx) => {
      await tx`select set_config('hooklane.tenant_id', ${a.id}, true)`;
      const updated = await tx`update subscriptions set url = 'http://attacker.invalid/' where id = ${b.subscriptionId}`;
      expect(updated.count).toBe(0);
      const deleted = await tx`delete from events where tenant_id = ${b.id}`;
      expect(deleted.count).toBe(0);
      const everything = await tx`update subscriptions set description = 'touched by a'`;
      expect(everything.count).toBe(1);
      throw new Error('rollback');
    }).catch((error: Error) => {
      if (error.message !== 'rollback') throw error;
    });
    const [sub] = await hooklane.sql`select url, description from subscriptions where id = ${b.subscriptionId}`;
    expect(sub!.url).toBe(receiver.url);
    const [events] = await hooklane.sql`select count(*)::int as count from events where tenant_id = ${b.id}`;
    expect(events!.count).toBe(1);
  });

  it('an UPDATE that moves A’s row to B fails WITH CHECK', async () => {
    await expect(
      app.begin(async (tx) => {
        await tx`select set_config('hooklane.tenant_id', ${a.id}, true)`;
        await tx`update event_types set tenant_id = ${b.id} where tenant_id = ${a.id}`;
      }),
    ).rejects.toThrow(/row-level security/);
  });

  it('an INSERT of a row for tenant B as A fails WITH CHECK', async () => {
    await expect(
      app.begin(async (tx) => {
        await tx`select set_config('hooklane.tenant_id', ${a.id}, true)`;
        await tx`insert into event_types (id, tenant_id, name) values ('evtype_rls_intruder', ${b.id}, 'intruder.type')`;
      }),
    ).rejects.toThrow(/row-level security/);
    await expect(app`insert into event_types (id, tenant_id, name) values ('evtype_rls_nobody', ${b.id}, 'nobody.type')`).rejects.toThrow(
      /row-level security/,
    );
    const [row] = await hooklane.sql`select count(*)::int as count from event_types where name in ('intruder.type', 'nobody.type')`;
    expect(row!.count).toBe(0);
  });

  it('cannot read or write a partition directly: rows are reached through their parent, under its policies', async () => {
    const partitions = await hooklane.sql<{ name: string }[]>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent in ('events'::regclass, 'deliveries'::regclass, 'delivery_attempts'::regclass)`;
    expect(partitions.length).toBeGreaterThanOrEqual(9);
    for (const { name } of partitions) {
      await expect(app.unsafe(`select count(*) from ${name}`), name).rejects.toThrow(/permission denied/);
      await expect(app.unsafe(`delete from ${name}`), name).rejects.toThrow(/permission denied/);
    }
  });

  it('sees the platform audit log only as platform work', async () => {
    await hooklane.sql`insert into platform_audit_log (id, actor_role, action, target_id) values ('aud_rls_platform', 'admin', 'deleteTenant', 'ten_gone')`;
    await app.begin(async (tx) => {
      await tx`select set_config('hooklane.tenant_id', ${a.id}, true)`;
      expect(await tx`select id from platform_audit_log`).toHaveLength(0);
    });
    await app.begin(async (tx) => {
      await tx`select set_config('hooklane.platform', 'on', true)`;
      expect((await tx`select id from platform_audit_log`).map((row) => row.id)).toContain('aud_rls_platform');
    });
  });

  it('hooklane.platform = on sees every tenant (operator work)', async () => {
    await app.begin(async (tx) => {
      await tx`select set_config('hooklane.platform', 'on', true)`;
      const counts = await visible(tx, 'tenants');
      expect(counts.has(a.id) && counts.has(b.id)).toBe(true);
    });
  });

  it('cannot touch graphile_worker tables directly, but may enqueue through hooklane_enqueue_jobs', async () => {
    await expect(app`select count(*) from graphile_worker._private_jobs`).rejects.toThrow(/permission denied/);
    await expect(app`select count(*) from graphile_worker.jobs`).rejects.toThrow(/permission denied/);
    await expect(app`delete from graphile_worker._private_jobs`).rejects.toThrow(/permission denied/);
    await expect(app`select graphile_worker.add_job('deliver', '{}'::json)`).rejects.toThrow(/permission denied/);
    const [result] = await app`select hooklane_enqueue_jobs('[]'::json, false) as done`;
    expect(result).toBeDefined();
  });
});
