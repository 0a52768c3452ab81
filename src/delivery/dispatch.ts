import type { Database } from '../db/client.js';
import { enqueueJobs, type JobCatalogue } from '../db/jobs.js';
import { deliverJob, drainJob, streamJob } from '../publish/job-policy.js';
import type { AttemptRecord, DeliveryWork } from '../db/scoped/deliveries.js';
import { TenantScope } from '../db/tenant-scope.js';
import { bodyForMode } from '../publish/delivery-body.js';
import type { SubscriptionFairness } from './fairness.js';
import type { HttpSender, SendResult } from './http-sender.js';
import { publishDeliveryFailed } from '../publish/operational-events.js';
import type { Publisher } from '../publish/publisher.js';
import { decideNextStep, outcomeLabel, type RetryDecision } from './retry-policy.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { AttemptRecorder } from './attempt-recorder.js';
import type { ClaimBatcher } from './claim-batcher.js';
import type { DeliverySlots } from './delivery-slots.js';
import { signedWebhookHeaders } from './signer.js';
import { disableSubscription } from '../domain/subscription-lifecycle.js';

export const USER_AGENT = 'Hooklane-Webhooks/0.1';
/**
 * A claim outlives the attempt's timeout by this much before another worker may try: room to
 * record the attempt, short enough that a delivery whose worker died is retried soon.
 */
const CLAIM_MARGIN_MS = 5_000;

/** How long a claim holds a delivery for an attempt that times out after `timeoutMs`. */
export function claimDurationMs(timeoutMs: number): number {
  return timeoutMs + CLAIM_MARGIN_MS;
}
/** An endpoint is disabled for failing only after this many failed deliveries in a row. */
export const MIN_FAILED_DELIVERIES_TO_DISABLE = 3;

export interface DispatchDependencies {
  db: Database;
  /** Opens the sealed signing secrets. */
  secretBox: SecretBox;
  /** Publishes the operational events of endpoint health (delivery.failed, subscription.disabled). */
  publisher: Publisher;
  /**
   * The worker's delivery slots (WORKER_CONCURRENCY): a delivery waits for one before it is
   * claimed, so jobs carrying several deliveries never put more than that in flight.
   */
  slots: DeliverySlots;
  /** Claims deliveries in batches (for claimDurationMs(timeoutMs)). */
  claims: ClaimBatcher;
  /** Writes successful attempts in batches. */
  recorder: AttemptRecorder;
  sender: HttpSender;
  fairness: SubscriptionFairness;
  retryScheduleMs: readonly number[];
  timeoutMs: number;
  /** SUBSCRIPTION_DISABLE_AFTER: how long every delivery must have failed before auto-disable. */
  disableAfterMs: number;
  /** QUOTA_DELIVERIES_IN_FLIGHT: a tenant's deliveries in flight at once, unless it has its own; null: no limit. */
  tenantInFlightQuota: number | null;
  random?: () => number;
}

type DeferReason = 'fairness' | 'max_in_flight' | 'rate_limit' | 'tenant_quota';

/** Which job carries a delivery forward: its own, or its ordered stream's. */
export type Continuation = 'delivery' | 'stream';

export type DispatchOutcome =
  | { kind: 'skipped'; reason: 'not_claimable' | 'held' }
  | { kind: 'deferred'; until: Date; reason: DeferReason }
  | { kind: 'attempted'; result: SendResult; decision: RetryDecision };

/**
 * One attempt of one delivery as small stages: claim → admit → sign → send → decide → record.
 * An HTTP failure is a result that the retry policy turns into the next step, never an exception;
 * only infrastructure failures (the database) throw, and graphile-worker retries the job. A
 * delivery still waiting for a slot when the worker stops throws WorkerStoppingError, and its task
 * hands it to a new job (worker/tasks.ts).
 */
export function dispatchDelivery(
  deps: DispatchDependencies,
  job: JobCatalogue['deliver'],
  continuation: Continuation = 'delivery',
  jobPriority = 0,
): Promise<DispatchOutcome> {
  return deps.slots.run(() => dispatchInSlot(deps, job, continuation), jobPriority);
}

