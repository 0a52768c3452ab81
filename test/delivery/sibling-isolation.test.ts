import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, createSubscriptionWith, mutate, publishBatch } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { FlowReceiver } from '../support/flow-receiver.js';
import { HoldingReceiver } from '../support/holding-receiver.js';

const EVENTS = 500;

// One subscription's flow control (rateLimit, maxInFlight) never delays a sibling subscription of
// the same tenant, whose deliveries travel in the same jobs.
describe('a limited subscription beside an unlimited sibling', () => {
  let hooklane: TestHooklane;
  const receivers: FlowReceiver[] = [];

  beforeAll(async () => {
    // A long timeout: the held request of the maxInFlight case stays open for the whole test.
    hooklane = await startTestHooklane({ WORKER_CONCURRENCY: '16', DELIVERY_TIMEOUT: '100s', SHUTDOWN_TIMEOUT: '1s' });
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  const succeeded = async (subscriptionId: string) => {
    const [row] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from deliveries where subscription_id = ${subscriptionId} and status = 'SUCCEEDED'`;
    return row!.count;
  };

  const setUp = async (limits: Record<string, unknown>) => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'customer.created' });
    const limitedReceiver = await FlowReceiver.start();
    const siblingReceiver = await FlowReceiver.start();
    receivers.push(limitedReceiver, siblingReceiver);
    const { subscription: limited } = await createSubscriptionWith(hooklane, tenant.token, {
      url: limitedReceiver.url,
      eventTypes: ['customer.created'],
      ...limits,
    });
    const { subscription: sibling } = await createSubscriptionWith(hooklane, tenant.token, {
      url: siblingReceiver.url,
      eventTypes: ['customer.created'],
    });
    return { tenant, limited, sibling, limitedReceiver, siblingReceiver };
  };

  it(`rateLimit: 2 — the sibling receives all ${EVENTS} events while the limited one is still far behind`, async () => {
    const { tenant, limited, sibling, siblingReceiver } = await setUp({ rateLimit: 2 });
    const response = await publishBatch(
      hooklane,
      tenant.token,
      Array.from({ length: EVENTS }, (_, n) => ({ eventType: 'customer.created', payload: { n } })),
    );
    expect(response.errors).toBeUndefined();

    await siblingReceiver.waitForSuccesses(EVENTS, 90_000);
    const limitedDone = await succeeded(limited.id);
    // At 2 per second the limited subscription needs 250 s for its 500: the sibling was not held
    // back by it if it finished while the limited one had sent only a fraction of its deliveries.
    expect(limitedDone, `the limited subscription had ${limitedDone} SUCCEEDED when the sibling finished`).toBeLessThan(EVENTS / 5);
    await eventually(async () => ((await succeeded(sibling.id)) === EVENTS ? true : undefined), 10_000, 'the sibling recorded');
  }, 120_000);

  it(`maxInFlight: 1 on a receiver that answers nothing — the sibling receives all ${EVENTS} events meanwhile`, async () => {
    const { tenant, limited, siblingReceiver } = await setUp({ maxInFlight: 1 });
    const holding = await HoldingReceiver.start();
    try {
      await mutate(hooklane, tenant.token, 'updateSubscription', { id: limited.id, url: holding.url }, 'subscription { id }');
      const response = await publishBatch(
        hooklane,
        tenant.token,
        Array.from({ length: EVENTS }, (_, n) => ({ eventType: 'customer.created', payload: { n } })),
      );
      expect(response.errors).toBeUndefined();

      await siblingReceiver.waitForSuccesses(EVENTS, 90_000);
      // The limited subscription never had more than one request in flight, still open: its
      // other deliveries waited their turn without holding the sibling back.
      expect(holding.received.length).toBeLessThanOrEqual(1);
      expect(holding.open).toBe(holding.received.length);
      expect(await succeeded(limited.id)).toBe(0);
    } finally {
      await holding.close();
    }
  }, 120_000);
});
