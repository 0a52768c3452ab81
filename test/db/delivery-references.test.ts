import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/db/client.js';
import { APP_ROLE } from '../../src/db/migrate.js';
import { TenantScope } from '../../src/db/tenant-scope.js';
import { newId } from '../../src/ids.js';
import { tenantWithEventType } from '../support/fixtures.js';
import { createSubscription, publish } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';

/**
 * An event's tenant and a delivery's event and subscription are checked once per statement, and
 * deleted with them, by triggers, not by foreign keys. These are the rules the
 * foreign keys kept, including a publish that races the deletion of its subscription.
 */
describe('event and delivery references', () => {
  let hooklane: TestHooklane;
  let sql: Sql;

  beforeAll(async () => {
    // No worker: deliveries stay as written.
    hooklane = await startTestHooklane({ ROLE: 'api' });
    sql = postgres(hooklane.databaseUrl, { max: 3, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql.end({ timeout: 5 });
    await hooklane.stop();
  });

  async function tenantWithSubscription() {
    const tenant = await tenantWithEventType(hooklane);
    const { subscription } = await createSubscription(hooklane, tenant.token, { url: 'http://127.0.0.1:9/hook', eventTypes: ['order.created'] });
    return { tenant, subscriptionId: subscription.id };
  }

  /** One event delivered to one subscription, as a publish writes it. */
  function oneEvent(subscriptionId: string) {
    return { eventId: newId('event'), deliveryId: newId('delivery'), subscriptionId };
  }

  /** Writes `write` for `tenantId` with the function publishing uses (hooklane_write_event_columns). */
  function writeEvent(connection: Sql, tenantId: string, write: ReturnType<typeof oneEvent>) {
    return connection<{ id: string }[]>`select * from hooklane_write_event_columns(${tenantId},
      ${write.eventId}, 'order.created', '{"type":"order.created"}', ${new Date().toISOString()}, '1', null::jsonb,
      ${write.deliveryId}, ${write.eventId}, ${write.subscriptionId}, 'PENDING', null::jsonb,
      '[]'::json, false, null::json, null::bigint) as id`;
  }

  const deliveriesOf = async (subscriptionId: string) =>
    (await sql<{ n: number }[]>`select count(*)::int as n from deliveries where subscription_id = ${subscriptionId}`)[0]!.n;

  /** Runs `work` on a connection of its own (a transaction that stays open across awaits), then releases it. */
  async function onOwnConnection(work: (connection: Sql) => Promise<void>) {
    const connection = await sql.reserve();
    try {
      await work(connection);
    } finally {
      connection.release();
    }
  }

  const backendPid = async (connection: Sql) => (await connection<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;

  /** Resolves once `pid` waits for a lock, so the order of the race is certain. */
  async function waitsForLock(pid: number) {
    for (let i = 0; i < 200; i++) {
      const [row] = await sql<{ wait: string | null }[]>`select wait_event_type as wait from pg_stat_activity where pid = ${pid}`;
      if (row?.wait === 'Lock') return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`backend ${pid} never waited for a lock`);
  }

  it('refuses an event without its tenant, a delivery whose event or subscription its tenant does not have, and a change of either', async () => {
    const a = await tenantWithSubscription();
    const b = await tenantWithSubscription();
    const eventOfA = await publish(hooklane, a.tenant.token, { eventType: 'order.created', payload: { n: 1 } });
    const eventOfB = await publish(hooklane, b.tenant.token, { eventType: 'order.created', payload: { n: 2 } });
    const insert = (tenantId: string, eventId: string, subscriptionId: string) =>
      sql`insert into deliveries (id, tenant_id, event_id, subscription_id) values (${newId('delivery')}, ${tenantId}, ${eventId}, ${subscriptionId})`;
    await expect(insert(b.tenant.id, eventOfA.id, b.subscriptionId)).rejects.toMatchObject({ code: '23503' });
    await expect(insert(b.tenant.id, eventOfB.id, a.subscriptionId)).rejects.toMatchObject({ code: '23503' });
    await expect(insert(b.tenant.id, eventOfB.id, 'sub_nobody')).rejects.toMatchObject({ code: '23503' });
    // In a statement of several rows, one bad row refuses them all.
    await expect(sql`insert into deliveries (id, tenant_id, event_id, subscription_id) values
      (${newId('delivery')}, ${b.tenant.id}, ${eventOfB.id}, ${b.subscriptionId}),
      (${newId('delivery')}, ${b.tenant.id}, ${eventOfA.id}, ${b.subscriptionId})`).rejects.toMatchObject({ code: '23503' });
    expect(await deliveriesOf(b.subscriptionId)).toBe(1);
    await insert(b.tenant.id, eventOfB.id, b.subscriptionId);
    expect(await deliveriesOf(b.subscriptionId)).toBe(2);

    await expect(sql`insert into events (id, tenant_id, event_type, body) values (${newId('event')}, 'ten_nobody', 'order.created', '{}')`)
      .rejects.toMatchObject({ code: '23503' });
    await expect(sql`update events set tenant_id = ${a.tenant.id} where id = ${eventOfB.id}`).rejects.toMatchObject({ code: '23503' });

    const [delivery] = await sql<{ id: string }[]>`select id from deliveries where event_id = ${eventOfB.id} limit 1`;
    await expect(sql`update deliveries set subscription_id = ${a.subscriptionId} where id = ${delivery!.id}`).rejects.toMatchObject({ code: '23503' });
    await expect(sql`update deliveries set event_id = ${eventOfA.id} where id = ${delivery!.id}`).rejects.toMatchObject({ code: '23503' });
    // Updates that leave the references alone pass.
    await sql`update deliveries set subscription_id = subscription_id, attempt_count = 1 where id = ${delivery!.id}`;
  });

  it("vouches for a publish's own deliveries only: what it writes is filtered by tenant, and the next insert is checked again", async () => {
    const a = await tenantWithSubscription();
    const b = await tenantWithSubscription();
    const eventOfA = await publish(hooklane, a.tenant.token, { eventType: 'order.created', payload: { n: 1 } });
    // B's write names A's subscription: the write itself leaves that delivery out.
    const crossing = oneEvent(a.subscriptionId);
    const own = oneEvent(b.subscriptionId);
    await onOwnConnection(async (connection) => {
      await connection`begin`;
      try {
        await writeEvent(connection, b.tenant.id, crossing);
        await writeEvent(connection, b.tenant.id, own);
        const [setting] = await connection<{ vouched: string }[]>`select current_setting('hooklane.deliveries_vouched', true) as vouched`;
        expect(setting!.vouched).toBe('off');
        // Later in the same transaction, an insert of the caller's own is checked as any other.
        await expect(connection`insert into deliveries (id, tenant_id, event_id, subscription_id)
          values (${newId('delivery')}, ${b.tenant.id}, ${eventOfA.id}, ${b.subscriptionId})`).rejects.toMatchObject({ code: '23503' });
      } finally {
        await connection`rollback`;
      }
      await connection`begin`;
      try {
        await writeEvent(connection, b.tenant.id, crossing);
        await writeEvent(connection, b.tenant.id, own);
        await connection`commit`;
      } catch (error) {
        await connection`rollback`;
        throw error;
      }
    });
    expect(await sql`select from events where id in ${sql([crossing.eventId, own.eventId])}`).toHaveLength(2);
    expect(await sql`select from deliveries where event_id = ${crossing.eventId}`).toHaveLength(0);
    expect(await sql`select from deliveries where event_id = ${own.eventId} and subscription_id = ${b.subscriptionId}`).toHaveLength(1);
    expect(await deliveriesOf(a.subscriptionId)).toBe(1);
  });

  it('refuses, before writing anything, a write whose column values would not split back into its rows', async () => {
    const { tenant, subscriptionId } = await tenantWithSubscription();
    const client = connectDatabase(hooklane.databaseUrl, { max: 1, role: APP_ROLE });
    try {
      const events = new TenantScope(client.db, tenant.id).events;
      const planFor = (eventType: string, body: string) => {
        const eventId = newId('event');
        return {
          eventId,
          plan: {
            events: [{ id: eventId, eventType, body, idempotencyKey: null, orderingKey: null, channels: null, eventTypeVersion: 1, createdAt: new Date() }],
            deliveries: [{ id: newId('delivery'), eventId, subscriptionId, status: 'PENDING' as const, orderingKey: null }],
            firstAttempts: [],
            streamJobs: [],
            preserveStreamRunAt: false,
            quota: null,
            contextVersion: null,
          },
        };
      };
      for (const [eventType, body] of [['order.created\nforged', '{}'], ['order.created', '{"a":\n1}'], ['', '{}']] as const) {
        const { eventId, plan } = planFor(eventType, body);
        await expect(events.write(plan)).rejects.toThrow(/newline|lone empty value/);
        expect(await sql`select from events where id = ${eventId}`).toHaveLength(0);
      }
      // The same write with values that keep to the rule goes through, newline-free JSON and all.
      const { eventId, plan } = planFor('order.created', '{"note":"line one\\nline two"}');
      expect([...(await events.write(plan))]).toEqual([eventId]);
      const [row] = await sql<{ body: string }[]>`select body from events where id = ${eventId}`;
      expect(JSON.parse(row!.body)).toEqual({ note: 'line one\nline two' });
      expect(await sql`select from deliveries where event_id = ${eventId}`).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  it('deletes the deliveries and attempts of a deleted subscription or event, and nothing else', async () => {
    const { tenant, subscriptionId } = await tenantWithSubscription();
    const other = await tenantWithSubscription();
    const kept = await publish(hooklane, other.tenant.token, { eventType: 'order.created', payload: { n: 0 } });
    const first = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
    const second = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 2 } });
    const deliveryOf = async (eventId: string) => (await sql<{ id: string }[]>`select id from deliveries where event_id = ${eventId}`)[0]!.id;
    for (const eventId of [first.id, second.id]) {
      await sql`insert into delivery_attempts (id, tenant_id, delivery_id, outcome, duration_ms)
        values (${newId('attempt')}, ${tenant.id}, ${await deliveryOf(eventId)}, 'SUCCESS', 1)`;
    }
    await sql`delete from events where id = ${first.id}`;
    expect(await sql`select from deliveries where event_id = ${first.id}`).toHaveLength(0);
    expect(await sql`select from delivery_attempts where tenant_id = ${tenant.id}`).toHaveLength(1);
    expect(await deliveriesOf(subscriptionId)).toBe(1);

    await sql`delete from subscriptions where id = ${subscriptionId}`;
    expect(await deliveriesOf(subscriptionId)).toBe(0);
    expect(await sql`select from delivery_attempts where tenant_id = ${tenant.id}`).toHaveLength(0);
    expect(await sql`select from deliveries where event_id = ${kept.id}`).toHaveLength(1);

    // A tenant's deletion reaches its events, and its deliveries through its subscriptions and events.
    await sql`delete from tenants where id = ${other.tenant.id}`;
    expect(await sql`select from events where tenant_id = ${other.tenant.id}`).toHaveLength(0);
    expect(await sql`select from deliveries where tenant_id = ${other.tenant.id}`).toHaveLength(0);
    expect(await sql`select from events where tenant_id = ${tenant.id}`).toHaveLength(1);
  });

  it('keeps a publish and the deletion of its subscription consistent, whichever locks first', async () => {
    // The publish first: the deletion waits for it, then deletes what it wrote.
    {
      const { tenant, subscriptionId } = await tenantWithSubscription();
      const write = oneEvent(subscriptionId);
      await onOwnConnection(async (publisher) => {
        await publisher`begin`;
        await writeEvent(publisher, tenant.id, write);
        await onOwnConnection(async (deleter) => {
          const deleterPid = await backendPid(deleter);
          const deletion = deleter`delete from subscriptions where id = ${subscriptionId}`.then(() => 'deleted');
          await waitsForLock(deleterPid);
          await publisher`commit`;
          expect(await deletion).toBe('deleted');
        });
      });
      expect(await deliveriesOf(subscriptionId)).toBe(0);
      expect(await sql`select from events where id = ${write.eventId}`).toHaveLength(1);
    }
    // The deletion first: the publish waits for it, then writes the event with no delivery.
    {
      const { tenant, subscriptionId } = await tenantWithSubscription();
      const write = oneEvent(subscriptionId);
      await onOwnConnection(async (deleter) => {
        await deleter`begin`;
        await deleter`delete from subscriptions where id = ${subscriptionId}`;
        await onOwnConnection(async (publisher) => {
          const publisherPid = await backendPid(publisher);
          const writing = writeEvent(publisher, tenant.id, write).execute();
          await waitsForLock(publisherPid);
          await deleter`commit`;
          expect((await writing).map((row) => row.id)).toEqual([write.eventId]);
        });
      });
      expect(await deliveriesOf(subscriptionId)).toBe(0);
      expect(await sql`select from events where id = ${write.eventId}`).toHaveLength(1);
    }
  });
});
