import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hooklane } from '../../src/app.js';
import { createEventType, createSubscription, publish, publishBatch } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, testWorker, type TestHooklane } from '../support/hooklane.js';
import { HoldingReceiver } from '../support/holding-receiver.js';
import { TestReceiver } from '../support/receiver.js';

const SLOW_SUBSCRIPTIONS = 10;
const SLOW_EVENTS = 200;
// Longer than any wait below: none of tenant A's attempts ends while the test looks.
const SLOW_TIMEOUT = '60s';

/**
 * Tenant A's ten subscriptions point at a receiver that holds every request open, with
 * SLOW_EVENTS × SLOW_SUBSCRIPTIONS deliveries queued; tenant B then publishes one event to a
 * healthy receiver. Returns once B's delivery has SUCCEEDED, with what A's receiver held then.
 */
async function slowTenantThenQuietOne(hooklane: TestHooklane, slow: HoldingReceiver, fast: TestReceiver, saturatedAt: number) {
  const a = await hooklane.createTenant('Slow tenant');
  const b = await hooklane.createTenant('Quiet tenant');
  for (const tenant of [a, b]) await createEventType(hooklane, tenant.token, { name: 'customer.created' });
  for (let n = 0; n < SLOW_SUBSCRIPTIONS; n++) {
    await createSubscription(hooklane, a.token, { url: `${slow.url}?s=${n}`, eventTypes: ['customer.created'] });
  }
  await createSubscription(hooklane, b.token, { url: fast.url, eventTypes: ['customer.created'] });

  const flood = await publishBatch(
    hooklane,
    a.token,
    Array.from({ length: SLOW_EVENTS }, (_, n) => ({ eventType: 'customer.created', payload: { n } })),
  );
  expect(flood.errors).toBeUndefined();
  await slow.waitFor((receiver) => receiver.open >= saturatedAt, 20_000, `${saturatedAt} of A's requests open`);

  const event = await publish(hooklane, b.token, { eventType: 'customer.created', payload: { from: 'B' } });
  await eventually(
    async () => {
      const [row] = await hooklane.sql<{ status: string }[]>`select status from deliveries where event_id = ${event.id}`;
      return row?.status === 'SUCCEEDED' ? true : undefined;
    },
    40_000,
    "B's delivery SUCCEEDED",
  );
  return { openAtA: slow.open, receivedAtA: slow.received.length };
}

describe("a slow tenant's backlog does not hold up another tenant", () => {
  describe('one worker process', () => {
    let hooklane: TestHooklane;
    let slow: HoldingReceiver;
    let fast: TestReceiver;

    beforeAll(async () => {
      hooklane = await startTestHooklane({ WORKER_CONCURRENCY: '16', DELIVERY_TIMEOUT: SLOW_TIMEOUT, SHUTDOWN_TIMEOUT: '1s' });
      slow = await HoldingReceiver.start();
      fast = await TestReceiver.start();
    });
    afterAll(async () => {
      await slow?.close();
      await fast?.close();
      await hooklane?.stop();
    });

    it(`B's delivery SUCCEEDED while A still held its requests open, with ${SLOW_EVENTS * SLOW_SUBSCRIPTIONS} deliveries queued`, async () => {
      const { openAtA, receivedAtA } = await slowTenantThenQuietOne(hooklane, slow, fast, 8);
      // None of A's attempts had ended (none answered, none timed out): B did not wait for one.
      expect(receivedAtA).toBe(openAtA);
      expect(openAtA).toBeGreaterThanOrEqual(8);
      // A holds most of the worker, never all of it.
      expect(openAtA).toBeLessThan(16);
    }, 90_000);
  });

  describe('two worker processes', () => {
    let hooklane: TestHooklane;
    let secondWorker: Hooklane;
    let slow: HoldingReceiver;
    let fast: TestReceiver;

    beforeAll(async () => {
      const env = { WORKER_CONCURRENCY: '8', DELIVERY_TIMEOUT: SLOW_TIMEOUT, SHUTDOWN_TIMEOUT: '1s' };
      hooklane = await startTestHooklane(env);
      secondWorker = await testWorker(hooklane.databaseUrl, env)();
      slow = await HoldingReceiver.start();
      fast = await TestReceiver.start();
    });
    afterAll(async () => {
      await slow?.close();
      await fast?.close();
      await secondWorker?.stop();
      await hooklane?.stop();
    });

    it("B's delivery SUCCEEDED while A held requests open in both workers", async () => {
      // More open requests than one worker of 8 slots lends a tenant: both workers are busy with A.
      const { openAtA, receivedAtA } = await slowTenantThenQuietOne(hooklane, slow, fast, 7);
      expect(receivedAtA).toBe(openAtA);
      expect(openAtA).toBeGreaterThanOrEqual(7);
    }, 90_000);
  });
});
