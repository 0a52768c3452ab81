import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseClient } from '../../src/db/client.js';
import { APP_ROLE } from '../../src/db/migrate.js';
import { ClaimBatcher } from '../../src/delivery/claim-batcher.js';
import { TenantScope } from '../../src/db/tenant-scope.js';
import { tenantWithEventType } from '../support/fixtures.js';
import { createSubscription, publish } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';

/**
 * Claims batched into one statement per tenant keep the single claim's guarantees: one attempt
 * per delivery at a time, and another tenant's delivery is not there.
 */
describe('ClaimBatcher', () => {
  let hooklane: TestHooklane;
  let client: DatabaseClient;

  beforeAll(async () => {
    // No worker: the deliveries stay PENDING for the batcher under test to claim.
    hooklane = await startTestHooklane({ ROLE: 'api' });
    client = connectDatabase(hooklane.databaseUrl, { max: 4, role: APP_ROLE });
  });
  afterAll(async () => {
    await client.close();
    await hooklane.stop();
  });

  async function pendingDeliveries(count: number, subscription: Record<string, unknown> = {}) {
    const tenant = await tenantWithEventType(hooklane);
    await createSubscription(hooklane, tenant.token, { url: 'http://127.0.0.1:9/hook', eventTypes: ['order.created'], ...subscription });
    const events = [];
    for (let i = 0; i < count; i++) events.push(await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { i } }));
    const rows = await hooklane.sql<{ id: string; event_id: string }[]>`
      select id, event_id from deliveries where tenant_id = ${tenant.id} order by id`;
    expect(rows).toHaveLength(count);
    return { tenant, ids: rows.map((row) => row.id), eventIds: rows.map((row) => row.event_id) };
  }

  it('claims the deliveries asked for in the same turn with one statement, each with its work', async () => {
    const { tenant, ids, eventIds } = await pendingDeliveries(3);
    const batcher = new ClaimBatcher(client.db, 10_000, false);
    const works = await Promise.all(ids.map((id) => batcher.claim(tenant.id, id)));
    expect(works.map((work) => work?.id)).toEqual(ids);
    expect(works.map((work) => work?.eventId)).toEqual(eventIds);
    expect(works.every((work) => work?.url === 'http://127.0.0.1:9/hook' && work.attemptCount === 0)).toBe(true);
    const claimed = await hooklane.sql<{ id: string }[]>`
      select id from deliveries where tenant_id = ${tenant.id} and claimed_until > now() + interval '5 seconds'`;
    expect(claimed.map((row) => row.id).sort()).toEqual([...ids].sort());
  });

  it('gives a delivery to one claim only, in the same batch and after it', async () => {
    const { tenant, ids } = await pendingDeliveries(1);
    const batcher = new ClaimBatcher(client.db, 10_000, false);
    const [first, second] = await Promise.all([batcher.claim(tenant.id, ids[0]!), batcher.claim(tenant.id, ids[0]!)]);
    expect([first?.id, second?.id].filter(Boolean)).toEqual([ids[0]]);
    expect(await batcher.claim(tenant.id, ids[0]!)).toBeUndefined();
  });

  it('claims only what may be attempted now: not a settled delivery, a claimed one, or one not yet due; an expired claim again', async () => {
    const { tenant, ids } = await pendingDeliveries(5);
    const [settled, claimedElsewhere, notDue, claimExpired, due] = ids as [string, string, string, string, string];
    await hooklane.sql`update deliveries set status = 'SUCCEEDED' where id = ${settled}`;
    await hooklane.sql`update deliveries set claimed_until = now() + interval '1 minute' where id = ${claimedElsewhere}`;
    await hooklane.sql`update deliveries set next_attempt_at = now() + interval '1 minute' where id = ${notDue}`;
    await hooklane.sql`update deliveries set claimed_until = now() - interval '1 second' where id = ${claimExpired}`;
    const claimOf = async (id: string) =>
      (await hooklane.sql<{ until: string }[]>`select claimed_until::text as until from deliveries where id = ${id}`)[0]!.until;
    const otherClaim = await claimOf(claimedElsewhere);
    const batcher = new ClaimBatcher(client.db, 10_000, false);
    const works = await Promise.all(ids.map((id) => batcher.claim(tenant.id, id)));
    expect(works.map((work) => work?.id)).toEqual([undefined, undefined, undefined, claimExpired, due]);
    expect(await claimOf(claimedElsewhere)).toBe(otherClaim); // the other claim is left as it was
  });

  it("finds nothing of another tenant's deliveries", async () => {
    const { ids } = await pendingDeliveries(1);
    const other = await hooklane.createTenant('Other');
    const batcher = new ClaimBatcher(client.db, 10_000, false);
    expect(await batcher.claim(other.id, ids[0]!)).toBeUndefined();
    const [row] = await hooklane.sql<{ claimed_until: Date | null }[]>`select claimed_until from deliveries where id = ${ids[0]!}`;
    expect(row?.claimed_until).toBeNull();
  });

  it('counts a claim only where a limit needs it, and leaves the other claims HOT (no index entry)', async () => {
    const countedOf = async (ids: readonly string[]) =>
      (await hooklane.sql<{ counted: boolean }[]>`
        select counted_claim_until is not null as counted from deliveries where id = any(${ids as string[]}) order by id`).map((row) => row.counted);
    const plain = await pendingDeliveries(2);
    const limited = await pendingDeliveries(2, { maxInFlight: 5 });
    const everything = await pendingDeliveries(2);
    // deliveries is partitioned: its statistics are its partitions'.
    const hotUpdates = async () =>
      (await hooklane.sql<{ hot: number }[]>`
        select coalesce(sum(n_tup_hot_upd), 0)::int as hot from pg_stat_user_tables
        where relid in (select inhrelid from pg_inherits where inhparent = 'deliveries'::regclass)`)[0]!.hot;
    const hotBefore = await hotUpdates();

    const unlimited = new ClaimBatcher(client.db, 10_000, false);
    await Promise.all([...plain.ids.map((id) => unlimited.claim(plain.tenant.id, id)), ...limited.ids.map((id) => unlimited.claim(limited.tenant.id, id))]);
    const quotaEverywhere = new ClaimBatcher(client.db, 10_000, true);
    await Promise.all(everything.ids.map((id) => quotaEverywhere.claim(everything.tenant.id, id)));

    expect(await countedOf(plain.ids)).toEqual([false, false]);
    expect(await countedOf(limited.ids)).toEqual([true, true]);
    expect(await countedOf(everything.ids)).toEqual([true, true]);
    // The plain claims were heap-only updates (the statistics arrive with a delay: each connection
    // reports its own, and a busy machine can hold that back for seconds).
    await expect
      .poll(async () => {
        await hooklane.sql`select pg_stat_force_next_flush()`;
        return (await hotUpdates()) - hotBefore;
      }, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(2);

    // Settling ends the counted claim with the claim.
    await new TenantScope(client.db, limited.tenant.id).deliveries.recordSuccesses(
      limited.ids.map((deliveryId) => ({ deliveryId, attempt: { statusCode: 200, outcome: 'SUCCESS', error: null, durationMs: 1, responseBody: 'ok' } })),
    );
    expect(await countedOf(limited.ids)).toEqual([false, false]);
    expect(await new TenantScope(client.db, limited.tenant.id).deliveries.countInFlight()).toBe(0);
  });
});