async function dispatchInSlot(deps: DispatchDependencies, job: JobCatalogue['deliver'], continuation: Continuation): Promise<DispatchOutcome> {
  const scope = new TenantScope(deps.db, job.tenantId);
  const work = await deps.claims.claim(job.tenantId, job.deliveryId);
  if (!work) {
    if (continuation === 'delivery') await keepPendingDeliveryScheduled(scope, deps.db, job.deliveryId);
    return { kind: 'skipped', reason: 'not_claimable' };
  }
  return attemptClaimed(deps, scope, work, continuation);
}

/** A delivery its publish's write has already claimed (a handed-over first attempt), attempted in a slot. */
export function dispatchClaimed(deps: DispatchDependencies, tenantId: string, work: DeliveryWork, jobPriority = 0): Promise<DispatchOutcome> {
  return deps.slots.run(() => attemptClaimed(deps, new TenantScope(deps.db, tenantId), work, 'delivery'), jobPriority);
}

async function attemptClaimed(deps: DispatchDependencies, scope: TenantScope, work: DeliveryWork, continuation: Continuation): Promise<DispatchOutcome> {
  if (!work.subscriptionEnabled) {
    await scope.deliveries.hold(work.id);
    return { kind: 'skipped', reason: 'held' };
  }
  if (!(await deps.fairness.enter(work.subscriptionId))) {
    return defer(scope, work, continuation, deps.fairness.backoffMs(work.subscriptionId), 'fairness');
  }
  let attemptMs: number | undefined;
  try {
    const refusal = await admit(scope, deps, work);
    if (refusal) return defer(scope, work, continuation, refusal.waitMs, refusal.reason);
    const result = await deps.sender.send(signedRequest(work, deps.secretBox, new Date()));
    attemptMs = result.durationMs;
    const decision = decideNextStep({
      attemptNumber: work.attemptCount + 1,
      outcome: result.outcome,
      scheduleMs: work.retryScheduleMs ?? deps.retryScheduleMs,
      random: deps.random,
    });
    await record(scope, deps, work, result, decision, continuation);
    return { kind: 'attempted', result, decision };
  } finally {
    deps.fairness.leave(work.subscriptionId, attemptMs);
  }
}

/**
 * A job that found its delivery claimed by another attempt (a worker that died mid-attempt, or a
 * job run again after its worker was unlocked) must not end the delivery's last job: it comes
 * back when the claim or the scheduled time has passed. A settled delivery needs nothing.
 */
async function keepPendingDeliveryScheduled(scope: TenantScope, db: Database, deliveryId: string): Promise<void> {
  const delivery = await scope.deliveries.find(deliveryId);
  if (!delivery || delivery.status !== 'PENDING') return;
  const times = [delivery.claimedUntil, delivery.nextAttemptAt].filter((time): time is Date => time !== null);
  const dueAt = new Date(Math.max(Date.now(), ...times.map((time) => time.getTime())));
  await enqueueJobs(db, [deliverJob(scope.tenantId, deliveryId, { runAt: dueAt })], { preserveRunAt: true });
}

/** Flow control across all workers: the tenant's in-flight quota, the subscription's maxInFlight, then its rate limit. */
async function admit(
  scope: TenantScope,
  deps: DispatchDependencies,
  work: DeliveryWork,
): Promise<{ reason: DeferReason; waitMs: number } | undefined> {
  const tenantLimit = work.tenantInFlightQuota ?? deps.tenantInFlightQuota;
  if (tenantLimit !== null && (await scope.deliveries.countInFlight()) > tenantLimit) {
    return { reason: 'tenant_quota', waitMs: deps.fairness.backoffMs(`tenant:${scope.tenantId}`) };
  }
  if (work.maxInFlight !== null) {
    // The count includes this delivery's own claim, taken before counting: two workers racing for
    // the last slot both see each other and back off, so the limit is never exceeded.
    const inFlight = await scope.subscriptions.countInFlight(work.subscriptionId);
    if (inFlight > work.maxInFlight) return { reason: 'max_in_flight', waitMs: deps.fairness.backoffMs(work.subscriptionId) };
  }
  if (work.rateLimit !== null) {
    const waitMs = await scope.subscriptions.takeRateToken(work.subscriptionId, work.rateLimit);
    if (waitMs > 0) return { reason: 'rate_limit', waitMs };
  }
  return undefined;
}

