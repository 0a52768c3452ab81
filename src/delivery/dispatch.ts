import type { Database } from '../db/client.js';
import { enqueueJobs, type JobCatalogue } from '../db/jobs.js';
import { deliverJob, drainJob, streamJob } from '../publish/job-policy.js';
import type { AttemptRecord, DeliveryWork } from '../db/scoped/deliveries.js';
import { TenantScope } from '../db/tenant-scope.js';
import { bodyForMode } from '../publish/delivery-body.js';
import type { SubscriptionFairness } from './fairness.js';
import type { HttpSender, SendResult } from './http-sender.js';
import type { EndpointRequests } from './endpoint-requests.js';
import { publishDeliveryFailed } from '../publish/operational-events.js';
import type { Publisher } from '../publish/publisher.js';
import { decideNextStep, outcomeLabel, type RetryDecision } from './retry-policy.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { AttemptRecorder } from './attempt-recorder.js';
import type { ClaimBatcher } from './claim-batcher.js';
import { TenantBusyError, type DeliverySlots } from './delivery-slots.js';
import { signedWebhookHeaders } from './signer.js';
import { disableSubscription } from '../domain/subscription-lifecycle.js';
import type { ResendBudget } from '../tenancy/quotas.js';
import { attemptTraceparent, TRACEPARENT_HEADER } from '../observability/trace-context.js';
import type { Tracing } from '../observability/tracing.js';

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
   * The worker's delivery slots (WORKER_CONCURRENCY), shared fairly between tenants: a delivery
   * takes one before it is claimed, so jobs carrying several deliveries never put more than that
   * in flight; one that may not wait for it goes back to the queue (TenantBusyError).
   */
  slots: DeliverySlots;
  /** Claims deliveries in batches (for claimDurationMs(timeoutMs)). */
  claims: ClaimBatcher;
  /** Writes successful attempts in batches. */
  recorder: AttemptRecorder;
  sender: HttpSender;
  /** Sends to subscriptions with endpoint settings (headers, auth, TLS); the others go straight to `sender`. */
  endpoints: EndpointRequests;
  fairness: SubscriptionFairness;
  retryScheduleMs: readonly number[];
  timeoutMs: number;
  /** SUBSCRIPTION_DISABLE_AFTER: how long every delivery must have failed before auto-disable. */
  disableAfterMs: number;
  /** QUOTA_DELIVERIES_IN_FLIGHT: a tenant's deliveries in flight at once, unless it has its own; null: no limit. */
  tenantInFlightQuota: number | null;
  /** QUOTA_PUBLISH_RATE and QUOTA_PUBLISH_BURST: the publish rate a recovery job's re-sends take from (see takeResendTokens). */
  resendBudget: ResendBudget;
  /** A span per attempt, exported over OTLP, when configured; without it an event's stored traceparent is still passed on. */
  tracing?: Tracing;
  random?: () => number;
}

type DeferReason = 'fairness' | 'max_in_flight' | 'rate_limit' | 'tenant_quota';

/** Which job carries a delivery forward: its own, or its ordered stream's. */
export type Continuation = 'delivery' | 'stream';

export type DispatchOutcome =
  | { kind: 'skipped'; reason: 'not_claimable' | 'held' | 'payload_expunged' }
  | { kind: 'deferred'; until: Date; reason: DeferReason }
  | { kind: 'attempted'; result: SendResult; decision: RetryDecision };

/**
 * One attempt of one delivery as small stages: claim → admit → sign → send → decide → record.
 * An HTTP failure is a result that the retry policy turns into the next step, never an exception;
 * only infrastructure failures (the database) throw, and graphile-worker retries the job. A
 * delivery still waiting for a slot when the worker stops throws WorkerStoppingError, one its
 * tenant's slots send back throws TenantBusyError, and its task hands it to a new job
 * (worker/tasks.ts).
 */
export function dispatchDelivery(
  deps: DispatchDependencies,
  job: JobCatalogue['deliver'],
  continuation: Continuation = 'delivery',
  jobPriority = 0,
): Promise<DispatchOutcome> {
  return deps.slots.run(job.tenantId, () => dispatchInSlot(deps, job, continuation, jobPriority));
}

async function dispatchInSlot(
  deps: DispatchDependencies,
  job: JobCatalogue['deliver'],
  continuation: Continuation,
  jobPriority: number,
): Promise<DispatchOutcome> {
  const scope = new TenantScope(deps.db, job.tenantId);
  const work = await deps.claims.claim(job.tenantId, job.deliveryId);
  if (!work) {
    if (continuation === 'delivery') await keepPendingDeliveryScheduled(scope, deps.db, job.deliveryId, jobPriority);
    return { kind: 'skipped', reason: 'not_claimable' };
  }
  return attemptClaimed(deps, scope, work, continuation, jobPriority);
}

/**
 * A delivery its publish's write has already claimed (a handed-over first attempt), attempted in a
 * slot: it waits for one in the worker, being claimed, rather than go back to the queue.
 */
