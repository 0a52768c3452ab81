import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  createEventType,
  createSubscriptionWith,
  getEvent,
  getSubscriptionWith,
  gqlData,
  GraphQLCallError,
  gqlErrorCode,
  mutate,
  publish,
  updateSubscription,
  webhookHeadersOf,
} from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, tenantIdle, type TestHooklane } from '../support/hooklane.js';
import { receiverPool, tenantWithEventType } from '../support/fixtures.js';
import { refusingPort } from '../support/ports.js';
import { Hold, type ReceivedRequest } from '../support/receiver.js';

// Retry schedules (global and per subscription), Retry-After, attempt outcomes, endpoint health
// (410 Gone, auto-disable after SUBSCRIPTION_DISABLE_AFTER) and the built-in hooklane.* events,
// end to end: GraphQL API → PostgreSQL → worker → real HTTP receivers on 127.0.0.1.

const GLOBAL_SCHEDULE = ['50ms', '50ms', '50ms'];
const DISABLE_AFTER_MS = 300;

interface Attempt {
  statusCode: number | null;
  outcome: string;
  error: string | null;
  createdAt: string;
}
interface Delivery {
  id: string;
  status: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  attempts: Attempt[];
}

const DELIVERY = 'id status attemptCount nextAttemptAt attempts { statusCode outcome error createdAt }';
const SUBSCRIPTION = 'id enabled disabledReason failingSince retrySchedule hasCustomRetrySchedule heldDeliveryCount';

/** Resolves once the clock is past `instant` (ms since the epoch): a wait for a moment in time, not a guessed duration. */
const untilPast = async (instant: number) => {
  while (Date.now() <= instant) await new Promise((resolve) => setTimeout(resolve, instant - Date.now() + 1));
};

