import { randomUUID } from 'node:crypto';
import { BadUserInputError, NotFoundError } from '../errors.js';
import { enqueueJobs, type JobCatalogue, type JobSpec } from '../db/jobs.js';
import type { DeliveryRow, DeliveryStatus, EventRow, SubscriptionRow } from '../db/schema.js';
import type { DeliverySearch } from '../db/scoped/search.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { scheduleDeliveries } from '../publish/fan-out.js';
import { streamJob } from '../publish/job-policy.js';
import { patternsMatching, subscriptionReceives } from '../publish/event-matching.js';
import { storedFilterPredicate, type FilterDocument } from '../publish/payload-filter.js';
import { loadDeliverySearch, storeDeliverySearch } from './search-filters.js';
import { assertResendTokenLeft, takePublishTokens, takeResendTokens, type ResendBudget } from '../tenancy/quotas.js';

// Every delivery re-sent here (retried, replayed, recovered) takes one token of the tenant's
// publish rate (takeResendTokens), and goes through the same claims as a published one, so it
// counts toward the tenant's deliveriesInFlight quota when it is attempted.

/** The reason a re-send of an expunged event is refused with (BAD_USER_INPUT `details.reason`). */
export const PAYLOAD_EXPUNGED = 'PAYLOAD_EXPUNGED';

/**
 * Refuses to send again an event whose payload is expunged: nothing of it is left to send. The
 * check of every single re-send (retryDelivery, replayEvent); paths that select many deliveries
 * in SQL (recoverSubscription, bulk retries) leave such events out with eventPayloadKept
 * (src/db/scoped/deliveries.ts).
 */
export function assertPayloadKept(event: Pick<EventRow, 'id' | 'payloadExpungedAt'>, field = 'id'): void {
  if (event.payloadExpungedAt !== null) {
    throw new BadUserInputError(`The payload of event ${event.id} was expunged: it is not sent again`, field, { reason: PAYLOAD_EXPUNGED });
  }
}

/** Sends a delivery again now; job keys keep it to one pending job per delivery. */
export async function retryDelivery(scope: TenantScope, id: string, budget: ResendBudget): Promise<DeliveryRow> {
  return scope.transaction(async (tx, executor) => {
    const current = await tx.deliveries.find(id);
    if (!current) throw new NotFoundError('Delivery', id);
    const event = await tx.events.find(current.eventId);
    if (event) assertPayloadKept(event);
    if (current.status === 'HELD') {
      throw new BadUserInputError('This delivery is held while its subscription is disabled: enable the subscription', 'id');
    }
    const delivery = (await tx.deliveries.makeDueNow(id))!;
    const [subscription] = await tx.subscriptions.findMany([delivery.subscriptionId]);
    await scheduleDeliveries(scope.tenantId, executor, [delivery], new Map(subscription ? [[subscription.id, subscription]] : []), {
      wakeStreams: true,
    });
    await takeResendTokens(tx, 1, budget);
    return delivery;
  });
}

/**
 * New deliveries of an event (same `webhook-id`) to the given subscriptions, or to all it matches
 * now: event type patterns, channels and payload filter, as at publish. Listed subscriptions get it
 * whatever their filter says.
 */