function nextJob(work: DeliveryWork, tenantId: string, continuation: Continuation, runAt: Date) {
  return continuation === 'stream'
    ? streamJob(tenantId, work.subscriptionId, work.orderingKey, runAt)
    : deliverJob(tenantId, work.id, { runAt });
}

async function defer(
  scope: TenantScope,
  work: DeliveryWork,
  continuation: Continuation,
  waitMs: number,
  reason: DeferReason,
): Promise<DispatchOutcome> {
  const until = new Date(Date.now() + waitMs);
  await scope.transaction(async (tx, executor) => {
    await tx.deliveries.defer(work.id, until);
    await enqueueJobs(executor, [nextJob(work, scope.tenantId, continuation, until)]);
  });
  return { kind: 'deferred', until, reason };
}

function signedRequest(work: DeliveryWork, secretBox: SecretBox, at: Date) {
  const body = bodyForMode(work.payloadMode, {
    id: work.eventId,
    eventType: work.eventType,
    createdAt: work.eventCreatedAt,
    body: work.body,
  });
  const message = { msgId: work.eventId, timestampSeconds: Math.floor(at.getTime() / 1000), body };
  const keys = {
    hmacSecrets: work.secrets.map((sealed) => secretBox.open(sealed)),
    ed25519SecretKey: work.ed25519SecretKey === null ? null : secretBox.open(work.ed25519SecretKey),
  };
  return { url: work.url, body, headers: signedWebhookHeaders(message, keys, USER_AGENT) };
}

async function record(
  scope: TenantScope,
  deps: DispatchDependencies,
  work: DeliveryWork,
  result: SendResult,
  decision: RetryDecision,
  continuation: Continuation,
): Promise<void> {
  const attempt: AttemptRecord = {
    statusCode: result.statusCode,
    outcome: outcomeLabel(result.outcome),
    error: result.error,
    durationMs: result.durationMs,
    responseBody: result.responseBody,
  };
  if (decision.action === 'succeed' && !work.subscriptionFailing) {
    // The common case changes nothing but the delivery: it joins a batch.
    await deps.recorder.recordSuccess(scope.tenantId, work.id, attempt);
    return;
  }
  const retryAt = decision.action === 'retry' ? new Date(Date.now() + decision.delayMs) : null;
  const status = decision.action === 'succeed' ? 'SUCCEEDED' : decision.action === 'fail' ? 'FAILED' : 'PENDING';
  await scope.transaction(async (tx, executor) => {
    if (retryAt) await enqueueJobs(executor, [nextJob(work, scope.tenantId, continuation, retryAt)]);
    await updateEndpointHealth(tx, deps, work, attempt, decision);
    // Last: its statement also adds to the subscription's stats row of the minute, which every
    // attempt of the subscription updates, so that row stays locked only until the commit.
    await tx.deliveries.recordAttempt(work.id, attempt, { status, nextAttemptAt: retryAt });
  });
}

/**
 * Endpoint health, in the attempt's transaction: a success stops the failing clock; a delivery
 * that spent its schedule counts towards disabling the subscription; a 410 disables it at once.
 */
