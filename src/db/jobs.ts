import { sql } from 'drizzle-orm';
import type { Executor } from './client.js';

/**
 * The typed catalogue of background jobs. Jobs are rows in graphile-worker's tables, so they are
 * enqueued with its SQL `add_jobs` inside the caller's transaction: a job exists exactly when the
 * rows it works on were committed.
 */
export interface JobCatalogue {
  /** Make the next attempt of one delivery. */
  deliver: { tenantId: string; deliveryId: string };
}

export type JobName = keyof JobCatalogue;

export interface JobSpec<Name extends JobName = JobName> {
  task: Name;
  payload: JobCatalogue[Name];
  runAt?: Date;
  /** At most one pending job per key: a newer spec replaces the pending one. */
  jobKey?: string;
  maxAttempts?: number;
  queueName?: string;
}

/** Retries of a job that threw (database down, process killed) rather than of a failed HTTP attempt. */
export const DEFAULT_JOB_MAX_ATTEMPTS = 25;

export async function enqueueJobs(db: Executor, specs: readonly JobSpec[]): Promise<void> {
  if (specs.length === 0) return;
  const rows = specs.map((spec) => ({
    identifier: spec.task,
    payload: spec.payload,
    queue_name: spec.queueName ?? null,
    run_at: spec.runAt?.toISOString() ?? null,
    max_attempts: spec.maxAttempts ?? DEFAULT_JOB_MAX_ATTEMPTS,
    job_key: spec.jobKey ?? null,
    priority: null,
    flags: null,
  }));
  // One parameter for the whole batch: a JSON array expanded into job_spec records server-side.
  await db.execute(sql`
    select 1 from graphile_worker.add_jobs(array(
      select json_populate_record(null::graphile_worker.job_spec, spec)
      from json_array_elements(${JSON.stringify(rows)}::json) as spec
    ))`);
}

/** The job key of a delivery's next attempt: at most one pending job per delivery. */
export function deliveryJobKey(deliveryId: string): string {
  return `deliver:${deliveryId}`;
}
