import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, createSubscription, gqlData, publish } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

const BACKLOG = 5_000;
const BATCH = 1_000;

// One tenant's backlog must not starve another: B's first event jumps ahead of A's queue.
describe('fair delivery between tenants', () => {
  let hooklane: TestHooklane;
  let slowReceiver: TestReceiver;
  let fastReceiver: TestReceiver;

  beforeAll(async () => {
    hooklane = await startTestHooklane({ WORKER_CONCURRENCY: '8' });
    slowReceiver = await TestReceiver.start();
    fastReceiver = await TestReceiver.start();
    // A's receiver answers in 20 ms: its backlog takes many seconds to drain.
    slowReceiver.replyWith({ status: 200, body: 'ok', delayMs: 20 });
  });
  afterAll(async () => {
    await slowReceiver?.close();
    await fastReceiver?.close();
    await hooklane?.stop();
  });

  it(`delivers tenant B's event within 2 s while tenant A has ${BACKLOG} deliveries queued`, async () => {
    const a = await hooklane.createTenant('Flooding tenant');
    const b = await hooklane.createTenant('Quiet tenant');
    for (const tenant of [a, b]) await createEventType(hooklane, tenant.token, { name: 'bulk.event' });
    await createSubscription(hooklane, a.token, { url: slowReceiver.url, eventTypes: ['bulk.event'] });
    await createSubscription(hooklane, b.token, { url: fastReceiver.url, eventTypes: ['bulk.event'] });

    for (let published = 0; published < BACKLOG; published += BATCH) {
      await gqlData(hooklane, a.token, 'mutation($input: PublishEventsInput!) { publishEvents(input: $input) { events { id } } }', {
        input: { events: Array.from({ length: BATCH }, (_, n) => ({ eventType: 'bulk.event', payload: { n: published + n } })) },
      });
    }
    const [queued] = await hooklane.sql`select count(*)::int as count from deliveries where tenant_id = ${a.id} and status = 'PENDING'`;
    expect(queued!.count).toBeGreaterThan(BACKLOG / 2);

    const started = Date.now();
    const event = await publish(hooklane, b.token, { eventType: 'bulk.event', payload: { from: 'B' } });
    const arrived = await eventually(
      async () => fastReceiver.requests.find((request) => request.headers['webhook-id'] === event.id)?.receivedAt,
      10_000,
      "B's delivery",
    );
    const [stillQueued] = await hooklane.sql`select count(*)::int as count from deliveries where tenant_id = ${a.id} and status = 'PENDING'`;
    expect(arrived - started, `B waited ${arrived - started} ms`).toBeLessThan(2_000);
    // A's backlog was still there when B was served: B did not simply come after it.
    expect(stillQueued!.count).toBeGreaterThan(1_000);
  }, 120_000);
});
