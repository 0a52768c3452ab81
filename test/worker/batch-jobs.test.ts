import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hooklane } from '../../src/app.js';
import { connectDatabase } from '../../src/db/client.js';
import { DELIVERIES_PER_JOB } from '../../src/publish/job-policy.js';
import { APP_ROLE } from '../../src/db/migrate.js';
import type { DispatchDependencies } from '../../src/delivery/dispatch.js';
import { DeliverySlots } from '../../src/delivery/delivery-slots.js';
import { createLogger } from '../../src/logger.js';
import { taskList } from '../../src/worker/tasks.js';
import type { JobHelpers } from 'graphile-worker';
import { tenantWithEventType } from '../support/fixtures.js';
import { createSubscription, gqlData, publish } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, testWorker, type TestHooklane } from '../support/hooklane.js';
import { Hold, TestReceiver } from '../support/receiver.js';

/** graphile-worker's jobs of a tenant, by task, as their payloads. */
async function jobsOf(hooklane: TestHooklane, tenantId: string) {
  return hooklane.sql<{ task: string; payload: { deliveryIds?: string[]; deliveryId?: string }; key: string | null; attempts: number; last_error: string | null; locked_at: Date | null; run_at: Date }[]>`
    select t.identifier as task, j.payload, j.key, j.attempts, j.last_error, j.locked_at, j.run_at
    from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
    where j.payload->>'tenantId' = ${tenantId} order by j.id`;
}

const publishMany = (hooklane: TestHooklane, token: string, count: number) =>
  gqlData<{ publishEvents: { events: { id: string }[] } }>(
    hooklane,
    token,
    'mutation($input: PublishEventsInput!) { publishEvents(input: $input) { events { id } } }',
    { input: { events: Array.from({ length: count }, (_, n) => ({ eventType: 'order.created', payload: { n } })) } },
  );

