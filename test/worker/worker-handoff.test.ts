import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hooklane } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { connectDatabase, type DatabaseClient } from '../../src/db/client.js';
import { APP_ROLE } from '../../src/db/migrate.js';
import { TenantScope } from '../../src/db/tenant-scope.js';
import { deliveryBody } from '../../src/publish/delivery-body.js';
import { writeEvents } from '../../src/publish/fan-out.js';
import type { FirstAttemptHandoff } from '../../src/publish/first-attempt-handoff.js';
import { Publisher } from '../../src/publish/publisher.js';
import { newId } from '../../src/ids.js';
import { tenantWithEventType } from '../support/fixtures.js';
import { createSubscription, publish } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, testWorker, type TestHooklane } from '../support/hooklane.js';
import { Hold, TestReceiver } from '../support/receiver.js';

/** The tenant's graphile-worker jobs, oldest first. */
async function jobsOf(hooklane: TestHooklane, tenantId: string) {
  return hooklane.sql<{ task: string; key: string | null; run_at: Date; locked_at: Date | null; delivery_ids: string[] }[]>`
    select t.identifier as task, j.key, j.run_at, j.locked_at,
      array(select json_array_elements_text(j.payload->'deliveryIds')) as delivery_ids
    from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
    where j.payload->>'tenantId' = ${tenantId} order by j.id`;
}

const deliveriesOf = (hooklane: TestHooklane, tenantId: string) =>
  hooklane.sql<{ id: string; event_id: string; status: string; attempt_count: number }[]>`
    select id, event_id, status, attempt_count from deliveries where tenant_id = ${tenantId} order by id`;