export async function replayEvent(
  scope: TenantScope,
  input: { id: string; subscriptionIds?: readonly string[] | null },
  budget: ResendBudget,
): Promise<{ event: EventRow; deliveries: DeliveryRow[] }> {
  return scope.transaction(async (tx, executor) => {
    const event = await tx.events.find(input.id);
    if (!event) throw new NotFoundError('Event', input.id);
    if (event.test) throw new BadUserInputError('A test event is not replayed: send another with sendTestEvent', 'id');
    assertPayloadKept(event);
    let targets: SubscriptionRow[];
    if (input.subscriptionIds) {
      const wanted = [...new Set(input.subscriptionIds)];
      targets = await tx.subscriptions.findMany(wanted);
      const found = new Set(targets.map((subscription) => subscription.id));
      const missing = wanted.find((subscriptionId) => !found.has(subscriptionId));
      if (missing) throw new NotFoundError('Subscription', missing);
    } else {
      const all = await tx.subscriptions.candidates(patternsMatching(event.eventType));
      let document: FilterDocument | undefined;
      targets = all.filter((subscription) => {
        if (!subscription.enabled || !subscriptionReceives(subscription, event)) return false;
        const accepts = storedFilterPredicate(subscription.filter);
        return accepts === null || accepts((document ??= JSON.parse(event.body!) as FilterDocument));
      });
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
    await takeResendTokens(tx, deliveries.length, budget);
    return { event, deliveries };
  });
}

/** How many deliveries one run of a recovery job re-sends at most. */
export const RECOVERY_BATCH = 500;

type RecoveryJob = JobCatalogue['recover_subscription'];

function recoveryJob(payload: RecoveryJob, runAt?: Date): JobSpec {
  // Keyed: a run that is repeated (its worker died after committing) replaces its successor
  // instead of starting a second chain.
  const jobKey = `recover:${payload.subscriptionId}:${payload.since}:${payload.until}`;
  return { task: 'recover_subscription', payload, jobKey, ...(runAt ? { runAt } : {}) };
}

/**
 * Counts the FAILED deliveries in the window (skipping those of events whose payload is expunged,
 * which are counted apart) and leaves re-sending them to a background job that
 * paces itself at the tenant's publish rate (recoverFailedDeliveries). Refused (QUOTA_EXCEEDED,
 * nothing started) when the tenant's publish-rate bucket is empty: the job could send nothing yet.
 * A window larger than the burst is not refused: the job spreads it over time.
 */
export async function recoverSubscription(
  scope: TenantScope,
  input: { id: string; since: Date; until: Date | null },
  budget: ResendBudget,
): Promise<{ subscription: SubscriptionRow; deliveryCount: number; skippedExpungedCount: number }> {
  const until = input.until ?? new Date();
  if (Number.isNaN(input.since.getTime()) || Number.isNaN(until.getTime()) || input.since >= until) {
    throw new BadUserInputError('since must be before until', 'since');
  }
  return scope.transaction(async (tx, executor) => {
    const subscription = await tx.subscriptions.find(input.id);
    if (!subscription) throw new NotFoundError('Subscription', input.id);
    const { resendable: deliveryCount, expunged: skippedExpungedCount } = await tx.deliveries.countFailed(subscription.id, input.since, until);
    if (deliveryCount > 0) {
      await enqueueJobs(executor, [
        recoveryJob({ tenantId: scope.tenantId, subscriptionId: subscription.id, since: input.since.toISOString(), until: until.toISOString() }),
      ]);
      await assertResendTokenLeft(tx, budget);
    }
    return { subscription, deliveryCount, skippedExpungedCount };
  });
}

/**
 * One run of the recovery job (recover_subscription): reopens the next FAILED deliveries of the
 * window after the job's cursor, in publish order, as many as the tenant's publish-rate bucket
 * holds tokens for (at most RECOVERY_BATCH), and schedules them. The next run, when some are
 * left, starts after the last one reopened (so a delivery that fails again is not recovered
 * twice), and is due when the tokens for its batch are back: a recovery never sends faster than
 * the tenant's publish rate, whatever its size. Returns how many deliveries it reopened.
 */
export async function recoverFailedDeliveries(scope: TenantScope, job: RecoveryJob, budget: ResendBudget): Promise<number> {
  const since = new Date(job.since);
  const until = new Date(job.until);
  return scope.transaction(async (tx, executor) => {
    const subscription = await tx.subscriptions.find(job.subscriptionId);
    if (!subscription) return 0;
    const batch = await tx.deliveries.lockFailedBatch(subscription.id, since, until, job.after ?? null, RECOVERY_BATCH);
    if (batch.length === 0) return 0;
    const { taken, bucket } = await takeTokensForBatch(tx, batch.length, budget);
    const reopened = await tx.deliveries.reopen(batch.slice(0, taken), 'FAILED');
    await scheduleDeliveries(scope.tenantId, executor, reopened, new Map([[subscription.id, subscription]]), { wakeStreams: true });
    // A full batch may have more behind it; a short one has exactly what was not taken.
    const left = batch.length === RECOVERY_BATCH ? RECOVERY_BATCH : batch.length - taken;
    if (left > 0) {
      // The next run is due when the bucket (its tokens after this run) holds its batch again.
      const need = Math.max(1, Math.min(left, Math.floor(bucket.burst)));
      const waitMs = Math.max(0, Math.ceil(((need - bucket.tokens) / bucket.rate) * 1000));
      const after = taken > 0 ? batch[taken - 1]! : job.after;
      await enqueueJobs(executor, [recoveryJob({ ...job, after }, new Date(Date.now() + waitMs))]);
    }
    return reopened.length;
  });
}

/**
 * Erases an event's payload (an erasure request about the end customer it concerns): the event's
 * body becomes null and its metadata stays; its deliveries still to be sent fail, since nothing is
 * left to send, and the response bodies of its attempts are erased. Ordered streams waiting on one
 * of them are woken. Idempotent: erasing again returns the event as it is. Never sent again after:
 * retries and replays are refused (assertPayloadKept), recoveries skip it, and a job already queued
 * for one of its deliveries finds no body and fails it (src/delivery/dispatch.ts).
 */
export async function expungeEventPayload(scope: TenantScope, id: string): Promise<EventRow> {
  return scope.transaction(async (tx, executor) => {
    const event = await tx.events.expungePayload(id);
    if (!event) throw new NotFoundError('Event', id);
    const failed = await tx.deliveries.settleExpungedEvent(event.id);
    const subscriptionIds = [...new Set(failed.map((delivery) => delivery.subscriptionId))];
    const ordered = new Set((await tx.subscriptions.findMany(subscriptionIds)).filter((s) => s.ordered).map((s) => s.id));
    const streams = new Map<string, JobSpec>();
    for (const delivery of failed) {
      if (!ordered.has(delivery.subscriptionId)) continue;
      const spec = streamJob(scope.tenantId, delivery.subscriptionId, delivery.orderingKey);
      streams.set(spec.jobKey!, spec);
    }
    await enqueueJobs(executor, [...streams.values()]);
    return event;
  });
}

/** How many deliveries one retryDeliveries call re-sends at most: the newest that match. */
export const MAX_BULK_RETRY = 10_000;
/** How many deliveries one run of a bulk retry job re-sends at most. */
export const BULK_RETRY_BATCH = 500;
/** The statuses a bulk retry may re-send: a FAILED delivery, or a SUCCEEDED one sent again on purpose. */
const RETRYABLE: readonly DeliveryStatus[] = ['FAILED', 'SUCCEEDED'];

type BulkRetryJob = JobCatalogue['retry_deliveries'];

function bulkRetryJob(payload: BulkRetryJob, runAt?: Date): JobSpec {
  // Keyed per call: a run that is repeated (its worker died after committing) replaces its
  // successor instead of starting a second chain.
  return { task: 'retry_deliveries', payload, jobKey: `retry-deliveries:${payload.retryId}`, ...(runAt ? { runAt } : {}) };
}

/**
 * retryDeliveries: counts the newest MAX_BULK_RETRY deliveries that match the filter (FAILED ones
 * when it names no status) and, unless `dryRun`, leaves re-sending exactly those to a background
 * job paced at the tenant's publish rate (retryMatchingDeliveries). A dry run writes nothing. Refused
 * (QUOTA_EXCEEDED, nothing started) when the tenant's publish-rate bucket is empty, as
 * recoverSubscription is.
 */
export async function retryDeliveries(
  scope: TenantScope,
  input: { filter: DeliverySearch; dryRun: boolean },
  budget: ResendBudget,
): Promise<{ count: number }> {
  const search: DeliverySearch = { ...input.filter, status: input.filter.status ?? 'FAILED' };
  if (!RETRYABLE.includes(search.status!)) {
    throw new BadUserInputError('A bulk retry re-sends FAILED or SUCCEEDED deliveries', 'filter.status');
  }
  if (input.dryRun) return { count: (await scope.deliveries.matchingRange(search, MAX_BULK_RETRY)).count };
  return scope.transaction(async (tx, executor) => {
    const { count, firstId, lastId } = await tx.deliveries.matchingRange(search, MAX_BULK_RETRY);
    if (count > 0 && firstId !== null && lastId !== null) {
      await enqueueJobs(executor, [
        bulkRetryJob({ tenantId: scope.tenantId, retryId: randomUUID(), filter: storeDeliverySearch(search), firstId, lastId, remaining: count }),
      ]);
      await assertResendTokenLeft(tx, budget);
    }
    return { count };
  });
}

/**
 * One run of a bulk retry job (retry_deliveries): reopens the next deliveries of the job's range that
 * still match its filter, oldest first, as many as the tenant's publish-rate bucket holds tokens
 * for (at most BULK_RETRY_BATCH and the job's `remaining`), and schedules them. When some are left,
 * the next run starts after the last one reopened and is due when the tokens for its batch are back:
 * a short bucket defers the rest, it never drops it. Returns how many deliveries it reopened.
 */
export async function retryMatchingDeliveries(scope: TenantScope, job: BulkRetryJob, budget: ResendBudget): Promise<number> {
  const search = loadDeliverySearch(job.filter);
  return scope.transaction(async (tx, executor) => {
    const limit = Math.min(BULK_RETRY_BATCH, job.remaining);
    const batch = await tx.deliveries.lockMatchingBatch(search, job.firstId, job.lastId, job.after ?? null, limit);
    if (batch.length === 0) return 0;
    const { taken, bucket } = await takeTokensForBatch(tx, batch.length, budget);
    const reopened = await tx.deliveries.reopen(batch.slice(0, taken).map((row) => row.id), search.status ?? 'FAILED');
    const subscriptionIds = [...new Set(reopened.map((row) => row.subscriptionId))];
    const subscriptions = await tx.subscriptions.findMany(subscriptionIds);
    await scheduleDeliveries(scope.tenantId, executor, reopened, new Map(subscriptions.map((s) => [s.id, s])), { wakeStreams: true });
    const remaining = job.remaining - taken;
    // A full batch may have more behind it; a short one has exactly what was not taken.
    const left = batch.length === limit ? remaining : batch.length - taken;
    if (left > 0) {
      const need = Math.max(1, Math.min(left, BULK_RETRY_BATCH, Math.floor(bucket.burst)));
      const waitMs = Math.max(0, Math.ceil(((need - bucket.tokens) / bucket.rate) * 1000));
      const after = taken > 0 ? batch[taken - 1]!.id : job.after;
      await enqueueJobs(executor, [bulkRetryJob({ ...job, remaining, ...(after ? { after } : {}) }, new Date(Date.now() + waitMs))]);
    }
    return reopened.length;
  });
}

/**
 * Takes one publish-rate token per delivery of a re-send batch, or as many as the bucket holds:
 * how many deliveries may go now, and the bucket as it is left (to time the next batch).
 */
async function takeTokensForBatch(tx: Parameters<typeof takePublishTokens>[0], size: number, budget: ResendBudget) {
  let bucket = await takePublishTokens(tx, size, budget);
  let taken = bucket.ok ? size : Math.min(size, Math.floor(bucket.tokens));
  if (!bucket.ok && taken > 0) {
    bucket = await takePublishTokens(tx, taken, budget);
    if (!bucket.ok) taken = 0;
  }
  return { taken, bucket };
}
