import { sql } from 'drizzle-orm';
import type { Executor } from './client.js';

/**
 * The typed catalogue of background jobs. Jobs are rows in graphile-worker's tables, so they are
 * enqueued with its SQL `add_jobs` inside the caller's transaction: a job exists exactly when the
 * rows it works on were committed.
 */
export interface JobCatalogue {
  /** Make the next attempt of one delivery (unordered subscriptions): retries, deferrals, manual retries, replays. */
  deliver: { tenantId: string; deliveryId: string };
  /**
   * Make the first attempt of up to DELIVERIES_PER_JOB just-published deliveries of one tenant
   * (unordered subscriptions), side by side. Each delivery is claimed on its own: one already
   * settled, claimed elsewhere or never written is skipped, so running the job again is safe.
   */
  deliver_batch: { tenantId: string; deliveryIds: string[] };
  /**
   * Work through the pending deliveries of one ordered stream, oldest first. `drain` (a subscription
   * just enabled) sends every due delivery of the subscription oldest first, without waiting on retries.
   */
  deliver_stream: { tenantId: string; subscriptionId: string; orderingKey: string | null; drain?: boolean };
  /** Re-send the FAILED deliveries of a subscription created in [since, until). */
  recover_subscription: { tenantId: string; subscriptionId: string; since: string; until: string };
}

export type JobName = keyof JobCatalogue;

export type JobSpec = {
  [Name in JobName]: {
    task: Name;
    payload: JobCatalogue[Name];
    runAt?: Date;
    /** At most one pending job per key: a newer spec replaces the pending one. */
    jobKey?: string;
    maxAttempts?: number;
    /** Jobs of one queue run one at a time, oldest first. */
    queueName?: string;
    /** Lower runs first (graphile-worker picks by priority, then run time). */
    priority?: number;
  };
}[JobName];

/** Retries of a job that threw (database down, process killed) rather than of a failed HTTP attempt. */
export const DEFAULT_JOB_MAX_ATTEMPTS = 25;

/**
 * Enqueues jobs with one statement. `preserveRunAt` keeps the run time of a keyed job that has not
 * started yet: an ordered stream waiting for a retry is not woken early by a new event.
 */
export async function enqueueJobs(db: Executor, specs: readonly JobSpec[], options: { preserveRunAt?: boolean } = {}): Promise<void> {
  if (specs.length === 0) return;
  // One parameter for the whole batch: a JSON array that hooklane_enqueue_jobs (src/db/functions)
  // expands into graphile-worker job_spec records and hands to its add_jobs.
  await db.execute(sql`select hooklane_enqueue_jobs(${JSON.stringify(specs.map(jobSpecRecord))}::json, ${options.preserveRunAt ?? false})`);
}

/** A job as the JSON form of graphile-worker's job_spec record, for hooklane_enqueue_jobs. */
export function jobSpecRecord(spec: JobSpec) {
  return {
    identifier: spec.task,
    payload: spec.payload,
    queue_name: spec.queueName ?? null,
    run_at: spec.runAt?.toISOString() ?? null,
    max_attempts: spec.maxAttempts ?? DEFAULT_JOB_MAX_ATTEMPTS,
    job_key: spec.jobKey ?? null,
    priority: spec.priority ?? null,
    flags: null,
  };
}

/** The job key of a delivery's next attempt: at most one pending job per delivery. */
export function deliveryJobKey(deliveryId: string): string {
  return `deliver:${deliveryId}`;
}

/** The queue and job key of an ordered stream: one job per subscription and ordering key. */
export function streamKey(subscriptionId: string, orderingKey: string | null): string {
  return orderingKey === null ? `stream:${subscriptionId}` : `stream:${subscriptionId}:${orderingKey}`;
}

export function deliverJob(
  tenantId: string,
  deliveryId: string,
  options: { runAt?: Date; queueName?: string; priority?: number } = {},
): JobSpec {
  return { task: 'deliver', payload: { tenantId, deliveryId }, jobKey: deliveryJobKey(deliveryId), ...options };
}

/**
 * How many first attempts one `deliver_batch` job carries. A job costs graphile-worker about as
 * much as a delivery costs everything else (insert, fetch, complete): carrying ten deliveries per
 * job makes that cost a tenth. Small enough that a burst still spreads over several workers.
 */
