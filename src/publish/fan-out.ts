import type { Executor } from '../db/client.js';
import { enqueueJobs, type JobSpec } from '../db/jobs.js';
import { BACKLOG_COUNT_CAP, deliverJob, drainJob, fairPriority, streamJob, type FirstAttempt } from './job-policy.js';
import { StreamJobs, type EventWrite, type FanOutSubscription, type NewEvent, type PlannedDelivery } from '../db/scoped/events.js';
import { ConflictError } from '../errors.js';
import { newId } from '../ids.js';
import type { FirstAttemptHandoff } from './first-attempt-handoff.js';
import type { PublishTrace } from '../observability/trace-context.js';
import type { Publisher } from './publisher.js';
import type { DeliveryRow, EventRow, SubscriptionRow } from '../db/schema.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { patternsMatching, subscriptionReceives } from './event-matching.js';
import { filterDocument, storedFilterPredicate, type FilterDocument, type FilterPredicate } from './payload-filter.js';

export interface WrittenEvent {
  event: EventRow;
  /** False when the idempotency key returned an earlier event. */
  created: boolean;
}

/** A subscription fan-out may match, with its payload filter compiled (null: it has none). */
export type FanOutCandidate = FanOutSubscription & { accepts: FilterPredicate | null };

/** Compiles each candidate's filter: once per read of the candidates, not per event. */
export function fanOutCandidates(subscriptions: readonly FanOutSubscription[]): FanOutCandidate[] {
  return subscriptions.map((subscription) => ({ ...subscription, accepts: storedFilterPredicate(subscription.filter) }));
}

/** What fan-out reads before writing: the subscriptions that may receive the events, and the tenant's backlog. */
export interface FanOutContext {
  candidates: readonly FanOutCandidate[];
  /** The tenant's PENDING deliveries, about (see BacklogEstimates): sets fair job priorities. */
  backlog: number;
}

/** The subscription patterns that may match events of these types (see patternsMatching). */
export function fanOutPatterns(eventTypes: readonly string[]): string[] {
  return [...new Set(eventTypes.flatMap((eventType) => patternsMatching(eventType)))];
}

/** The tenant's backlog for fair priorities, about (see BacklogEstimates). */
export function estimatedBacklog(publisher: Publisher, scope: TenantScope): Promise<number> {
  return publisher.backlogEstimates.current(scope.tenantId, () => scope.deliveries.countPending(BACKLOG_COUNT_CAP));
}

/** Reads the fan-out context of events of these types; inside a transaction, both reads go out together. */
async function readFanOutContext(publisher: Publisher, scope: TenantScope, eventTypes: readonly string[]): Promise<FanOutContext> {
  const [candidates, backlog] = await Promise.all([scope.subscriptions.candidates(fanOutPatterns(eventTypes)), estimatedBacklog(publisher, scope)]);
  return { candidates: fanOutCandidates(candidates), backlog };
}

/**
 * Writes events with their deliveries and jobs in one statement: they commit together or not at
 * all (inside the caller's transaction when `scope` is bound to one; otherwise perhaps together
 * with other publishes of the tenant, see EventWriteBatcher). Deliveries to a disabled
 * subscription are HELD, not dropped. Events reuse an earlier event when their idempotency key
 * was used before (or earlier in the same batch). `quota`, when given, is taken in the same
 * statement; a refusal throws QuotaRefusedError and writes nothing. `contextVersion`, when
 * `context` is a reused read, is checked by the write: StaleContextError if it has moved. First
 * attempts go to `handoff` (this process's worker) when it has room. The events keep the trace
 * of `trace` (see src/observability/trace-context.ts): with tracing on, that of the write's span.
 */
