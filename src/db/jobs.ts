import { sql } from 'drizzle-orm';
import type { Executor } from './client.js';
import type { StoredDeliverySearch } from '../domain/search-filters.js';

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
  /**
   * Re-send the FAILED deliveries of a subscription created in [since, until), in batches paced by
   * the tenant's publish rate; `after`: the last delivery an earlier run of the recovery reopened.
   */
  recover_subscription: { tenantId: string; subscriptionId: string; since: string; until: string; after?: string };
  /**
   * Re-send the deliveries a retryDeliveries call counted: those with ids in [firstId, lastId]
   * that still match `filter`, oldest first, in batches paced by the tenant's publish rate;
   * `after`: the last one an earlier run reopened; `remaining`: how many are still to be re-sent.
   */
  retry_deliveries: {
    tenantId: string;
    retryId: string;
    filter: StoredDeliverySearch;
    firstId: string;
    lastId: string;
    remaining: number;
    after?: string;
  };
  /**
   * Delete what is older than its tenant's retention and create partitions ahead (src/retention).
   * One job at a time (job key RETENTION_SWEEP_JOB_KEY), which schedules the next when it ends.
   */
  retention_sweep: Record<string, never>;
}

/** The key of the one pending retention sweep. */
export const RETENTION_SWEEP_JOB_KEY = 'retention-sweep';

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

/**
 * Completes the jobs of first attempts the handoff has dealt with (hooklane_complete_handed_off_jobs,
 * src/db/functions): a job a worker has meanwhile taken is left to it.
 */
export async function completeHandedOffJobs(db: Executor, jobKeys: readonly string[]): Promise<void> {
  if (jobKeys.length === 0) return;
  await db.execute(sql`select hooklane_complete_handed_off_jobs(${JSON.stringify(jobKeys)}::json)`);
}
