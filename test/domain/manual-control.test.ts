import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createEventType,
  createSubscriptionWith,
  getEvent,
  getSubscriptionWith,
  gqlData,
  GraphQLCallError,
  mutate,
  publish,
  retryDelivery,
  updateSubscription,
} from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, tenantIdle, type TestHooklane } from '../support/hooklane.js';
import { receiverPool, tenantWithEventType } from '../support/fixtures.js';
import { Hold } from '../support/receiver.js';

// The tenant's hands on the delivery engine: disabling (HELD deliveries) and enabling, discarding
// held deliveries, retryDelivery, replayEvent and recoverSubscription, end to end against
// PostgreSQL, the worker and real HTTP receivers on 127.0.0.1.

interface Delivery {
  id: string;
  status: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  createdAt: string;
  subscription: { id: string };
  event: { id: string };
  attempts: { statusCode: number | null; outcome: string; createdAt: string }[];
}

const DELIVERY = 'id status attemptCount nextAttemptAt createdAt subscription { id } event { id } attempts { statusCode outcome createdAt }';

/** How far after its last attempt a delivery's next one is scheduled (ms). */
const retryDelayOf = (delivery: Delivery) => Date.parse(delivery.nextAttemptAt!) - Date.parse(delivery.attempts.at(-1)!.createdAt);