describe('first attempts handed to the worker in the same process (ROLE=all, WORKER_HANDOFF)', () => {
  let receiver: TestReceiver;
  afterEach(async () => {
    await receiver?.close();
  });

  it('is on by default and reads false', () => {
    expect(loadConfig({}).worker.handoff).toBe(true);
    expect(loadConfig({ WORKER_HANDOFF: 'false' }).worker.handoff).toBe(false);
    expect(() => loadConfig({ WORKER_HANDOFF: 'maybe' })).toThrow(/WORKER_HANDOFF/);
  });

  describe('by default', () => {
    let hooklane: TestHooklane;
    beforeAll(async () => {
      // Attempts are held at the receiver for as long as a test looks: no timeout may end them first.
      hooklane = await startTestHooklane({ WORKER_CONCURRENCY: '2', DELIVERY_TIMEOUT: '60s' });
    });
    afterAll(async () => {
      await hooklane?.stop();
    });

    it('claims them in the write, sends them at once, and completes their job, written due only after the claims', async () => {
      receiver = await TestReceiver.start();
      // The attempt stays in flight until the job has been looked at.
      const inFlight = new Hold();
      receiver.replyWith({ status: 200, body: 'ok', heldUntil: inFlight.released });
      const tenant = await tenantWithEventType(hooklane);
      await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
      const publishedAt = Date.now();
      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });

      // Answered: the delivery is claimed (by the write), its job keyed for the handoff and not due
      // before the claim (DELIVERY_TIMEOUT + 5 s) has run out; no worker has locked it.
      const [delivery] = await deliveriesOf(hooklane, tenant.id);
      const [claim] = await hooklane.sql<{ claimed_until: Date | null }[]>`select claimed_until from deliveries where id = ${delivery!.id}`;
      expect(claim!.claimed_until!.getTime()).toBeGreaterThan(publishedAt + 60_000);
      const [job] = await jobsOf(hooklane, tenant.id);
      expect(job).toMatchObject({ task: 'deliver_batch', key: `handoff:${delivery!.id}`, locked_at: null, delivery_ids: [delivery!.id] });
      expect(job!.run_at.getTime()).toBeGreaterThan(claim!.claimed_until!.getTime());

      const [request] = await receiver.waitForRequests(1);
      expect(request!.headers['webhook-id']).toBe(event.id);
      inFlight.release();
      await eventually(async () => ((await jobsOf(hooklane, tenant.id)).length === 0 ? true : undefined), 5_000, 'the job to be completed');
      expect(await deliveriesOf(hooklane, tenant.id)).toEqual([expect.objectContaining({ status: 'SUCCEEDED', attempt_count: 1 })]);
      expect(receiver.requests).toHaveLength(1);
    });

    it('leaves a publish to its job, due now, when the worker has no slot free for its tenant', async () => {
      receiver = await TestReceiver.start();
      const inFlight = new Hold();
      receiver.replyWith({ status: 200, body: 'ok', heldUntil: inFlight.released });
      const tenant = await tenantWithEventType(hooklane);
      const other = await tenantWithEventType(hooklane);
      await createSubscription(hooklane, tenant.token, { url: `${receiver.url}/a`, eventTypes: ['order.created'] });
      await createSubscription(hooklane, other.token, { url: `${receiver.url}/b`, eventTypes: ['order.created'] });
      // WORKER_CONCURRENCY 2: a tenant alone may hold one slot (the other stays free for another
      // tenant). The first publish takes the tenant's slot, the other tenant's the second (the
      // receiver holds its answers until released below), so the tenant's second publish finds none for it.
      const first = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
      const others = await publish(hooklane, other.token, { eventType: 'order.created', payload: { n: 1 } });
      const second = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 2 } });

      const idsOf = async (eventId: string) =>
        (await hooklane.sql<{ id: string }[]>`select id from deliveries where event_id = ${eventId} order by id`).map((row) => row.id);
      const jobs = await jobsOf(hooklane, tenant.id);
      expect(jobs).toHaveLength(2);
      expect(jobs[0]).toMatchObject({ key: `handoff:${(await idsOf(first.id))[0]}`, delivery_ids: await idsOf(first.id) });
      expect(jobs[1]).toMatchObject({ key: null, delivery_ids: await idsOf(second.id) });
      expect(jobs[1]!.run_at.getTime()).toBeLessThanOrEqual(Date.now());
      expect(await jobsOf(hooklane, other.id)).toEqual([expect.objectContaining({ key: `handoff:${(await idsOf(others.id))[0]}` })]);

      inFlight.release();
      await receiver.waitForRequests(3);
      for (const owner of [tenant, other]) {
        await eventually(async () => ((await jobsOf(hooklane, owner.id)).length === 0 ? true : undefined), 5_000, 'the jobs to be completed');
      }
      expect(new Set(receiver.requests.map((request) => `${request.url} ${request.headers['webhook-id']}`)).size).toBe(3);
    });
  });

  describe('WORKER_HANDOFF=false', () => {
    let hooklane: TestHooklane;
    beforeAll(async () => {
      hooklane = await startTestHooklane({ WORKER_HANDOFF: 'false', DELIVERY_TIMEOUT: '60s' });
    });
    afterAll(async () => {
      await hooklane?.stop();
    });

    it('writes the first attempts as a job due now, which the worker fetches', async () => {
      receiver = await TestReceiver.start();
      const inFlight = new Hold();
      receiver.replyWith({ status: 200, body: 'ok', heldUntil: inFlight.released });
      const tenant = await tenantWithEventType(hooklane);
      await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
      await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
      // The job stays until its attempt is recorded, which the held answer keeps from happening yet.
      const jobs = await jobsOf(hooklane, tenant.id);
      expect(jobs).toEqual([expect.objectContaining({ task: 'deliver_batch', key: null })]);
      expect(jobs[0]!.run_at.getTime()).toBeLessThanOrEqual(Date.now());
      await receiver.waitForRequests(1);
      inFlight.release();
      await eventually(async () => ((await jobsOf(hooklane, tenant.id)).length === 0 ? true : undefined), 5_000, 'the job to be completed');
    });
  });

  describe('a process that dies after the write', () => {
    // The API alone publishes; the write is told to hand over, and nothing ever takes the attempts
    // (as if the process had died right after the commit). A worker started later must send them.
    let hooklane: TestHooklane;
    let worker: Hooklane | undefined;
    let client: DatabaseClient | undefined;
    beforeAll(async () => {
      hooklane = await startTestHooklane({ ROLE: 'api' });
    });
    afterAll(async () => {
      await worker?.stop();
      await client?.close();
      await hooklane?.stop();
    });

    it('leaves the claimed first attempts to their job, which a worker runs when it falls due', async () => {
      receiver = await TestReceiver.start();
      const tenant = await tenantWithEventType(hooklane);
      await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
      client = connectDatabase(hooklane.databaseUrl, { max: 2, role: APP_ROLE });
      const holdMs = 1_500;
      const diedAfterCommit: FirstAttemptHandoff = {
        reserve: () => ({ runAt: new Date(Date.now() + holdMs), claimMs: 1_000, countEveryClaim: false, start: () => {}, cancel: () => {} }),
      };
      const createdAt = new Date();
      const eventId = newId('event');
      const event = { id: eventId, eventType: 'order.created', body: deliveryBody('order.created', createdAt, { n: 1 }), idempotencyKey: null, orderingKey: null, channels: null, eventTypeVersion: 1, createdAt };
      await writeEvents(new Publisher(), new TenantScope(client.db, tenant.id), [event], { handoff: diedAfterCommit });
      const [job] = await jobsOf(hooklane, tenant.id);

      worker = await testWorker(hooklane.databaseUrl)();
      const [request] = await receiver.waitForRequests(1, 10_000);
      expect(request!.headers['webhook-id']).toBe(eventId);
      // Not before the job fell due: until then the delivery was claimed for the dead process.
      expect(request!.receivedAt).toBeGreaterThanOrEqual(job!.run_at.getTime());
      await eventually(async () => ((await jobsOf(hooklane, tenant.id)).length === 0 ? true : undefined), 5_000, 'the job to be completed');
      expect(await deliveriesOf(hooklane, tenant.id)).toEqual([expect.objectContaining({ status: 'SUCCEEDED', attempt_count: 1 })]);
    });
  });
});