describe('deliver_batch jobs: a publish sends its first attempts several per job', () => {
  describe('publishing (no worker)', () => {
    let hooklane: TestHooklane;
    beforeAll(async () => {
      hooklane = await startTestHooklane({ ROLE: 'api' });
    });
    afterAll(async () => {
      await hooklane?.stop();
    });

    it(`enqueues one job per ${DELIVERIES_PER_JOB} deliveries, naming each delivery once, and none for a reused idempotency key`, async () => {
      const tenant = await tenantWithEventType(hooklane);
      await createSubscription(hooklane, tenant.token, { url: 'http://127.0.0.1:9/a', eventTypes: ['order.created'] });
      await createSubscription(hooklane, tenant.token, { url: 'http://127.0.0.1:9/b', eventTypes: ['order.created'] });
      await publishMany(hooklane, tenant.token, 12);

      const deliveries = await hooklane.sql<{ id: string }[]>`select id from deliveries where tenant_id = ${tenant.id} order by id`;
      expect(deliveries).toHaveLength(24);
      const jobs = await jobsOf(hooklane, tenant.id);
      expect(jobs.map((job) => job.task)).toEqual(['deliver_batch', 'deliver_batch', 'deliver_batch']);
      expect(jobs.map((job) => job.payload.deliveryIds!.length)).toEqual([DELIVERIES_PER_JOB, DELIVERIES_PER_JOB, 24 - 2 * DELIVERIES_PER_JOB]);
      expect(jobs.flatMap((job) => job.payload.deliveryIds!).sort()).toEqual(deliveries.map((row) => row.id));
      expect(jobs.every((job) => job.key === null)).toBe(true);

      await publish(hooklane, tenant.token, { eventType: 'order.created', payload: {}, idempotencyKey: 'once' });
      const afterFirst = (await jobsOf(hooklane, tenant.id)).length;
      expect(afterFirst).toBe(4);
      await publish(hooklane, tenant.token, { eventType: 'order.created', payload: {}, idempotencyKey: 'once' });
      expect(await jobsOf(hooklane, tenant.id)).toHaveLength(afterFirst);
    });
  });

  describe('running them', () => {
    let hooklane: TestHooklane;
    let receiver: TestReceiver;
    beforeAll(async () => {
      hooklane = await startTestHooklane({ WORKER_CONCURRENCY: '1' });
    });
    afterEach(async () => {
      await receiver?.close();
    });
    afterAll(async () => {
      await hooklane?.stop();
    });

    it('sends only what it can claim: a settled delivery is not sent again, an unknown id is skipped, a pending one is sent', async () => {
      receiver = await TestReceiver.start();
      const tenant = await tenantWithEventType(hooklane);
      await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
      const settledEvent = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
      const pendingEvent = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 2 } });
      await receiver.waitForRequests(2);
      const ids = async (eventId: string) =>
        (await hooklane.sql<{ id: string }[]>`select id from deliveries where event_id = ${eventId}`)[0]!.id;
      const [settled, pending] = [await ids(settledEvent.id), await ids(pendingEvent.id)];
      await eventually(async () => {
        const rows = await hooklane.sql`select 1 from deliveries where tenant_id = ${tenant.id} and status = 'SUCCEEDED'`;
        return rows.length === 2 ? true : undefined;
      });
      // As if the second delivery had never been attempted.
      await hooklane.sql`update deliveries set status = 'PENDING', attempt_count = 0, next_attempt_at = now() where id = ${pending}`;

      await hooklane.sql`select graphile_worker.add_job('deliver_batch', ${JSON.stringify({
        tenantId: tenant.id,
        deliveryIds: [settled, 'dlv_00000000000000000000000000000000', pending],
      })}::text::json)`;
      await receiver.waitForRequests(3);
      await eventually(async () => ((await jobsOf(hooklane, tenant.id)).length === 0 ? true : undefined), 5_000, 'the job to complete');
      const sent = receiver.requests.map((request) => request.headers['webhook-id']);
      expect(sent.filter((id) => id === settledEvent.id)).toHaveLength(1);
      expect(sent.filter((id) => id === pendingEvent.id)).toHaveLength(2);
      const [row] = await hooklane.sql`select status, attempt_count from deliveries where id = ${pending}`;
      expect(row).toEqual({ status: 'SUCCEEDED', attempt_count: 1 });
    });
  });

  describe('a worker stopping', () => {
    // The API alone here; the test starts and stops a worker of its own.
    let hooklane: TestHooklane;
    let receiver: TestReceiver | undefined;
    let worker: Hooklane | undefined;
    beforeAll(async () => {
      hooklane = await startTestHooklane({ ROLE: 'api' });
    });
    afterAll(async () => {
      await worker?.stop();
      await receiver?.close();
      await hooklane?.stop();
    });

    it('finishes the attempt under way and hands the waiting ones to a new job, which another worker sends', async () => {
      receiver = await TestReceiver.start();
      // The first attempt's answer is held until the worker is stopping.
      const underWay = new Hold();
      receiver.replyWith({ status: 200, body: 'ok', heldUntil: underWay.released });
      // Its own worker with one slot, so that the job's other deliveries wait while the first is sent.
      const startWorker = testWorker(hooklane.databaseUrl, { WORKER_CONCURRENCY: '1' });
      worker = await startWorker();
      const tenant = await tenantWithEventType(hooklane);
      await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
      await publishMany(hooklane, tenant.token, 3);
      await receiver.waitForRequests(1);
      // stop() closes the worker's slots at once; only then is the attempt under way answered.
      const stopped = worker.stop();
      underWay.release();
      await stopped;
      worker = undefined;

      expect(receiver.requests).toHaveLength(1);
      const statuses = await hooklane.sql<{ id: string; status: string; claimed: boolean }[]>`
        select id, status, claimed_until is not null as claimed from deliveries where tenant_id = ${tenant.id} order by id`;
      expect(statuses.filter((row) => row.status === 'SUCCEEDED')).toHaveLength(1);
      const waiting = statuses.filter((row) => row.status === 'PENDING' && !row.claimed).map((row) => row.id);
      expect(waiting).toHaveLength(2);
      // The stopped worker's job completed; a fresh one, due now and never failed, names the other two.
      const jobs = await jobsOf(hooklane, tenant.id);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ task: 'deliver_batch', attempts: 0, last_error: null, locked_at: null });
      expect([...(jobs[0]!.payload.deliveryIds ?? [])].sort()).toEqual(waiting);
      expect(jobs[0]!.run_at.getTime()).toBeLessThanOrEqual(Date.now());

      receiver.replyWith({ status: 200, body: 'ok' });
      worker = await startWorker();
      await receiver.waitForRequests(3);
      const sent = receiver.requests.map((request) => request.headers['webhook-id']);
      expect(new Set(sent).size).toBe(3);
      expect(sent).toHaveLength(3);
      await worker.stop();
      worker = undefined;
    });

    it('hands a delivery job and a stream job over the same way, under their keys', async () => {
      // Pending deliveries, one of them in an ordered subscription, and no job left to send them.
      const tenant = await tenantWithEventType(hooklane);
      await createSubscription(hooklane, tenant.token, { url: 'http://127.0.0.1:9/hook', eventTypes: ['order.created'] });
      const ordered = await gqlData<{ createSubscription: { subscription: { id: string } } }>(
        hooklane,
        tenant.token,
        'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }',
        { input: { url: 'http://127.0.0.1:9/ordered', eventTypes: ['order.created'], ordered: true } },
      );
      const orderedId = ordered.createSubscription.subscription.id;
      await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
      const [unordered] = await hooklane.sql<{ id: string }[]>`
        select id from deliveries where tenant_id = ${tenant.id} and subscription_id <> ${orderedId}`;
      await hooklane.sql`delete from graphile_worker._private_jobs where payload->>'tenantId' = ${tenant.id}`;

      const client = connectDatabase(hooklane.databaseUrl, { max: 2, role: APP_ROLE });
      try {
        const slots = new DeliverySlots({ concurrency: 1, tenantShare: 1, maxBackoffMs: 1_000 });
        slots.close();
        // With its slots closed, a task reaches nothing but the slots and the database.
        const tasks = taskList({ db: client.db, slots } as unknown as DispatchDependencies);
        const helpers = (priority: number) => ({ job: { id: '0', priority }, logger: createLogger('silent') }) as unknown as JobHelpers;
        await tasks.deliver!({ tenantId: tenant.id, deliveryId: unordered!.id }, helpers(7));
        await tasks.deliver_stream!({ tenantId: tenant.id, subscriptionId: orderedId, orderingKey: null }, helpers(0));
        const jobs = await jobsOf(hooklane, tenant.id);
        expect(jobs).toEqual([
          expect.objectContaining({ task: 'deliver', key: `deliver:${unordered!.id}`, attempts: 0, last_error: null }),
          expect.objectContaining({ task: 'deliver_stream', key: `stream:${orderedId}`, attempts: 0, last_error: null }),
        ]);
        const [priority] = await hooklane.sql<{ priority: number }[]>`
          select priority from graphile_worker._private_jobs where key = ${`deliver:${unordered!.id}`}`;
        expect(priority!.priority).toBe(7);
      } finally {
        await client.close();
      }
    });

    it("sends the deliveries its tenant's slots turn away back to the queue: a job at the same priority, due later, nothing claimed", async () => {
      const tenant = await tenantWithEventType(hooklane);
      for (const path of ['a', 'b']) await createSubscription(hooklane, tenant.token, { url: `http://127.0.0.1:9/${path}`, eventTypes: ['order.created'] });
      await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
      const ids = (await hooklane.sql<{ id: string }[]>`select id from deliveries where tenant_id = ${tenant.id} order by id`).map((row) => row.id);
      await hooklane.sql`delete from graphile_worker._private_jobs where payload->>'tenantId' = ${tenant.id}`;

      const client = connectDatabase(hooklane.databaseUrl, { max: 2, role: APP_ROLE });
      // Two slots, one per tenant: the tenant holds its one with an attempt of seconds, so its
      // next deliveries would wait far longer than a second for it.
      let now = 0;
      const slots = new DeliverySlots({ concurrency: 2, tenantShare: 1, maxBackoffMs: 15_000, now: () => now });
      await slots.run(tenant.id, async () => {
        now += 5_000;
      });
      let releaseHolder!: () => void;
      const holder = slots.run(tenant.id, () => new Promise<void>((resolve) => (releaseHolder = resolve)));
      try {
        const tasks = taskList({ db: client.db, slots } as unknown as DispatchDependencies);
        const helpers = (priority: number) => ({ job: { id: '0', priority }, logger: createLogger('silent') }) as unknown as JobHelpers;
        const before = Date.now();
        await tasks.deliver_batch!({ tenantId: tenant.id, deliveryIds: ids }, helpers(5));
        const jobs = await jobsOf(hooklane, tenant.id);
        expect(jobs).toEqual([expect.objectContaining({ task: 'deliver_batch', attempts: 0, last_error: null })]);
        expect([...(jobs[0]!.payload.deliveryIds ?? [])].sort()).toEqual(ids);
        expect(jobs[0]!.run_at.getTime()).toBeGreaterThan(before);
        const [job] = await hooklane.sql<{ priority: number }[]>`select priority from graphile_worker._private_jobs where payload->>'tenantId' = ${tenant.id}`;
        expect(job!.priority).toBe(5);
        const deliveries = await hooklane.sql<{ attempt_count: number; claimed_until: Date | null }[]>`
          select attempt_count, claimed_until from deliveries where tenant_id = ${tenant.id}`;
        expect(deliveries).toEqual([
          { attempt_count: 0, claimed_until: null },
          { attempt_count: 0, claimed_until: null },
        ]);
      } finally {
        releaseHolder();
        await holder;
        await client.close();
      }
    });
  });
});