describe('retry schedules and endpoint health', () => {
  let hooklane: TestHooklane;
  const receivers = receiverPool();
  const newReceiver = () => receivers.start();

  const newTenant = (eventType?: string) => tenantWithEventType(hooklane, eventType);

  const getDelivery = async (token: string, id: string, on: TestHooklane = hooklane) =>
    (await gqlData<{ delivery: Delivery | null }>(on, token, `query($id: ID!) { delivery(id: $id) { ${DELIVERY} } }`, { id })).delivery;

  const waitForStatus = (token: string, id: string, status: string, on: TestHooklane = hooklane, timeoutMs = 10_000) =>
    eventually(
      async () => {
        const delivery = await getDelivery(token, id, on);
        return delivery?.status === status ? delivery : undefined;
      },
      timeoutMs,
      `delivery ${id} to be ${status}`,
    );

  const subscription = async (token: string, id: string, on: TestHooklane = hooklane) =>
    (await getSubscriptionWith(on, token, id, SUBSCRIPTION))!;

  /** Publishes one event and returns its single delivery's id. */
  const publishOne = async (token: string, payload: unknown = {}) => {
    const event = await publish(hooklane, token, { eventType: 'order.created', payload });
    expect(event.deliveries).toHaveLength(1);
    return { event, deliveryId: event.deliveries[0]!.id, status: event.deliveries[0]!.status as string };
  };

  const errorCodeOf = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      if (error instanceof GraphQLCallError) return error.code;
      throw error;
    }
    throw new Error('expected the call to be refused');
  };

  beforeAll(async () => {
    hooklane = await startTestHooklane({
      DELIVERY_RETRY_SCHEDULE: GLOBAL_SCHEDULE.join(','),
      // Generous for a loaded CI machine; the TIMEOUT test answers well after it.
      DELIVERY_TIMEOUT: '1s',
      SUBSCRIPTION_DISABLE_AFTER: `${DISABLE_AFTER_MS}ms`,
    });
  });
  afterEach(async () => {
    await receivers.closeAll();
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  describe('per-subscription retrySchedule', () => {
    it('overrides the global schedule (2 attempts, then FAILED) and echoes back as strings', async () => {
      const tenant = await newTenant();
      const custom = await newReceiver();
      const global = await newReceiver();
      custom.replyWith({ status: 500, body: 'down' });
      global.replyWith({ status: 500, body: 'down' });
      const own = await createSubscriptionWith(
        hooklane,
        tenant.token,
        { url: custom.url, eventTypes: ['order.created'], retrySchedule: ['50ms'] },
        SUBSCRIPTION,
      );
      const plain = await createSubscriptionWith(hooklane, tenant.token, { url: global.url, eventTypes: ['order.created'] }, SUBSCRIPTION);
      expect(own.subscription).toMatchObject({ retrySchedule: ['50ms'], hasCustomRetrySchedule: true });
      expect(plain.subscription).toMatchObject({ retrySchedule: GLOBAL_SCHEDULE, hasCustomRetrySchedule: false });

      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
      const bySubscription = new Map(event.deliveries.map((delivery) => [delivery.subscription.id, delivery.id]));
      const ownFailed = await waitForStatus(tenant.token, bySubscription.get(own.subscription.id)!, 'FAILED');
      const plainFailed = await waitForStatus(tenant.token, bySubscription.get(plain.subscription.id)!, 'FAILED');

      // The subscription's one retry, against the global schedule's three.
      expect(ownFailed.attemptCount).toBe(2);
      expect(ownFailed.attempts.map((attempt) => attempt.statusCode)).toEqual([500, 500]);
      expect(ownFailed.nextAttemptAt).toBeNull();
      expect(plainFailed.attemptCount).toBe(1 + GLOBAL_SCHEDULE.length);
      await tenantIdle(hooklane, tenant.id);
      expect(custom.requests).toHaveLength(2);
      expect(global.requests).toHaveLength(4);
    });

    it('accepts several units, and updating it to null restores the default schedule', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      const created = await createSubscriptionWith(
        hooklane,
        tenant.token,
        { url: receiver.url, eventTypes: ['order.created'], retrySchedule: ['50ms', '5s', '5m', '2h', '1d'] },
        SUBSCRIPTION,
      );
      expect(created.subscription.retrySchedule).toEqual(['50ms', '5s', '5m', '2h', '1d']);
      const id = created.subscription.id;

      const changed = await mutate<{ subscription: Record<string, any> }>(
        hooklane,
        tenant.token,
        'updateSubscription',
        { id, retrySchedule: ['50ms'] },
        `subscription { ${SUBSCRIPTION} }`,
      );
      expect(changed.subscription).toMatchObject({ retrySchedule: ['50ms'], hasCustomRetrySchedule: true });

      // Omitting it keeps it.
      await updateSubscription(hooklane, tenant.token, { id, description: 'still custom' });
      expect(await subscription(tenant.token, id)).toMatchObject({ retrySchedule: ['50ms'], hasCustomRetrySchedule: true });

      const cleared = await mutate<{ subscription: Record<string, any> }>(
        hooklane,
        tenant.token,
        'updateSubscription',
        { id, retrySchedule: null },
        `subscription { ${SUBSCRIPTION} }`,
      );
      expect(cleared.subscription).toMatchObject({ retrySchedule: GLOBAL_SCHEDULE, hasCustomRetrySchedule: false });
      const [row] = await hooklane.sql<{ retry_schedule_ms: number[] | null }[]>`select retry_schedule_ms from subscriptions where id = ${id}`;
      expect(row!.retry_schedule_ms).toBeNull();

      // And deliveries follow the default again: 1 + 3 attempts.
      receiver.replyWith({ status: 500 });
      const { deliveryId } = await publishOne(tenant.token);
      const failed = await waitForStatus(tenant.token, deliveryId, 'FAILED');
      expect(failed.attemptCount).toBe(1 + GLOBAL_SCHEDULE.length);
    });

    it('refuses invalid schedules with BAD_USER_INPUT and writes nothing', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      const invalid: string[][] = [['5x'], ['50ms', 'soon'], Array.from({ length: 21 }, () => '1s'), ['2d'], ['25h']];
      const before = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from subscriptions where tenant_id = ${tenant.id}`;
      for (const retrySchedule of invalid) {
        const code = await errorCodeOf(
          createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'], retrySchedule }, 'id'),
        );
        expect(code, JSON.stringify(retrySchedule)).toBe('BAD_USER_INPUT');
      }
      const after = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from subscriptions where tenant_id = ${tenant.id}`;
      expect(after[0]!.count).toBe(before[0]!.count);

      // 20 entries is the limit, not an error.
      const twenty = Array.from({ length: 20 }, () => '1s');
      const ok = await createSubscriptionWith(
        hooklane,
        tenant.token,
        { url: receiver.url, eventTypes: ['order.created'], retrySchedule: ['50ms'] },
        'id',
      );
      for (const retrySchedule of invalid) {
        const code = await errorCodeOf(
          mutate(hooklane, tenant.token, 'updateSubscription', { id: ok.subscription.id, retrySchedule }, 'subscription { id }'),
        );
        expect(code, JSON.stringify(retrySchedule)).toBe('BAD_USER_INPUT');
      }
      expect(await subscription(tenant.token, ok.subscription.id)).toMatchObject({ retrySchedule: ['50ms'], hasCustomRetrySchedule: true });
      const longest = await mutate<{ subscription: { retrySchedule: string[] } }>(
        hooklane,
        tenant.token,
        'updateSubscription',
        { id: ok.subscription.id, retrySchedule: twenty },
        'subscription { retrySchedule }',
      );
      expect(longest.subscription.retrySchedule).toEqual(twenty);
    });
  });

  describe('Retry-After', () => {
    it('waits for Retry-After on 429 (seconds) and 503 (HTTP date); without it, the schedule applies', async () => {
      const tenant = await newTenant();
      const [limited, unavailable, plain] = await Promise.all([newReceiver(), newReceiver(), newReceiver()]);
      for (const receiver of [limited!, unavailable!, plain!]) {
        await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'], retrySchedule: ['50ms'] }, 'id');
      }
      limited!.replyWith({ status: 429, headers: { 'retry-after': '1' } }, { status: 200, body: 'ok' });
      // A whole second (the HTTP-date format has no fractions) between one and two seconds after the
      // first attempt arrives, however late that is.
      let httpDate = '';
      unavailable!.replyWith(
        (request) => {
          httpDate = new Date(Math.ceil(request.receivedAt / 1_000) * 1_000 + 1_000).toUTCString();
          return { status: 503, headers: { 'retry-after': httpDate } };
        },
        { status: 200, body: 'ok' },
      );
      plain!.replyWith({ status: 503 }, { status: 200, body: 'ok' });

      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { limited: true } });
      expect(event.deliveries).toHaveLength(3);
      const succeeded = await Promise.all(event.deliveries.map((delivery) => waitForStatus(tenant.token, delivery.id, 'SUCCEEDED')));
      for (const delivery of succeeded) expect(delivery.attemptCount).toBe(2);

      const gap = (requests: ReceivedRequest[]) => requests[1]!.receivedAt - requests[0]!.receivedAt;
      const [limitedRequests, unavailableRequests, plainRequests] = await Promise.all([
        limited!.waitForRequests(2),
        unavailable!.waitForRequests(2),
        plain!.waitForRequests(2),
      ]);
      // The schedule says ~50ms; Retry-After says 1 s.
      expect(gap(limitedRequests)).toBeGreaterThanOrEqual(950);
      // An HTTP date is absolute: the retry comes no earlier than that instant.
      expect(unavailableRequests[1]!.receivedAt).toBeGreaterThanOrEqual(Date.parse(httpDate));
      expect(plainRequests).toHaveLength(2);

      const outcomes = new Map<string, string[]>();
      const statuses = new Map<string, (number | null)[]>();
      for (const delivery of succeeded) {
        outcomes.set(delivery.id, delivery.attempts.map((attempt) => attempt.outcome));
        statuses.set(delivery.id, delivery.attempts.map((attempt) => attempt.statusCode));
      }
      const sorted = [...statuses.entries()].map(([id, codes]) => ({ codes, outcomes: outcomes.get(id) }));
      expect(sorted).toEqual(
        expect.arrayContaining([
          { codes: [429, 200], outcomes: ['RATE_LIMITED', 'SUCCESS'] },
          { codes: [503, 200], outcomes: ['RATE_LIMITED', 'SUCCESS'] },
          { codes: [503, 200], outcomes: ['HTTP_ERROR', 'SUCCESS'] },
        ]),
      );
    });
  });

  describe('410 Gone', () => {
    it('fails the delivery after one attempt, disables the subscription (GONE) and holds new events', async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      receiver.replyWith({ status: 410, body: 'gone' });
      const { subscription: sub } = await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] }, 'id');

      const { deliveryId } = await publishOne(tenant.token, { n: 1 });
      const failed = await waitForStatus(tenant.token, deliveryId, 'FAILED');
      expect(failed.attemptCount).toBe(1);
      expect(failed.nextAttemptAt).toBeNull();
      expect(failed.attempts).toHaveLength(1);
      expect(failed.attempts[0]).toMatchObject({ statusCode: 410, outcome: 'GONE' });

      const disabled = await eventually(async () => {
        const current = await subscription(tenant.token, sub.id);
        return current.enabled ? undefined : current;
      }, 5_000, 'subscription disabled');
      expect(disabled).toMatchObject({ enabled: false, disabledReason: 'GONE' });

      const next = await publishOne(tenant.token, { n: 2 });
      expect(next.status).toBe('HELD');
      await tenantIdle(hooklane, tenant.id);
      expect(receiver.requests).toHaveLength(1);
      expect((await getDelivery(tenant.token, next.deliveryId))!).toMatchObject({ status: 'HELD', attemptCount: 0 });
      expect((await subscription(tenant.token, sub.id)).heldDeliveryCount).toBe(1);
    });
  });

  describe('attempt outcomes', () => {
    it('labels TIMEOUT, CONNECTION_ERROR, HTTP_ERROR and SUCCESS', async () => {
      const tenant = await newTenant();
      const [slow, erroring] = await Promise.all([newReceiver(), newReceiver()]);
      // Held until the test is done: only DELIVERY_TIMEOUT ends the first attempt.
      const tooLate = new Hold();
      slow!.replyWith({ status: 200, body: 'too late', heldUntil: tooLate.released }, { status: 200, body: 'ok' });
      erroring!.replyWith({ status: 500, body: 'boom' }, { status: 200, body: 'ok' });
      const closed = await refusingPort();
      onTestFinished(async () => {
        tooLate.release();
        await closed.release();
      });

      const subs = new Map<string, string>();
      for (const [name, url] of [
        ['slow', slow!.url],
        ['erroring', erroring!.url],
        ['closed', `http://127.0.0.1:${closed.port}/hook`],
      ] as const) {
        const { subscription: sub } = await createSubscriptionWith(
          hooklane,
          tenant.token,
          { url, eventTypes: ['order.created'], retrySchedule: ['50ms'] },
          'id',
        );
        subs.set(sub.id, name);
      }
      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { outcome: 'labels' } });
      const byName = new Map(event.deliveries.map((delivery) => [subs.get(delivery.subscription.id)!, delivery.id]));

      const timedOut = await waitForStatus(tenant.token, byName.get('slow')!, 'SUCCEEDED');
      expect(timedOut.attempts.map((attempt) => attempt.outcome)).toEqual(['TIMEOUT', 'SUCCESS']);
      expect(timedOut.attempts[0]!.statusCode).toBeNull();
      expect(timedOut.attempts[0]!.error).toMatch(/time/i);

      const httpError = await waitForStatus(tenant.token, byName.get('erroring')!, 'SUCCEEDED');
      expect(httpError.attempts.map((attempt) => [attempt.statusCode, attempt.outcome])).toEqual([
        [500, 'HTTP_ERROR'],
        [200, 'SUCCESS'],
      ]);
      expect(httpError.attempts[1]!.error).toBeNull();

      const refused = await waitForStatus(tenant.token, byName.get('closed')!, 'FAILED');
      expect(refused.attempts.map((attempt) => attempt.outcome)).toEqual(['CONNECTION_ERROR', 'CONNECTION_ERROR']);
      for (const attempt of refused.attempts) {
        expect(attempt.statusCode).toBeNull();
        expect(attempt.error).toMatch(/ECONNREFUSED/);
      }
    });
  });

  describe('auto-disable after SUBSCRIPTION_DISABLE_AFTER', () => {
    const failingSubscription = async () => {
      const tenant = await newTenant();
      const receiver = await newReceiver();
      receiver.replyWith({ status: 500, body: 'down' });
      const { subscription: sub } = await createSubscriptionWith(
        hooklane,
        tenant.token,
        { url: receiver.url, eventTypes: ['order.created'], retrySchedule: ['20ms'] },
        'id',
      );
      const failOne = async () => {
        const { deliveryId } = await publishOne(tenant.token);
        return waitForStatus(tenant.token, deliveryId, 'FAILED');
      };
      return { tenant, receiver, id: sub.id, failOne };
    };

    it('stays enabled with fewer than 3 failed deliveries, however long; the 3rd disables it (FAILING)', async () => {
      const { tenant, id, failOne, receiver } = await failingSubscription();
      await failOne();
      const failing = await subscription(tenant.token, id);
      expect(failing.enabled).toBe(true);
      expect(failing.failingSince).not.toBeNull();
      const since = Date.parse(failing.failingSince);

      await untilPast(since + DISABLE_AFTER_MS);
      await failOne();
      // Two failed deliveries spanning more than SUBSCRIPTION_DISABLE_AFTER: not enough.
      expect(await subscription(tenant.token, id)).toMatchObject({ enabled: true, disabledReason: null, failingSince: failing.failingSince });

      await failOne();
      const disabled = await subscription(tenant.token, id);
      expect(disabled).toMatchObject({ enabled: false, disabledReason: 'FAILING' });

      const held = await publishOne(tenant.token);
      expect(held.status).toBe('HELD');
      const requestsBefore = receiver.requests.length;
      await tenantIdle(hooklane, tenant.id);
      expect(receiver.requests).toHaveLength(requestsBefore);
    });

    it('one success resets failingSince and the count of failed deliveries', async () => {
      const { tenant, id, failOne, receiver } = await failingSubscription();
      await failOne();
      await failOne();
      expect((await subscription(tenant.token, id)).failingSince).not.toBeNull();

      receiver.replyWith({ status: 200, body: 'back' });
      const { deliveryId } = await publishOne(tenant.token);
      await waitForStatus(tenant.token, deliveryId, 'SUCCEEDED');
      expect(await subscription(tenant.token, id)).toMatchObject({ enabled: true, failingSince: null });

      // Failing again: two more failed deliveries spanning the window would disable it if the
      // two failures before the success still counted.
      receiver.replyWith({ status: 500 });
      await failOne();
      const since = Date.parse((await subscription(tenant.token, id)).failingSince);
      await untilPast(since + DISABLE_AFTER_MS);
      await failOne();
      expect(await subscription(tenant.token, id)).toMatchObject({ enabled: true, disabledReason: null });
    });
  });

  describe('auto-disable needs SUBSCRIPTION_DISABLE_AFTER to have passed', () => {
    // Its own instance with a long window: "3 failed deliveries within the window" must not depend
    // on how fast a loaded machine fails them.
    let patient: TestHooklane;
    beforeAll(async () => {
      patient = await startTestHooklane({ SUBSCRIPTION_DISABLE_AFTER: '1h', DELIVERY_TIMEOUT: '1s' });
    });
    afterAll(async () => {
      await patient?.stop();
    });

    it('stays enabled after 3 (and more) failed deliveries while the window has not passed', async () => {
      const tenant = await patient.createTenant();
      await createEventType(patient, tenant.token, { name: 'order.created' });
      const receiver = await newReceiver();
      receiver.replyWith({ status: 500, body: 'down' });
      const { subscription: sub } = await createSubscriptionWith(
        patient,
        tenant.token,
        { url: receiver.url, eventTypes: ['order.created'], retrySchedule: ['20ms'] },
        'id',
      );
      const events = await Promise.all(
        [1, 2, 3, 4].map((n) => publish(patient, tenant.token, { eventType: 'order.created', payload: { n } })),
      );
      for (const event of events) await waitForStatus(tenant.token, event.deliveries[0]!.id, 'FAILED', patient);
      const current = await subscription(tenant.token, sub.id, patient);
      expect(current).toMatchObject({ enabled: true, disabledReason: null });
      expect(current.failingSince).not.toBeNull();
      const [row] = await patient.sql<{ failed_deliveries_in_row: number }[]>`
        select failed_deliveries_in_row from subscriptions where id = ${sub.id}`;
      expect(row!.failed_deliveries_in_row).toBe(4);
      // Still enabled, so a new event's delivery is PENDING, not HELD. Its first attempt is held at
      // the receiver while the answer is read, so that it cannot have failed (FAILED) already.
      const inFlight = new Hold();
      receiver.replyWith({ status: 500, body: 'down', heldUntil: inFlight.released });
      const next = await publish(patient, tenant.token, { eventType: 'order.created', payload: { n: 5 } });
      expect(next.deliveries[0]!.status).toBe('PENDING');
      inFlight.release();
    });
  });

  describe('operational hooklane.* events', () => {
    it('reports delivery.failed, subscription.disabled and subscription.enabled to subscriptions that ask for them', async () => {
      const tenant = await newTenant();
      const [endpoint, ops, opsWildcard, everything] = await Promise.all([newReceiver(), newReceiver(), newReceiver(), newReceiver()]);
      endpoint!.replyWith({ status: 500, body: 'down' });
      const { subscription: source } = await createSubscriptionWith(
        hooklane,
        tenant.token,
        { url: endpoint!.url, eventTypes: ['order.created'], retrySchedule: ['20ms'] },
        'id url',
      );
      const opsSub = await createSubscriptionWith(
        hooklane,
        tenant.token,
        { url: ops!.url, eventTypes: ['hooklane.subscription.disabled', 'hooklane.subscription.enabled', 'hooklane.delivery.failed'] },
        'id eventTypes',
      );
      await createSubscriptionWith(hooklane, tenant.token, { url: opsWildcard!.url, eventTypes: ['hooklane.*'] }, 'id');
      const { subscription: star } = await createSubscriptionWith(hooklane, tenant.token, { url: everything!.url, eventTypes: ['*'] }, 'id');

      const bodyOf = (request: ReceivedRequest) => JSON.parse(request.rawBody) as { type: string; timestamp: string; data: Record<string, any> };

      // 1. A delivery spends its schedule: hooklane.delivery.failed.
      const first = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
      const firstDelivery = first.deliveries.find((delivery) => delivery.subscription.id === source.id)!;
      await waitForStatus(tenant.token, firstDelivery.id, 'FAILED');
      const [failedNotice] = await ops!.waitForRequests(1, 5_000);
      expect(bodyOf(failedNotice!).type).toBe('hooklane.delivery.failed');
      expect(bodyOf(failedNotice!).data).toMatchObject({
        deliveryId: firstDelivery.id,
        eventId: first.id,
        eventType: 'order.created',
        subscriptionId: source.id,
        attempts: 2,
        lastStatusCode: 500,
      });
      // Signed like any delivery, with the receiving subscription's secret; the event is queryable.
      expect(new StandardWebhook(opsSub.secret).verify(failedNotice!.rawBody, webhookHeadersOf(failedNotice!.headers))).toBeTruthy();
      const noticeEvent = await getEvent(hooklane, tenant.token, String(failedNotice!.headers['webhook-id']));
      expect(noticeEvent).toMatchObject({ eventType: 'hooklane.delivery.failed' });

      // 2. A 410: another delivery.failed, and subscription.disabled with its reason.
      endpoint!.replyWith({ status: 410 });
      const second = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 2 } });
      const secondDelivery = second.deliveries.find((delivery) => delivery.subscription.id === source.id)!;
      await waitForStatus(tenant.token, secondDelivery.id, 'FAILED');
      const afterGone = await ops!.waitForRequests(3, 5_000);
      const disabledNotice = afterGone.map(bodyOf).find((body) => body.type === 'hooklane.subscription.disabled');
      expect(disabledNotice?.data).toMatchObject({ subscriptionId: source.id, reason: 'GONE', url: source.url });
      const goneNotice = afterGone.map(bodyOf).find((body) => body.type === 'hooklane.delivery.failed' && body.data.eventId === second.id);
      expect(goneNotice?.data).toMatchObject({ deliveryId: secondDelivery.id, subscriptionId: source.id, attempts: 1, lastStatusCode: 410 });

      // 3. Enabled again by the tenant: subscription.enabled.
      await updateSubscription(hooklane, tenant.token, { id: source.id, enabled: true });
      const all = await ops!.waitForRequests(4, 5_000);
      const enabledNotice = bodyOf(all[3]!);
      expect(enabledNotice.type).toBe('hooklane.subscription.enabled');
      expect(enabledNotice.data).toMatchObject({ subscriptionId: source.id });

      // `hooklane.*` receives the same four; `*` receives only the tenant's own events.
      const wildcardTypes = (await opsWildcard!.waitForRequests(4, 5_000)).map((request) => bodyOf(request).type).sort();
      expect(wildcardTypes).toEqual(all.map((request) => bodyOf(request).type).sort());
      await tenantIdle(hooklane, tenant.id);
      expect(ops!.requests).toHaveLength(4);
      expect(opsWildcard!.requests).toHaveLength(4);
      expect(everything!.requests.map((request) => bodyOf(request).type)).toEqual(['order.created', 'order.created']);
      const [starRows] = await hooklane.sql<{ count: number }[]>`
        select count(*)::int as count from deliveries d join events e on e.id = d.event_id
        where d.subscription_id = ${star.id} and e.event_type like 'hooklane.%'`;
      expect(starRows!.count).toBe(0);
    });

    it('tenants cannot publish hooklane.* events themselves', async () => {
      const tenant = await newTenant();
      const before = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from events where tenant_id = ${tenant.id}`;
      for (const eventType of ['hooklane.delivery.failed', 'hooklane.subscription.disabled', 'hooklane.anything']) {
        const code = await gqlErrorCode(
          hooklane,
          tenant.token,
          'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
          { input: { eventType, payload: { forged: true } } },
        );
        expect(code, eventType).toBe('BAD_USER_INPUT');
      }
      const after = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from events where tenant_id = ${tenant.id}`;
      expect(after[0]!.count).toBe(before[0]!.count);
    });
  });
});
