import { BadUserInputError, NotFoundError } from '../errors.js';
import { enqueueJobs } from '../db/jobs.js';
import type { DeliveryRow, EventRow, SubscriptionRow } from '../db/schema.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { scheduleDeliveries } from '../publish/fan-out.js';
import { patternsMatching, subscriptionReceives } from '../publish/event-matching.js';

/** Sends a delivery again now; job keys keep it to one pending job per delivery. */
export async function retryDelivery(scope: TenantScope, id: string): Promise<DeliveryRow> {
  return scope.transaction(async (tx, executor) => {
    const current = await tx.deliveries.find(id);
    if (!current) throw new NotFoundError('Delivery', id);
    if (current.status === 'HELD') {
      throw new BadUserInputError('This delivery is held while its subscription is disabled: enable the subscription', 'id');
    }
    const delivery = (await tx.deliveries.makeDueNow(id))!;
    const [subscription] = await tx.subscriptions.findMany([delivery.subscriptionId]);
    await scheduleDeliveries(scope.tenantId, executor, [delivery], new Map(subscription ? [[subscription.id, subscription]] : []), {
      wakeStreams: true,
    });
    return delivery;
  });
}

/** New deliveries of an event (same `webhook-id`) to the given subscriptions, or to all it matches now. */
export async function replayEvent(
  scope: TenantScope,
  input: { id: string; subscriptionIds?: readonly string[] | null },
): Promise<{ event: EventRow; deliveries: DeliveryRow[] }> {
  return scope.transaction(async (tx, executor) => {
    const event = await tx.events.find(input.id);
    if (!event) throw new NotFoundError('Event', input.id);
    if (event.test) throw new BadUserInputError('A test event is not replayed: send another with sendTestEvent', 'id');
    let targets: SubscriptionRow[];
    if (input.subscriptionIds) {
      const wanted = [...new Set(input.subscriptionIds)];
      targets = await tx.subscriptions.findMany(wanted);
      const found = new Set(targets.map((subscription) => subscription.id));
      const missing = wanted.find((subscriptionId) => !found.has(subscriptionId));
      if (missing) throw new NotFoundError('Subscription', missing);
    } else {
      const all = await tx.subscriptions.candidates(patternsMatching(event.eventType));
      targets = all.filter((subscription) => subscription.enabled && subscriptionReceives(subscription, event));
    }
    const deliveries = await tx.deliveries.insertMany(
      targets.map((subscription) => ({
        eventId: event.id,
        subscriptionId: subscription.id,
        status: subscription.enabled ? ('PENDING' as const) : ('HELD' as const),
        orderingKey: event.orderingKey,
      })),
    );
    await scheduleDeliveries(scope.tenantId, executor, deliveries, new Map(targets.map((s) => [s.id, s])));
    return { event, deliveries };
  });
}

/** Counts the FAILED deliveries in the window and leaves re-sending them to a background job. */
export async function recoverSubscription(
  scope: TenantScope,
  input: { id: string; since: Date; until: Date | null },
): Promise<{ subscription: SubscriptionRow; deliveryCount: number }> {
  const until = input.until ?? new Date();
  if (Number.isNaN(input.since.getTime()) || Number.isNaN(until.getTime()) || input.since >= until) {
    throw new BadUserInputError('since must be before until', 'since');
  }
  return scope.transaction(async (tx, executor) => {
    const subscription = await tx.subscriptions.find(input.id);
    if (!subscription) throw new NotFoundError('Subscription', input.id);
    const deliveryCount = await tx.deliveries.countFailed(subscription.id, input.since, until);
    if (deliveryCount > 0) {
      await enqueueJobs(executor, [
        {
          task: 'recover_subscription',
          payload: { tenantId: scope.tenantId, subscriptionId: subscription.id, since: input.since.toISOString(), until: until.toISOString() },
        },
      ]);
    }
    return { subscription, deliveryCount };
  });
}

/** The recovery job (recover_subscription): reopens the window's FAILED deliveries and schedules them in publish order. */
export async function reopenFailedDeliveries(scope: TenantScope, input: { subscriptionId: string; since: Date; until: Date }): Promise<number> {
  return scope.transaction(async (tx, executor) => {
    const subscription = await tx.subscriptions.find(input.subscriptionId);
    if (!subscription) return 0;
    const reopened = await tx.deliveries.reopenFailed(subscription.id, input.since, input.until);
    await scheduleDeliveries(scope.tenantId, executor, reopened, new Map([[subscription.id, subscription]]), { wakeStreams: true });
    return reopened.length;
  });
}