async function updateEndpointHealth(
  scope: TenantScope,
  deps: DispatchDependencies,
  work: DeliveryWork,
  attempt: AttemptRecord,
  decision: RetryDecision,
): Promise<void> {
  if (decision.action === 'succeed') {
    await scope.subscriptions.markHealthy(work.subscriptionId);
    return;
  }
  if (!work.subscriptionFailing) await scope.subscriptions.markFailingAttempt(work.subscriptionId);
  if (decision.action !== 'fail') return;

  await publishDeliveryFailed(deps.publisher, scope, {
    deliveryId: work.id,
    eventId: work.eventId,
    eventType: work.eventType,
    subscriptionId: work.subscriptionId,
    url: work.url,
    attempts: work.attemptCount + 1,
    lastStatusCode: attempt.statusCode,
    lastError: attempt.error,
  });
  const health = await scope.subscriptions.markFailedDelivery(work.subscriptionId);
  const failingLongEnough =
    health?.failingSince !== null &&
    health?.failingSince !== undefined &&
    Date.now() - health.failingSince.getTime() >= deps.disableAfterMs &&
    health.failedDeliveriesInRow >= MIN_FAILED_DELIVERIES_TO_DISABLE;
  if (decision.reason === 'gone' || failingLongEnough) {
    const subscription = await scope.subscriptions.findForUpdate(work.subscriptionId);
    if (subscription?.enabled) {
      await disableSubscription(deps.publisher, scope, subscription, decision.reason === 'gone' ? 'GONE' : 'FAILING');
    }
  }
}

/** How many deliveries a stream job sends before yielding its worker slot to other jobs. */
const STREAM_BATCH = 100;
const STREAM_RECHECK_MS = 1_000;

/**
 * An ordered stream's job: sends the oldest PENDING delivery of (subscription, ordering key), and
 * only after it is settled the next one. A retry parks the whole stream until it is due, so
 * order holds; other keys have their own streams and are not blocked.
 */
export async function drainStream(deps: DispatchDependencies, job: JobCatalogue['deliver_stream']): Promise<void> {
  if (job.drain) return drainReleased(deps, job);
  const scope = new TenantScope(deps.db, job.tenantId);
  const wakeAt = (runAt: Date) =>
    enqueueJobs(deps.db, [streamJob(job.tenantId, job.subscriptionId, job.orderingKey, runAt)]);
  for (let sent = 0; sent < STREAM_BATCH; sent++) {
    const head = await scope.deliveries.headOfStream(job.subscriptionId, job.orderingKey);
    if (!head) return;
    const now = Date.now();
    const busyUntil = [head.nextAttemptAt, head.claimedUntil].filter((time): time is Date => time !== null && time.getTime() > now);
    if (busyUntil.length > 0) {
      await wakeAt(new Date(Math.max(...busyUntil.map((time) => time.getTime()))));
      return;
    }
    const outcome = await dispatchDelivery(deps, { tenantId: job.tenantId, deliveryId: head.id }, 'stream');
    if (outcome.kind === 'skipped') {
      // Held: enabling the subscription wakes the stream. Otherwise another worker has it: look again soon.
      if (outcome.reason === 'not_claimable') await wakeAt(new Date(Date.now() + STREAM_RECHECK_MS));
      return;
    }
    if (outcome.kind === 'deferred' || outcome.decision.action === 'retry') return;
  }
  await wakeAt(new Date());
}

/**
 * A just-enabled unordered subscription's backlog: sends its due deliveries one after another,
 * oldest first, so that held deliveries go out in publish order. A failed one is retried on its
 * own job and does not hold the rest back (the subscription is not ordered).
 */
async function drainReleased(deps: DispatchDependencies, job: JobCatalogue['deliver_stream']): Promise<void> {
  const scope = new TenantScope(deps.db, job.tenantId);
  for (let sent = 0; sent < STREAM_BATCH; sent++) {
    const next = await scope.deliveries.oldestDue(job.subscriptionId);
    if (!next) return;
    const outcome = await dispatchDelivery(deps, { tenantId: job.tenantId, deliveryId: next.id }, 'delivery');
    if (outcome.kind === 'skipped' && outcome.reason === 'held') return;
  }
  await enqueueJobs(deps.db, [drainJob(job.tenantId, job.subscriptionId)]);
}