export async function writeEvents(
  publisher: Publisher,
  scope: TenantScope,
  events: readonly NewEvent[],
  options: {
    context?: FanOutContext;
    quota?: EventWrite['quota'];
    contextVersion?: number | null;
    handoff?: FirstAttemptHandoff;
    /** Publishing again events whose key's event aged out meanwhile: a key lost again is a conflict. */
    republishing?: boolean;
    trace?: PublishTrace;
  } = {},
): Promise<WrittenEvent[]> {
  const firstByKey = new Map<string, NewEvent>();
  const toInsert: NewEvent[] = [];
  for (const event of events) {
    if (event.idempotencyKey === null) toInsert.push(event);
    else if (!firstByKey.has(event.idempotencyKey)) {
      firstByKey.set(event.idempotencyKey, event);
      toInsert.push(event);
    }
  }
  const context = options.context ?? (await readFanOutContext(publisher, scope, [...new Set(toInsert.map((event) => event.eventType))]));
  const plan = planFanOut(scope.tenantId, toInsert, context);
  const { tracing } = publisher;
  const span = tracing?.startEventWrite(options.trace?.traceOperation, scope.tenantId, toInsert.length);
  const traceContext = span ? tracing!.traceparentOf(span) : (options.trace?.traceparent ?? null);
  let insertedIds: Set<string>;
  try {
    insertedIds = await publisher.eventWrites.write(scope, {
      // Without a trace (tracing off, no traceparent sent) the events go as they are.
      events: traceContext === null ? toInsert : toInsert.map((event) => ({ ...event, traceContext })),
      ...plan,
      preserveStreamRunAt: true,
      quota: options.quota ?? null,
      contextVersion: options.contextVersion ?? null,
    }, options.handoff);
  } catch (error) {
    if (span) tracing!.endFailed(span, error);
    throw error;
  }
  span?.end();
  publisher.backlogEstimates.added(scope.tenantId, plan.firstAttempts.length);
  const row = (event: NewEvent): EventRow => ({
    id: event.id,
    tenantId: scope.tenantId,
    eventType: event.eventType,
    body: event.body,
    payloadExpungedAt: null,
    idempotencyKey: event.idempotencyKey,
    orderingKey: event.orderingKey,
    channels: event.channels,
    eventTypeVersion: event.eventTypeVersion,
    test: event.test === true,
    traceContext,
    createdAt: event.createdAt,
  });
  const byKey = new Map<string, WrittenEvent>();
  for (const event of toInsert) if (event.idempotencyKey !== null && insertedIds.has(event.id)) byKey.set(event.idempotencyKey, { event: row(event), created: true });
  const lostKeys = toInsert.filter((event) => event.idempotencyKey !== null && !insertedIds.has(event.id)).map((event) => event.idempotencyKey!);
  for (const event of await scope.events.findByIdempotencyKeys(lostKeys)) byKey.set(event.idempotencyKey!, { event, created: false });
  // The event that held a key can age out (the retention sweep) between the write and this read:
  // the key is free again, and the event is published anew (its quota is taken already).
  const agedOut = toInsert.filter((event) => event.idempotencyKey !== null && !byKey.has(event.idempotencyKey));
  if (agedOut.length > 0) {
    if (options.republishing) throw new ConflictError('An idempotency key of this publish belongs to an event that is being deleted: publish again');
    for (const written of await writeEvents(publisher, scope, agedOut, { handoff: options.handoff, republishing: true, trace: options.trace })) {
      byKey.set(written.event.idempotencyKey!, written);
    }
  }

  return events.map((event) => {
    if (insertedIds.has(event.id)) return { event: row(event), created: true };
    const first = byKey.get(event.idempotencyKey!)!;
    // A later event of the batch with the key of an earlier one is that event, not created.
    return firstByKey.get(event.idempotencyKey!) === event ? first : { event: first.event, created: false };
  });
}

/** What a payload filter looks at: the event's body as an object (from the published payload when at hand). */
function eventDocument(event: NewEvent): FilterDocument {
  return event.payload === undefined ? (JSON.parse(event.body) as FilterDocument) : filterDocument(event.eventType, event.createdAt, event.payload);
}

/**
 * One delivery per event and receiving subscription (its event type patterns, channels and payload
 * filter match), and how those that can go now are sent: a first attempt each for unordered
 * subscriptions (priority rising with the tenant's backlog, so that a tenant's flood does not
 * starve the others; written as `deliver_batch` jobs), one `deliver_stream` job per ordered stream.
 */
function planFanOut(
  tenantId: string,
  events: readonly NewEvent[],
  context: FanOutContext,
): Pick<EventWrite, 'deliveries' | 'firstAttempts' | 'streamJobs'> {
  const deliveries: PlannedDelivery[] = [];
  const firstAttempts: FirstAttempt[] = [];
  const streams = new StreamJobs();
  let pending = context.backlog;
  for (const event of events) {
    // Built only when a candidate with a filter gets this far: unfiltered subscriptions cost nothing.
    let document: FilterDocument | undefined;
    for (const subscription of context.candidates) {
      if (!subscriptionReceives(subscription, event)) continue;
      if (subscription.accepts !== null && !subscription.accepts((document ??= eventDocument(event)))) continue;
      const delivery: PlannedDelivery = {
        id: newId('delivery'),
        eventId: event.id,
        subscriptionId: subscription.id,
        status: subscription.enabled ? 'PENDING' : 'HELD',
        orderingKey: event.orderingKey,
      };
      deliveries.push(delivery);
      if (delivery.status !== 'PENDING') continue;
      if (subscription.ordered) {
        streams.add(streamJob(tenantId, subscription.id, event.orderingKey), [event.id]);
      } else {
        firstAttempts.push({ deliveryId: delivery.id, eventId: event.id, priority: fairPriority(pending++) });
      }
    }
  }
  return { deliveries, firstAttempts, streamJobs: streams.list() };
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