export const DELIVERIES_PER_JOB = 10;

/** A delivery's first attempt as publishing plans it: its event, and its fair priority. */
export interface FirstAttempt {
  deliveryId: string;
  eventId: string;
  priority: number;
}

/**
 * First attempts handed to the publishing process's own worker (ROLE=all, see FirstAttemptHandoff):
 * their `deliver_batch` jobs are still written with the events, keyed so that the handoff can
 * complete them, and due only at `runAt`, so that no worker takes them meanwhile. If the process
 * dies before it has sent them, the jobs run then.
 */
export interface HandedOffJobs {
  runAt: Date;
}

/** The job key of first attempts handed over in-process, after the first delivery of its job. */
export function handoffJobKey(firstDeliveryId: string): string {
  return `handoff:${firstDeliveryId}`;
}

/**
 * The `deliver_batch` jobs of first attempts, DELIVERIES_PER_JOB per job in the order given, each
 * with the events its deliveries belong to and the lowest (most urgent) priority among them.
 */
export function deliverBatchJobs(
  tenantId: string,
  attempts: readonly FirstAttempt[],
  handoff: HandedOffJobs | null = null,
): { eventIds: string[]; deliveries: readonly FirstAttempt[]; spec: JobSpec }[] {
  const jobs: { eventIds: string[]; deliveries: readonly FirstAttempt[]; spec: JobSpec }[] = [];
  for (let start = 0; start < attempts.length; start += DELIVERIES_PER_JOB) {
    const chunk = attempts.slice(start, start + DELIVERIES_PER_JOB);
    const spec = deliverBatchJob(tenantId, chunk.map((attempt) => attempt.deliveryId), Math.min(...chunk.map((attempt) => attempt.priority)));
    jobs.push({
      eventIds: [...new Set(chunk.map((attempt) => attempt.eventId))],
      deliveries: chunk,
      spec: handoff ? { ...spec, runAt: handoff.runAt, jobKey: handoffJobKey(chunk[0]!.deliveryId) } : spec,
    });
  }
  return jobs;
}

/**
 * Completes the jobs of first attempts the handoff has dealt with (hooklane_complete_handed_off_jobs,
 * src/db/functions): a job a worker has meanwhile taken is left to it.
 */
export async function completeHandedOffJobs(db: Executor, jobKeys: readonly string[]): Promise<void> {
  if (jobKeys.length === 0) return;
  await db.execute(sql`select hooklane_complete_handed_off_jobs(${JSON.stringify(jobKeys)}::json)`);
}

/** One `deliver_batch` job: each delivery is claimed, sent and recorded on its own. */
export function deliverBatchJob(tenantId: string, deliveryIds: readonly string[], priority: number): JobSpec {
  return { task: 'deliver_batch', payload: { tenantId, deliveryIds: [...deliveryIds] }, priority };
}

export function streamJob(tenantId: string, subscriptionId: string, orderingKey: string | null, runAt?: Date): JobSpec {
  const key = streamKey(subscriptionId, orderingKey);
  return {
    task: 'deliver_stream',
    payload: { tenantId, subscriptionId, orderingKey },
    jobKey: key,
    queueName: key,
    ...(runAt ? { runAt } : {}),
  };
}

/** Sends a just-enabled subscription's released deliveries one after another, oldest first. */
export function drainJob(tenantId: string, subscriptionId: string): JobSpec {
  const key = `drain:${subscriptionId}`;
  return {
    task: 'deliver_stream',
    payload: { tenantId, subscriptionId, orderingKey: null, drain: true },
    jobKey: key,
    queueName: key,
  };
}

/** Beyond this many pending deliveries a tenant's backlog counts as "large": counting stops there. */
export const BACKLOG_COUNT_CAP = 4096;

/**
 * Fair delivery between tenants: the job priority of a tenant's new delivery grows with the
 * logarithm of its pending backlog. A tenant with 50,000 queued deliveries enqueues at priority
 * 12, so another tenant's first delivery (priority 0) is picked before almost all of them.
 */
export function fairPriority(pendingBefore: number): number {
  return Math.min(12, Math.floor(Math.log2(1 + Math.min(pendingBefore, BACKLOG_COUNT_CAP))));
}
