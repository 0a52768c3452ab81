import type { Executor } from '../db/client.js';
import { BACKLOG_COUNT_CAP, deliverJob, drainJob, enqueueJobs, fairPriority, streamJob, type JobSpec } from '../db/jobs.js';
import type { NewDelivery } from '../db/scoped/deliveries.js';
import type { NewEvent } from '../db/scoped/events.js';
import type { DeliveryRow, EventRow, SubscriptionRow } from '../db/schema.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { patternsMatching, subscriptionReceives } from './event-matching.js';

export interface WrittenEvent {
  event: EventRow;
  /** False when the idempotency key returned an earlier event. */
  created: boolean;
}

/**
 * Writes events with their deliveries and jobs. Must run inside the caller's transaction (`scope`
 * and `executor` bound to it): the event, its deliveries and their jobs commit together or not at
 * all. Deliveries to a disabled subscription are HELD, not dropped. Events reuse an earlier event
 * when their idempotency key was used before (or earlier in the same batch).
 */
export async function writeEvents(scope: TenantScope, executor: Executor, events: readonly NewEvent[]): Promise<WrittenEvent[]> {
  const firstByKey = new Map<string, NewEvent>();
  const toInsert: NewEvent[] = [];
  for (const event of events) {
    if (event.idempotencyKey === null) toInsert.push(event);
    else if (!firstByKey.has(event.idempotencyKey)) {
      firstByKey.set(event.idempotencyKey, event);
      toInsert.push(event);
    }
  }
  const inserted = await scope.events.insertMany(toInsert);
  const insertedIds = new Set(inserted.map((event) => event.id));
  const lostKeys = toInsert.filter((event) => event.idempotencyKey !== null && !insertedIds.has(event.id)).map((event) => event.idempotencyKey!);
  const earlier = await scope.events.findByIdempotencyKeys(lostKeys);
  const byKey = new Map<string, EventRow>();
  for (const event of [...inserted, ...earlier]) if (event.idempotencyKey !== null) byKey.set(event.idempotencyKey, event);
  const byId = new Map(inserted.map((event) => [event.id, event]));

  await createDeliveries(scope, executor, inserted);

  return events.map((event) => {
    const own = byId.get(event.id);
    if (own) return { event: own, created: true };
    return { event: byKey.get(event.idempotencyKey!)!, created: false };
  });
}

/** One delivery per event and receiving subscription, and the jobs of those that can go now. */
async function createDeliveries(scope: TenantScope, executor: Executor, events: readonly EventRow[]): Promise<void> {
  if (events.length === 0) return;
  const patterns = new Set(events.flatMap((event) => patternsMatching(event.eventType)));
  const candidates = await scope.subscriptions.candidates([...patterns]);
  if (candidates.length === 0) return;
  const planned: NewDelivery[] = [];
  for (const event of events) {
    for (const subscription of candidates) {
      if (!subscriptionReceives(subscription, event)) continue;
      planned.push({
        eventId: event.id,
        subscriptionId: subscription.id,
        status: subscription.enabled ? 'PENDING' : 'HELD',
        orderingKey: event.orderingKey,
      });
    }
  }
  if (planned.length === 0) return;
  const backlog = await scope.deliveries.countPending(BACKLOG_COUNT_CAP);
  const created = await scope.deliveries.insertMany(planned);
  await scheduleDeliveries(scope.tenantId, executor, created, new Map(candidates.map((s) => [s.id, s])), { backlog });
}

/**
 * Enqueues the jobs that send PENDING deliveries: one `deliver` job each for unordered
 * subscriptions, one `deliver_stream` job per ordered stream. `drainInOrder` sends an unordered
 * subscription's backlog through one drain job, so that it goes out in publish order; `wakeStreams` runs
 * ordered streams now even if they were waiting for a retry. `backlog` (the tenant's pending
 * deliveries before these) sets fair priorities, so a tenant's flood does not starve the others.
 */
export async function scheduleDeliveries(
  tenantId: string,
  executor: Executor,
  rows: readonly DeliveryRow[],
  subscriptionsById: ReadonlyMap<string, Pick<SubscriptionRow, 'ordered'>>,
  options: { drainInOrder?: boolean; wakeStreams?: boolean; backlog?: number } = {},
): Promise<void> {
  const deliverJobs: JobSpec[] = [];
  const streams = new Map<string, JobSpec>();
  for (const row of rows) {
    if (row.status !== 'PENDING') continue;
    if (subscriptionsById.get(row.subscriptionId)?.ordered) {
      const job = streamJob(tenantId, row.subscriptionId, row.orderingKey);
      streams.set(job.jobKey!, job);
    } else if (options.drainInOrder) {
      const job = drainJob(tenantId, row.subscriptionId);
      streams.set(job.jobKey!, job);
    } else {
      const priority = options.backlog === undefined ? undefined : fairPriority(options.backlog + deliverJobs.length);
      deliverJobs.push(deliverJob(tenantId, row.id, { priority }));
    }
  }
  await enqueueJobs(executor, deliverJobs);
  // A stream already waiting for a retry keeps its run time (a new delivery queues behind it),
  // unless the caller asks to send now (manual retry, recovery, enabling).
  await enqueueJobs(executor, [...streams.values()], { preserveRunAt: !options.wakeStreams });
}
