import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSubscriptionWith, gqlData, GraphQLCallError, mutate, publish } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, tenantIdle, type TestHooklane } from '../support/hooklane.js';
import { receiverPool, tenantWithEventType } from '../support/fixtures.js';
import { Hold } from '../support/receiver.js';

// expungeEventPayload end to end: the payload leaves every table that held it (the event's body,
// the response bodies of its attempts), the event keeps its metadata, its unsent deliveries fail,
// and nothing of it is sent again: not by a retry already scheduled, an attempt in flight, a
// manual retry, a replay or a recovery.

interface Attempt {
  statusCode: number | null;
  outcome: string;
  responseBody: string | null;
}
interface Delivery {
  id: string;
  status: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  subscriptionId: string;
  attempts: Attempt[];
}
interface Event {
  id: string;
  eventType: string;
  payload: unknown;
  payloadExpunged: boolean;
  createdAt: string;
  deliveries: Delivery[];
}

const EVENT = `id eventType payload payloadExpunged createdAt
  deliveries { id status attemptCount nextAttemptAt subscriptionId attempts { statusCode outcome responseBody } }`;

describe('expungeEventPayload', () => {
  let hooklane: TestHooklane;
  const receivers = receiverPool();

  beforeAll(async () => {
    hooklane = await startTestHooklane();
  });

  afterAll(async () => {
    await receivers.closeAll();
    await hooklane?.stop();
  });

  const getEvent = async (token: string, id: string) =>
    (await gqlData<{ event: Event | null }>(hooklane, token, `query($id: ID!) { event(id: $id) { ${EVENT} } }`, { id })).event;

  const expunge = (token: string, id: string) => mutate<{ event: Event }>(hooklane, token, 'expungeEventPayload', { id }, `event { ${EVENT} }`);

  const refusal = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      if (error instanceof GraphQLCallError) return error.response.errors![0]!;
      throw error;
    }
    throw new Error('expected the call to be refused');
  };

  /** Rows anywhere in the tenant's data (events, attempts, jobs) whose text holds `marker`. */
  const copiesOf = async (marker: string) => {
    const pattern = `%${marker}%`;
    const [row] = await hooklane.sql<{ events: number; attempts: number; jobs: number; audit: number }[]>`
      select (select count(*)::int from events where body like ${pattern}) as events,
        (select count(*)::int from delivery_attempts where response_body like ${pattern} or error like ${pattern}) as attempts,
        (select count(*)::int from graphile_worker._private_jobs where payload::text like ${pattern}) as jobs,
        (select count(*)::int from audit_log where details::text like ${pattern}) as audit`;
    return row!;
  };

  it('erases the payload from every table, keeps the metadata, fails unsent deliveries and sends nothing more', async () => {
    const tenant = await tenantWithEventType(hooklane);
    const marker = `erase-me-${Date.now()}`;
    const failing = await receivers.start();
    // The receiver echoes what it got: its answer is a copy of the payload too.
    failing.replyWith((request) => ({ status: 500, body: `rejected ${request.rawBody}` }));
    const held = await receivers.start();
    const retrying = (
      await createSubscriptionWith(hooklane, tenant.token, { url: failing.url, eventTypes: ['order.created'], retrySchedule: ['3s'] }, 'id')
    ).subscription.id;
    const disabled = (
      await createSubscriptionWith(hooklane, tenant.token, { url: held.url, eventTypes: ['order.created'] }, 'id')
    ).subscription.id;
    await mutate(hooklane, tenant.token, 'updateSubscription', { id: disabled, enabled: false }, 'subscription { id }');

    const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { customer: marker } });
    // The first attempt has failed and the retry is scheduled, its job queued.
    await eventually(async () => {
      const current = await getEvent(tenant.token, event.id);
      const delivery = current?.deliveries.find((d) => d.subscriptionId === retrying);
      return delivery?.attemptCount === 1 && delivery.nextAttemptAt ? delivery : undefined;
    }, 10_000, 'the first attempt to fail');
    expect(await copiesOf(marker)).toMatchObject({ events: 1, attempts: 1 });

    const { event: expunged } = await expunge(tenant.token, event.id);
    expect(expunged).toMatchObject({ id: event.id, eventType: 'order.created', payload: null, payloadExpunged: true, createdAt: event.createdAt });
    const byId = new Map(expunged.deliveries.map((delivery) => [delivery.subscriptionId, delivery]));
    expect(byId.get(retrying)).toMatchObject({
      status: 'FAILED',
      attemptCount: 1,
      nextAttemptAt: null,
      attempts: [{ statusCode: 500, outcome: 'HTTP_ERROR', responseBody: null }],
    });
    expect(byId.get(disabled)).toMatchObject({ status: 'FAILED', attemptCount: 0, attempts: [] });

    // Straight from the tables: no copy is left, the row and its metadata are.
    expect(await copiesOf(marker)).toEqual({ events: 0, attempts: 0, jobs: 0, audit: 0 });
    const [row] = await hooklane.sql<{ body: string | null; payload_expunged_at: Date | null; event_type: string }[]>`
      select body, payload_expunged_at, event_type from events where tenant_id = ${tenant.id} and id = ${event.id}`;
    expect(row).toMatchObject({ body: null, event_type: 'order.created' });
    expect(row!.payload_expunged_at).toBeInstanceOf(Date);

    // The receiver recovers, the retry's job runs when due: nothing arrives. Enabling the other
    // subscription releases nothing either.
    failing.replyWith({ status: 200 });
    await mutate(hooklane, tenant.token, 'updateSubscription', { id: disabled, enabled: true }, 'subscription { id }');
    await tenantIdle(hooklane, tenant.id, 15_000);
    expect(failing.requests).toHaveLength(1);
    expect(held.requests).toHaveLength(0);
    expect((await getEvent(tenant.token, event.id))!.deliveries.map((d) => d.status)).toEqual(['FAILED', 'FAILED']);
  });

  it('fails, without sending it, a retry scheduled by an attempt that was in flight during the erasure', async () => {
    const tenant = await tenantWithEventType(hooklane);
    const receiver = await receivers.start();
    const hold = new Hold();
    receiver.replyWith({ status: 500, heldUntil: hold.released }, { status: 200 });
    await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'], retrySchedule: ['100ms'] }, 'id');
    const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { customer: 'in flight' } });
    await receiver.waitForRequests(1);

    await expunge(tenant.token, event.id);
    // The attempt ends after the erasure: its 500 schedules a retry, whose job finds no body.
    hold.release();
    await tenantIdle(hooklane, tenant.id, 15_000);
    expect(receiver.requests).toHaveLength(1);
    const [delivery] = (await getEvent(tenant.token, event.id))!.deliveries;
    expect(delivery).toMatchObject({ status: 'FAILED', attemptCount: 1, nextAttemptAt: null });
  });

  it('refuses retries and replays, skips it in recoveries, is idempotent, audited and scoped to its tenant', async () => {
    const tenant = await tenantWithEventType(hooklane);
    const receiver = await receivers.start();
    receiver.replyWith({ status: 500 });
    const since = new Date(Date.now() - 1_000).toISOString();
    const subscriptionId = (
      await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'], retrySchedule: [] }, 'id')
    ).subscription.id;
    const kept = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
    const erased = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 2 } });
    await tenantIdle(hooklane, tenant.id);
    const deliveryId = (await getEvent(tenant.token, erased.id))!.deliveries[0]!.id;
    const first = await expunge(tenant.token, erased.id);

    const again = await expunge(tenant.token, erased.id);
    expect(again.event).toEqual(first.event);

    const retry = await refusal(mutate(hooklane, tenant.token, 'retryDelivery', { id: deliveryId }, 'delivery { id }'));
    expect(retry.extensions).toMatchObject({ code: 'BAD_USER_INPUT', details: { reason: 'PAYLOAD_EXPUNGED' } });
    expect(retry.message).toMatch(/expunged/);
    const replay = await refusal(mutate(hooklane, tenant.token, 'replayEvent', { id: erased.id }, 'event { id }'));
    expect(replay.extensions).toMatchObject({ code: 'BAD_USER_INPUT', details: { reason: 'PAYLOAD_EXPUNGED' } });
    const replayTo = await refusal(mutate(hooklane, tenant.token, 'replayEvent', { id: erased.id, subscriptionIds: [subscriptionId] }, 'event { id }'));
    expect(replayTo.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });

    const recovery = await mutate<{ deliveryCount: number; skippedExpungedCount: number }>(
      hooklane,
      tenant.token,
      'recoverSubscription',
      { id: subscriptionId, since },
      'deliveryCount skippedExpungedCount',
    );
    expect(recovery).toEqual({ deliveryCount: 1, skippedExpungedCount: 1 });
    await tenantIdle(hooklane, tenant.id);
    // The kept event's delivery was sent again, the erased one's was not.
    const sentEvents = receiver.requests.map((request) => request.headers['webhook-id']);
    expect(sentEvents.filter((id) => id === kept.id)).toHaveLength(2);
    expect(sentEvents.filter((id) => id === erased.id)).toHaveLength(1);

    // Another tenant's event does not exist for this one.
    const other = await tenantWithEventType(hooklane);
    expect((await refusal(expunge(other.token, erased.id))).extensions?.code).toBe('NOT_FOUND');
    expect((await getEvent(tenant.token, kept.id))!.payload).toEqual({ n: 1 });

    // Hostile ids are bad input, not internal errors.
    const nul = await refusal(expunge(tenant.token, 'evt_\u0000'));
    expect(nul.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NUL_CHARACTER' });

    // A token that may only read events may not erase them.
    const reader = await hooklane.tenantToken(tenant.id, { scope: 'events:read' });
    expect((await refusal(expunge(reader, kept.id))).extensions?.code).toBe('FORBIDDEN');

    const audit = await gqlData<{ auditLog: { edges: { node: { action: string; targetId: string; details: unknown } }[] } }>(
      hooklane,
      tenant.token,
      'query { auditLog(first: 20) { edges { node { action targetId details } } } }',
    );
    const entries = audit.auditLog.edges.map((edge) => edge.node).filter((node) => node.action === 'expungeEventPayload');
    expect(entries).toEqual([
      { action: 'expungeEventPayload', targetId: erased.id, details: { id: erased.id } },
      { action: 'expungeEventPayload', targetId: erased.id, details: { id: erased.id } },
    ]);
  });

  it('moves an ordered stream that waited on a retry of the erased event on to its next event', async () => {
    const tenant = await tenantWithEventType(hooklane);
    const receiver = await receivers.start();
    receiver.replyWith({ status: 500 }, { status: 200 });
    await createSubscriptionWith(
      hooklane,
      tenant.token,
      { url: receiver.url, eventTypes: ['order.created'], ordered: true, retrySchedule: ['1h'] },
      'id',
    );
    const first = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
    await receiver.waitForRequests(1);
    const second = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 2 } });
    await eventually(async () => ((await getEvent(tenant.token, first.id))!.deliveries[0]!.nextAttemptAt ? true : undefined));

    await expunge(tenant.token, first.id);
    const [, next] = await receiver.waitForRequests(2);
    expect(next!.headers['webhook-id']).toBe(second.id);
    await tenantIdle(hooklane, tenant.id);
    expect(receiver.requests).toHaveLength(2);
  });

  it('keeps its idempotency key taken: publishing with it again returns the erased event and sends nothing', async () => {
    const tenant = await tenantWithEventType(hooklane);
    const receiver = await receivers.start();
    await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] }, 'id');
    const input = { eventType: 'order.created', payload: { customer: 'keyed' }, idempotencyKey: 'order-1' };
    const event = await publish(hooklane, tenant.token, input);
    await tenantIdle(hooklane, tenant.id);
    await expunge(tenant.token, event.id);
    const again = await publish(hooklane, tenant.token, input);
    expect(again).toMatchObject({ id: event.id, payload: null });
    await tenantIdle(hooklane, tenant.id);
    expect(receiver.requests).toHaveLength(1);
  });

  it('leaves expunged events out of filter previews', async () => {
    const tenant = await tenantWithEventType(hooklane);
    const events = [];
    for (const n of [1, 2, 3]) events.push(await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n } }));
    await expunge(tenant.token, events[1]!.id);
    const preview = await mutate<{ examined: number; matched: number }>(
      hooklane,
      tenant.token,
      'previewSubscriptionFilter',
      { filter: { 'data.n': { $gte: 1 } }, eventTypes: ['order.created'] },
      'examined matched',
    );
    expect(preview).toEqual({ examined: 2, matched: 2 });
  });
});