export function dispatchClaimed(deps: DispatchDependencies, tenantId: string, work: DeliveryWork, jobPriority = 0): Promise<DispatchOutcome> {
  return deps.slots.run(tenantId, () => attemptClaimed(deps, new TenantScope(deps.db, tenantId), work, 'delivery', jobPriority), false);
}

/**
 * `jobPriority`: the priority of the job that carried the delivery, which its next job keeps. A
 * deferral or a retry must not jump ahead of the first attempts of other subscriptions, which wait
 * at the priority their backlog gave them.
 */
async function attemptClaimed(
  deps: DispatchDependencies,
  scope: TenantScope,
  work: DeliveryWork,
  continuation: Continuation,
  jobPriority: number,
): Promise<DispatchOutcome> {
  // The event's payload was expunged after this delivery's job was queued: nothing to send.
  const storedBody = work.body;
  if (storedBody === null) {
    await scope.deliveries.failExpunged(work.id);
    return { kind: 'skipped', reason: 'payload_expunged' };
  }
  // A test event is sent to a disabled subscription too: that is how its owner checks it before enabling it.
  if (!work.subscriptionEnabled && !work.test) {
    await scope.deliveries.hold(work.id);
    return { kind: 'skipped', reason: 'held' };
  }
  const next = { continuation, priority: jobPriority };
  if (!(await deps.fairness.enter(work.subscriptionId))) {
    return defer(scope, work, next, deps.fairness.backoffMs(work.subscriptionId), 'fairness');
  }
  let attemptMs: number | undefined;
  try {
    const refusal = await admit(scope, deps, work, next);
    if (refusal?.deferred) return { kind: 'deferred', until: new Date(Date.now() + refusal.waitMs), reason: refusal.reason };
    if (refusal) return defer(scope, work, next, refusal.waitMs, refusal.reason);
    const request = signedRequest(work, storedBody, deps.secretBox, new Date());
    const span = deps.tracing?.startAttempt(scope.tenantId, work);
    // The event's trace, with a span id of the attempt's own (W3C Trace Context).
    if (span) request.headers[TRACEPARENT_HEADER] = deps.tracing!.traceparentOf(span);
    else if (work.traceContext !== null) request.headers[TRACEPARENT_HEADER] = attemptTraceparent(work.traceContext);
    let result: SendResult;
    try {
      result = work.endpointVersion === null
        ? await deps.sender.send(request)
        : await deps.endpoints.send(scope, work.subscriptionId, work.endpointVersion, request);
    } catch (error) {
      if (span) deps.tracing!.endFailed(span, error);
      throw error;
    }
    if (span) deps.tracing!.endAttempt(span, result);
    attemptMs = result.durationMs;
    const decision = decideNextStep({
      attemptNumber: work.attemptCount + 1,
      outcome: result.outcome,
      // A test event gets one attempt: its sender watches it, and a retry would only repeat the answer later.
      scheduleMs: work.test ? [] : (work.retryScheduleMs ?? deps.retryScheduleMs),
      random: deps.random,
    });
    await record(scope, deps, work, result, decision, next);
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
async function keepPendingDeliveryScheduled(scope: TenantScope, db: Database, deliveryId: string, priority: number): Promise<void> {
  const delivery = await scope.deliveries.find(deliveryId);
  if (!delivery || delivery.status !== 'PENDING') return;
  const times = [delivery.claimedUntil, delivery.nextAttemptAt].filter((time): time is Date => time !== null);
  const dueAt = new Date(Math.max(Date.now(), ...times.map((time) => time.getTime())));
  await enqueueJobs(db, [deliverJob(scope.tenantId, deliveryId, { runAt: dueAt, priority })], { preserveRunAt: true });
}

/**
 * The attempt duration the pace of a maxInFlight line assumes while no attempt of the
 * subscription has finished in this worker: a delivery turned away then comes back about this
 * long after the one before it.
 */
const DEFAULT_ATTEMPT_MS = 100;
/** The shortest attempt duration a maxInFlight line is paced by: its deliveries come back at most this often per place. */
const MIN_PACED_ATTEMPT_MS = 10;

/**
 * Flow control across all workers: the tenant's in-flight quota, then the subscription's
 * maxInFlight and rate limit (one statement, hooklane_admit_flow, only for a subscription that
 * has either; it defers a delivery it turns away itself: `deferred`).
 */
async function admit(
  scope: TenantScope,
  deps: DispatchDependencies,
  work: DeliveryWork,
  next: NextStep,
): Promise<{ reason: DeferReason; waitMs: number; deferred: boolean } | undefined> {
  const tenantLimit = work.tenantInFlightQuota ?? deps.tenantInFlightQuota;
  if (tenantLimit !== null && (await scope.deliveries.countInFlight()) > tenantLimit) {
    return { reason: 'tenant_quota', waitMs: deps.fairness.backoffMs(`tenant:${scope.tenantId}`), deferred: false };
  }
  if (work.maxInFlight === null && work.rateLimit === null) return undefined;
  const typicalMs = deps.fairness.typicalAttemptMs(work.subscriptionId) ?? DEFAULT_ATTEMPT_MS;
  const attemptMs = Math.min(deps.timeoutMs, Math.max(MIN_PACED_ATTEMPT_MS, typicalMs));
  const limits = { rateLimit: work.rateLimit, maxInFlight: work.maxInFlight, attemptMs };
  // Due at the turn the statement gives it.
  const refusal = await scope.subscriptions.admitFlow(work.subscriptionId, work.id, limits, nextJob(work, scope.tenantId, next));
  return refusal && { ...refusal, deferred: true };
}

/** How a delivery goes on after this attempt: by which job, at which priority. */
interface NextStep {
  continuation: Continuation;
  priority: number;
}

function nextJob(work: DeliveryWork, tenantId: string, next: NextStep, runAt?: Date) {
  return next.continuation === 'stream'
    ? streamJob(tenantId, work.subscriptionId, work.orderingKey, runAt)
    : deliverJob(tenantId, work.id, { runAt, priority: next.priority });
}

async function defer(scope: TenantScope, work: DeliveryWork, next: NextStep, waitMs: number, reason: DeferReason): Promise<DispatchOutcome> {
  const until = new Date(Date.now() + waitMs);
  await scope.transaction(async (tx, executor) => {
    await tx.deliveries.defer(work.id, until);
    await enqueueJobs(executor, [nextJob(work, scope.tenantId, next, until)]);
  });
  return { kind: 'deferred', until, reason };
}

function signedRequest(work: DeliveryWork, storedBody: string, secretBox: SecretBox, at: Date) {
  const body = bodyForMode(work.payloadMode, {
    id: work.eventId,
    eventType: work.eventType,
    createdAt: work.eventCreatedAt,
    body: storedBody,
  });
  const message = { msgId: work.eventId, timestampSeconds: Math.floor(at.getTime() / 1000), body };
  const keys = {
    hmacSecrets: work.secrets.map((sealed) => secretBox.open(sealed, work.subscriptionId)),
    ed25519SecretKey: work.ed25519SecretKey === null ? null : secretBox.open(work.ed25519SecretKey, work.subscriptionId),
  };
  return { url: work.url, body, headers: signedWebhookHeaders(message, keys, USER_AGENT) };
}

async function record(
  scope: TenantScope,
  deps: DispatchDependencies,
  work: DeliveryWork,
  result: SendResult,
  decision: RetryDecision,
  next: NextStep,
): Promise<void> {
  const attempt: AttemptRecord = {
    statusCode: result.statusCode,
    outcome: outcomeLabel(result.outcome),
    error: result.error,
    durationMs: result.durationMs,
    responseBody: result.responseBody,
  };
  if (work.test) {
    // A probe its owner watches: it leaves the endpoint's health alone and publishes no operational event.
    await scope.deliveries.recordAttempt(work.id, attempt, { status: decision.action === 'succeed' ? 'SUCCEEDED' : 'FAILED', nextAttemptAt: null });
    return;
  }
  if (decision.action === 'succeed' && !work.subscriptionFailing) {
    // The common case changes nothing but the delivery: it joins a batch.
    await deps.recorder.recordSuccess(scope.tenantId, work.id, attempt);
    return;
  }
  const retryAt = decision.action === 'retry' ? new Date(Date.now() + decision.delayMs) : null;
  const status = decision.action === 'succeed' ? 'SUCCEEDED' : decision.action === 'fail' ? 'FAILED' : 'PENDING';
  await scope.transaction(async (tx, executor) => {
    if (retryAt) await enqueueJobs(executor, [nextJob(work, scope.tenantId, next, retryAt)]);
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
    const outcome = await dispatchDelivery(deps, { tenantId: job.tenantId, deliveryId: head.id }, 'stream').catch(sentBack);
    if (outcome.kind === 'sent_back') {
      await wakeAt(new Date(Date.now() + outcome.retryInMs));
      return;
    }
    if (outcome.kind === 'skipped' && outcome.reason === 'payload_expunged') continue;
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
    const outcome = await dispatchDelivery(deps, { tenantId: job.tenantId, deliveryId: next.id }, 'delivery').catch(sentBack);
    if (outcome.kind === 'sent_back') {
      await enqueueJobs(deps.db, [drainJob(job.tenantId, job.subscriptionId, new Date(Date.now() + outcome.retryInMs))]);
      return;
    }
    if (outcome.kind === 'skipped' && outcome.reason === 'held') return;
  }
  await enqueueJobs(deps.db, [drainJob(job.tenantId, job.subscriptionId)]);
}

/** A stream's delivery its tenant's slots sent back: the stream comes back when they said. */
function sentBack(error: unknown): { kind: 'sent_back'; retryInMs: number } {
  if (error instanceof TenantBusyError) return { kind: 'sent_back', retryInMs: error.retryInMs };
  throw error;
}
