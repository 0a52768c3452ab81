import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHooklane, type Hooklane } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DELIVERIES_PER_JOB } from '../../src/db/jobs.js';
import { createLogger } from '../../src/logger.js';
import { tenantWithEventType } from '../support/fixtures.js';
import { createSubscription, gqlData, publish } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, TEST_JWT_SECRET, TEST_SECRETS_KEY, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

/** graphile-worker's jobs of a tenant, by task, as their payloads. */
async function jobsOf(hooklane: TestHooklane, tenantId: string) {
  return hooklane.sql<{ task: string; payload: { deliveryIds?: string[]; deliveryId?: string }; key: string | null; attempts: number; last_error: string | null; locked_at: Date | null }[]>`
    select t.identifier as task, j.payload, j.key, j.attempts, j.last_error, j.locked_at
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

    it('finishes the attempt under way and leaves the waiting ones to their job, retried here or elsewhere', async () => {
      receiver = await TestReceiver.start();
      receiver.replyWith({ status: 200, body: 'ok', delayMs: 400 });
      // Its own worker with one slot, so that the job's other deliveries wait while the first is sent.
      const config = loadConfig({
        DATABASE_URL: hooklane.databaseUrl,
        PORT: '0',
        ROLE: 'worker',
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        SECRETS_KEY: TEST_SECRETS_KEY,
        DELIVERY_ALLOW_PRIVATE_NETWORKS: 'true',
        WORKER_CONCURRENCY: '1',
        WORKER_POLL_INTERVAL: '100ms',
        LOG_LEVEL: 'silent',
      });
      worker = await startHooklane(config, createLogger(config.logLevel));
      const tenant = await tenantWithEventType(hooklane);
      await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
      await publishMany(hooklane, tenant.token, 3);
      await receiver.waitForRequests(1);
      await worker.stop();
      worker = undefined;

      expect(receiver.requests).toHaveLength(1);
      const [job] = await jobsOf(hooklane, tenant.id);
      expect(job).toMatchObject({ task: 'deliver_batch', attempts: 1, locked_at: null });
      expect(job!.last_error).toMatch(/2 of 3 deliveries not attempted \(the worker is stopping\)/);
      const statuses = await hooklane.sql<{ status: string; claimed: boolean }[]>`
        select status, claimed_until is not null as claimed from deliveries where tenant_id = ${tenant.id} order by id`;
      expect(statuses.filter((row) => row.status === 'SUCCEEDED')).toHaveLength(1);
      expect(statuses.filter((row) => row.status === 'PENDING' && !row.claimed)).toHaveLength(2);
    });
  });
});