describe('manual control of deliveries', () => {
  let hooklane: TestHooklane;
  const receivers = receiverPool();
  const newReceiver = () => receivers.start();

  const newTenant = (eventType?: string) => tenantWithEventType(hooklane, eventType);

  const getDelivery = async (token: string, id: string) =>
    (await gqlData<{ delivery: Delivery | null }>(hooklane, token, `query($id: ID!) { delivery(id: $id) { ${DELIVERY} } }`, { id })).delivery;

  const waitForStatus = (token: string, id: string, status: string, timeoutMs = 8_000) =>
    eventually(
      async () => {
        const delivery = await getDelivery(token, id);
        return delivery?.status === status ? delivery : undefined;
      },
      timeoutMs,
      `delivery ${id} to be ${status}`,
    );

  const subscription = async (token: string, id: string) => (await getSubscriptionWith(hooklane, token, id))!;

  const newSubscription = async (token: string, url: string, extra: Record<string, unknown> = {}) =>
    (await createSubscriptionWith(hooklane, token, { url, eventTypes: ['order.created'], ...extra }, 'id')).subscription.id;

  const errorCodeOf = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      if (error instanceof GraphQLCallError) return error.code;
      throw error;
    }
    throw new Error('expected the call to be refused');
  };

  const countDeliveries = async (where: { subscriptionId?: string; eventId?: string }) => {
    const [row] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from deliveries
      where (${where.subscriptionId ?? null}::text is null or subscription_id = ${where.subscriptionId ?? null})
        and (${where.eventId ?? null}::text is null or event_id = ${where.eventId ?? null})`;
    return row!.count;
  };

  /** Jobs that will still run for a delivery: waiting or due, not the one being worked on. */
  const waitingJobsFor = async (deliveryId: string) => {
    const [row] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from graphile_worker._private_jobs
      where payload->>'deliveryId' = ${deliveryId} and locked_at is null`;
    return row!.count;
  };

  beforeAll(async () => {
    hooklane = await startTestHooklane({ DELIVERY_RETRY_SCHEDULE: '50ms,50ms', DELIVERY_TIMEOUT: '3s' });
  });
  afterEach(async () => {
    await receivers.closeAll();
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  describe('disabled subscriptions hold deliveries', () => {
    it('keeps 5 events HELD while disabled and sends them in publish order, one after another, when enabled', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      // Each answer takes a moment, so that deliveries sent in parallel would overlap at the receiver.
      receiver.replyWith({ status: 200, body: 'ok', delayMs: 60 });
      const id = await newSubscription(tenant.token, receiver.url);

      const disabled = await mutate<{ subscription: Record<string, any> }>(
        hooklane,
        tenant.token,
        'updateSubscription',
        { id, enabled: false },
        'subscription { enabled disabledReason }',
      );
      expect(disabled.subscription).toEqual({ enabled: false, disabledReason: 'MANUAL' });

      const published: { eventId: string; deliveryId: string }[] = [];
      for (let n = 1; n <= 5; n++) {
        const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n } });
        expect(event.deliveries).toHaveLength(1);
        expect(event.deliveries[0]!.status).toBe('HELD');
        published.push({ eventId: event.id, deliveryId: event.deliveries[0]!.id });
      }
      await tenantIdle(hooklane, tenant.id);
      expect(receiver.requests).toHaveLength(0);
      expect((await subscription(tenant.token, id)).heldDeliveryCount).toBe(5);
      for (const { deliveryId } of published) {
        expect(await getDelivery(tenant.token, deliveryId)).toMatchObject({ status: 'HELD', attemptCount: 0, nextAttemptAt: null });
        expect(await waitingJobsFor(deliveryId)).toBe(0);
      }

      const enabled = await mutate<{ subscription: Record<string, any> }>(
        hooklane,
        tenant.token,
        'updateSubscription',
        { id, enabled: true },
        'subscription { enabled disabledReason heldDeliveryCount }',
      );
      expect(enabled.subscription).toMatchObject({ enabled: true, disabledReason: null });

      const requests = await receiver.waitForRequests(5, 5_000);
      for (const { deliveryId } of published) await waitForStatus(tenant.token, deliveryId, 'SUCCEEDED');
      expect(requests.map((request) => request.headers['webhook-id'])).toEqual(published.map(({ eventId }) => eventId));
      // One after another: the receiver never had two of them at once.
      expect(receiver.maxInFlight).toBe(1);
      expect((await subscription(tenant.token, id)).heldDeliveryCount).toBe(0);
      await tenantIdle(hooklane, tenant.id);
      expect(receiver.requests).toHaveLength(5);
    });

    it('turns a PENDING delivery HELD when its retry comes due while the subscription is disabled', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      receiver.replyWith({ status: 500, body: 'down' }, { status: 200, body: 'ok' });
      // The retry is an hour ahead: it comes due only when the test moves it to now, once disabled.
      const id = await newSubscription(tenant.token, receiver.url, { retrySchedule: ['1h'] });

      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { retry: 'later' } });
      const deliveryId = event.deliveries[0]!.id;
      await receiver.waitForRequests(1);
      const pending = await eventually(async () => {
        const delivery = await getDelivery(tenant.token, deliveryId);
        return delivery?.attemptCount === 1 ? delivery : undefined;
      }, 3_000, 'first attempt recorded');
      expect(pending.status).toBe('PENDING');
      expect(pending.nextAttemptAt).not.toBeNull();

      await updateSubscription(hooklane, tenant.token, { id, enabled: false });
      // The hour passes: the delivery and its job fall due now.
      await hooklane.sql`update deliveries set next_attempt_at = now() where id = ${deliveryId}`;
      await hooklane.sql`
        select graphile_worker.reschedule_jobs(
          array(select id from graphile_worker._private_jobs where payload->>'deliveryId' = ${deliveryId}), run_at => now())`;
      const held = await waitForStatus(tenant.token, deliveryId, 'HELD', 5_000);
      expect(held).toMatchObject({ attemptCount: 1, nextAttemptAt: null });
      expect(receiver.requests).toHaveLength(1);
      expect((await subscription(tenant.token, id)).heldDeliveryCount).toBe(1);

      await updateSubscription(hooklane, tenant.token, { id, enabled: true });
      const succeeded = await waitForStatus(tenant.token, deliveryId, 'SUCCEEDED');
      expect(succeeded.attempts.map((attempt) => attempt.statusCode)).toEqual([500, 200]);
      expect(receiver.requests).toHaveLength(2);
    });

    it('discardHeldDeliveries drops the held deliveries: nothing is sent when enabled again', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      const id = await newSubscription(tenant.token, receiver.url);
      await updateSubscription(hooklane, tenant.token, { id, enabled: false });
      const events = [];
      for (let n = 1; n <= 3; n++) events.push(await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n } }));
      expect(await countDeliveries({ subscriptionId: id })).toBe(3);

      const discarded = await mutate<{ subscription: { id: string; heldDeliveryCount: number }; discardedCount: number }>(
        hooklane,
        tenant.token,
        'discardHeldDeliveries',
        { subscriptionId: id },
        'subscription { id heldDeliveryCount } discardedCount',
      );
      expect(discarded.discardedCount).toBe(3);
      expect(discarded.subscription.id).toBe(id);
      expect((await subscription(tenant.token, id)).heldDeliveryCount).toBe(0);
      expect(await countDeliveries({ subscriptionId: id })).toBe(0);
      for (const event of events) {
        expect((await getEvent(hooklane, tenant.token, event.id))!.deliveries).toEqual([]);
        expect(await getDelivery(tenant.token, event.deliveries[0]!.id)).toBeNull();
      }

      // Again: nothing left to drop.
      const again = await mutate<{ discardedCount: number }>(hooklane, tenant.token, 'discardHeldDeliveries', { subscriptionId: id }, 'discardedCount');
      expect(again.discardedCount).toBe(0);

      await updateSubscription(hooklane, tenant.token, { id, enabled: true });
      await tenantIdle(hooklane, tenant.id);
      expect(receiver.requests).toHaveLength(0);

      // Unknown or another tenant's subscription: NOT_FOUND.
      const other = await newTenant();
      expect(await errorCodeOf(mutate(hooklane, other.token, 'discardHeldDeliveries', { subscriptionId: id }, 'discardedCount'))).toBe('NOT_FOUND');
    });
  });

  describe('retryDelivery', () => {
    it('returns a FAILED delivery to PENDING, sends it now, and it SUCCEEDS', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      receiver.replyWith({ status: 500, body: 'down' });
      await newSubscription(tenant.token, receiver.url);
      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { x: 1 } });
      const failed = await waitForStatus(tenant.token, event.deliveries[0]!.id, 'FAILED');
      expect(failed.attemptCount).toBe(3);

      receiver.replyWith({ status: 200, body: 'fixed' });
      const retried = await retryDelivery(hooklane, tenant.token, failed.id);
      expect(retried.status).toBe('PENDING');
      const succeeded = await waitForStatus(tenant.token, failed.id, 'SUCCEEDED');
      expect(succeeded.attempts.map((attempt) => attempt.outcome)).toEqual(['HTTP_ERROR', 'HTTP_ERROR', 'HTTP_ERROR', 'SUCCESS']);
      expect(receiver.requests).toHaveLength(4);
    });

    it('refuses a HELD delivery with BAD_USER_INPUT and leaves it held', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      const id = await newSubscription(tenant.token, receiver.url);
      await updateSubscription(hooklane, tenant.token, { id, enabled: false });
      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { held: true } });
      const deliveryId = event.deliveries[0]!.id;

      expect(await errorCodeOf(retryDelivery(hooklane, tenant.token, deliveryId))).toBe('BAD_USER_INPUT');
      expect(await getDelivery(tenant.token, deliveryId)).toMatchObject({ status: 'HELD', attemptCount: 0 });
      expect(await waitingJobsFor(deliveryId)).toBe(0);
      await tenantIdle(hooklane, tenant.id);
      expect(receiver.requests).toHaveLength(0);
    });

    it('never leaves two pending jobs for one delivery when retried several times quickly', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      // The first attempt fails at once; the manual retry's answer is held until every retryDelivery
      // call below has landed, so they all land while it is queued or in flight.
      const manualAttempt = new Hold();
      receiver.replyWith({ status: 500, body: 'down' }, { status: 500, body: 'still down', heldUntil: manualAttempt.released });
      await newSubscription(tenant.token, receiver.url, { retrySchedule: ['10s', '10s'] });
      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { many: 'retries' } });
      const deliveryId = event.deliveries[0]!.id;
      const scheduled = await eventually(async () => {
        const delivery = await getDelivery(tenant.token, deliveryId);
        return delivery?.attemptCount === 1 ? delivery : undefined;
      }, 3_000, 'first attempt recorded');
      expect(scheduled.status).toBe('PENDING');
      // 10 s after the attempt, jittered by at most 20 %.
      expect(retryDelayOf(scheduled)).toBeGreaterThanOrEqual(7_000);
      expect(await waitingJobsFor(deliveryId)).toBe(1);

      const results = await Promise.all(Array.from({ length: 5 }, () => retryDelivery(hooklane, tenant.token, deliveryId)));
      for (const result of results) expect(result.status).toBe('PENDING');

      // While the manual attempt is queued or in flight, at most one job waits for this delivery.
      expect(await waitingJobsFor(deliveryId)).toBeLessThanOrEqual(1);
      await receiver.waitForRequests(2);
      manualAttempt.release();

      // The one manual attempt is recorded, and its own retry is again 10 s ahead.
      const afterRetry = await eventually(async () => {
        const delivery = await getDelivery(tenant.token, deliveryId);
        return delivery && delivery.attemptCount >= 2 ? delivery : undefined;
      }, 5_000, 'manual attempt recorded');
      // Nothing more is under way for it: one job is left, waiting for that retry, and none is running.
      await eventually(async () => {
        const [jobs] = await hooklane.sql<{ total: number; running: number }[]>`
          select count(*)::int as total, count(locked_at)::int as running
          from graphile_worker._private_jobs where payload->>'deliveryId' = ${deliveryId}`;
        return jobs!.total === 1 && jobs!.running === 0 ? true : undefined;
      }, 5_000, 'only the scheduled retry left');
      expect(receiver.requests).toHaveLength(2);
      const settled = (await getDelivery(tenant.token, deliveryId))!;
      expect(settled.attemptCount).toBe(2);
      expect(settled.status).toBe('PENDING');
      expect(retryDelayOf(settled)).toBeGreaterThanOrEqual(7_000);
      expect(afterRetry.attemptCount).toBe(2);
      expect(await waitingJobsFor(deliveryId)).toBe(1);
      const [stillKeyed] = await hooklane.sql<{ count: number }[]>`
        select count(*)::int as count from graphile_worker._private_jobs where key = ${`deliver:${deliveryId}`}`;
      expect(stillKeyed!.count).toBe(1);
    });
  });

  describe('replayEvent', () => {
    it('delivers an event again with the same webhook-id, to chosen subscriptions or every enabled match', async () => {
      const tenant = await newTenant();
      await createEventType(hooklane, tenant.token, { name: 'order.cancelled' });
      const [first, second, off, otherType] = await Promise.all([newReceiver(), newReceiver(), newReceiver(), newReceiver()]);
      const firstId = await newSubscription(tenant.token, first!.url);
      const secondId = await newSubscription(tenant.token, second!.url);
      const offId = await newSubscription(tenant.token, off!.url);
      await createSubscriptionWith(hooklane, tenant.token, { url: otherType!.url, eventTypes: ['order.cancelled'] }, 'id');
      await updateSubscription(hooklane, tenant.token, { id: offId, enabled: false });

      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { replay: 1 } });
      expect(event.deliveries.map((delivery) => delivery.subscription.id).sort()).toEqual([firstId, secondId, offId].sort());
      for (const delivery of event.deliveries) {
        if (delivery.subscription.id !== offId) await waitForStatus(tenant.token, delivery.id, 'SUCCEEDED');
      }
      const [original] = await second!.waitForRequests(1);

      // To one chosen subscription.
      const chosen = await mutate<{ event: { id: string }; deliveries: Delivery[] }>(
        hooklane,
        tenant.token,
        'replayEvent',
        { id: event.id, subscriptionIds: [secondId] },
        `event { id } deliveries { ${DELIVERY} }`,
      );
      expect(chosen.event.id).toBe(event.id);
      expect(chosen.deliveries).toHaveLength(1);
      const replayed = chosen.deliveries[0]!;
      expect(replayed.subscription.id).toBe(secondId);
      expect(replayed.event.id).toBe(event.id);
      expect(event.deliveries.map((delivery) => delivery.id)).not.toContain(replayed.id);
      await waitForStatus(tenant.token, replayed.id, 'SUCCEEDED');
      const [, again] = await second!.waitForRequests(2);
      expect(again!.headers['webhook-id']).toBe(event.id);
      expect(again!.rawBody).toBe(original!.rawBody);
      expect(first!.requests).toHaveLength(1);

      // Without subscriptionIds: every enabled subscription the event matches now.
      const all = await mutate<{ deliveries: Delivery[] }>(hooklane, tenant.token, 'replayEvent', { id: event.id }, `deliveries { ${DELIVERY} }`);
      expect(all.deliveries.map((delivery) => delivery.subscription.id).sort()).toEqual([firstId, secondId].sort());
      for (const delivery of all.deliveries) await waitForStatus(tenant.token, delivery.id, 'SUCCEEDED');
      expect((await first!.waitForRequests(2)).map((request) => request.headers['webhook-id'])).toEqual([event.id, event.id]);
      await second!.waitForRequests(3);
      expect((await getEvent(hooklane, tenant.token, event.id))!.deliveries).toHaveLength(3 + 1 + 2);
      await tenantIdle(hooklane, tenant.id);
      expect(off!.requests).toHaveLength(0);
      expect(otherType!.requests).toHaveLength(0);
    });

    it('an unknown subscription id is NOT_FOUND and writes nothing', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      const id = await newSubscription(tenant.token, receiver.url);
      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: {} });
      await waitForStatus(tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');
      const before = await countDeliveries({ eventId: event.id });

      const other = await newTenant();
      const foreign = await newSubscription(other.token, receiver.url);
      for (const subscriptionIds of [[id, 'sub_00000000000000000000000000000000'], [foreign]]) {
        const code = await errorCodeOf(mutate(hooklane, tenant.token, 'replayEvent', { id: event.id, subscriptionIds }, 'deliveries { id }'));
        expect(code, JSON.stringify(subscriptionIds)).toBe('NOT_FOUND');
      }
      expect(await errorCodeOf(mutate(hooklane, other.token, 'replayEvent', { id: event.id }, 'deliveries { id }'))).toBe('NOT_FOUND');
      expect(await countDeliveries({ eventId: event.id })).toBe(before);
      await tenantIdle(hooklane, tenant.id);
      expect(receiver.requests).toHaveLength(1);
    });
  });

  describe('recoverSubscription', () => {
    it('re-sends the FAILED deliveries created in the window once the receiver is fixed', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      receiver.replyWith({ status: 503, body: 'down' });
      const id = await newSubscription(tenant.token, receiver.url);

      const since = new Date(Date.now() - 1_000);
      const deliveryIds: string[] = [];
      for (let n = 1; n <= 3; n++) {
        const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n } });
        deliveryIds.push(event.deliveries[0]!.id);
      }
      for (const deliveryId of deliveryIds) await waitForStatus(tenant.token, deliveryId, 'FAILED');
      expect(receiver.requests).toHaveLength(9);
      receiver.replyWith({ status: 200, body: 'fixed' });

      const recover = (input: Record<string, unknown>) =>
        mutate<{ subscription: { id: string }; deliveryCount: number }>(
          hooklane,
          tenant.token,
          'recoverSubscription',
          { id, ...input },
          'subscription { id } deliveryCount',
        );

      // A window that ends before they were created: nothing.
      const earlier = await recover({ since: new Date(since.getTime() - 3_600_000).toISOString(), until: since.toISOString() });
      expect(earlier.deliveryCount).toBe(0);
      // since >= until is refused.
      const now = new Date().toISOString();
      expect(await errorCodeOf(recover({ since: now, until: now }))).toBe('BAD_USER_INPUT');
      expect(await errorCodeOf(recover({ since: now, until: since.toISOString() }))).toBe('BAD_USER_INPUT');
      await tenantIdle(hooklane, tenant.id);
      expect(receiver.requests).toHaveLength(9);
      for (const deliveryId of deliveryIds) expect((await getDelivery(tenant.token, deliveryId))!.status).toBe('FAILED');

      const recovered = await recover({ since: since.toISOString(), until: new Date(Date.now() + 1_000).toISOString() });
      expect(recovered).toEqual({ subscription: { id }, deliveryCount: 3 });
      for (const deliveryId of deliveryIds) {
        const delivery = await waitForStatus(tenant.token, deliveryId, 'SUCCEEDED');
        expect(delivery.attemptCount).toBe(4);
      }
      expect(receiver.requests).toHaveLength(12);

      // Once recovered, the window holds no FAILED delivery any more; until defaults to now.
      expect((await recover({ since: since.toISOString() })).deliveryCount).toBe(0);
    });
  });
});
