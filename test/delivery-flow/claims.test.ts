import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseClient } from '../../src/db/client.js';
import { APP_ROLE } from '../../src/db/migrate.js';
import { ClaimBatcher } from '../../src/delivery/claim-batcher.js';
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

  async function pendingDeliveries(count: number) {
    const tenant = await tenantWithEventType(hooklane);
    await createSubscription(hooklane, tenant.token, { url: 'http://127.0.0.1:9/hook', eventTypes: ['order.created'] });
    const events = [];
    for (let i = 0; i < count; i++) events.push(await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { i } }));
    const rows = await hooklane.sql<{ id: string; event_id: string }[]>`
      select id, event_id from deliveries where tenant_id = ${tenant.id} order by id`;
    expect(rows).toHaveLength(count);
    return { tenant, ids: rows.map((row) => row.id), eventIds: rows.map((row) => row.event_id) };
  }

  it('claims the deliveries asked for in the same turn with one statement, each with its work', async () => {
    const { tenant, ids, eventIds } = await pendingDeliveries(3);
    const batcher = new ClaimBatcher(client.db, 10_000);
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
    const batcher = new ClaimBatcher(client.db, 10_000);
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
    const batcher = new ClaimBatcher(client.db, 10_000);
    const works = await Promise.all(ids.map((id) => batcher.claim(tenant.id, id)));
    expect(works.map((work) => work?.id)).toEqual([undefined, undefined, undefined, claimExpired, due]);
    expect(await claimOf(claimedElsewhere)).toBe(otherClaim); // the other claim is left as it was
  });

  it("finds nothing of another tenant's deliveries", async () => {
    const { ids } = await pendingDeliveries(1);
    const other = await hooklane.createTenant('Other');
    const batcher = new ClaimBatcher(client.db, 10_000);
    expect(await batcher.claim(other.id, ids[0]!)).toBeUndefined();
    const [row] = await hooklane.sql<{ claimed_until: Date | null }[]>`select claimed_until from deliveries where id = ${ids[0]!}`;
    expect(row?.claimed_until).toBeNull();
  });
});
