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
    // A's receiver is slow (20 ms an answer): its backlog takes many seconds to drain.
    slowReceiver.replyWith({ status: 200, body: 'ok', delayMs: 20 });
  });
  afterAll(async () => {
    await slowReceiver?.close();
    await fastReceiver?.close();
    await hooklane?.stop();
  });

  it(`delivers tenant B's event while most of tenant A's ${BACKLOG} queued deliveries are still pending`, async () => {
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

    const event = await publish(hooklane, b.token, { eventType: 'bulk.event', payload: { from: 'B' } });
    // A generous deadline, not a measure: A's backlog takes far longer than this to drain.
    const arrived = await eventually(
      async () => fastReceiver.requests.find((request) => request.headers['webhook-id'] === event.id)?.receivedAt,
      60_000,
      "B's delivery",
    );
    const [stillQueued] = await hooklane.sql`select count(*)::int as count from deliveries where tenant_id = ${a.id} and status = 'PENDING'`;
    // The order of things, whatever the machine's speed: B's request came before most of A's, and
    // A's backlog was still there once B was served. B did not simply come after it.
    const aBeforeB = slowReceiver.requests.filter((request) => request.receivedAt <= arrived).length;
    expect(aBeforeB, `${aBeforeB} of A's requests came before B's`).toBeLessThan(BACKLOG - 1_000);
    expect(stillQueued!.count).toBeGreaterThan(1_000);
  }, 120_000);
});
