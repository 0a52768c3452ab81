import type { JobHelpers, Task, TaskList } from 'graphile-worker';
import type { Logger } from 'pino';
import type { RetentionSettings } from '../config.js';
import { z } from 'zod';
import { enqueueJobs, RETENTION_SWEEP_JOB_KEY, type JobCatalogue, type JobName, type JobSpec } from '../db/jobs.js';
import { sweepRetention } from '../retention/sweep.js';
import { deliverBatchJob, deliverJob, drainJob, streamJob } from '../publish/job-policy.js';
import type { DeliveryWork } from '../db/scoped/deliveries.js';
import { TenantScope } from '../db/tenant-scope.js';
import { dispatchClaimed, dispatchDelivery, drainStream, type DispatchDependencies } from '../delivery/dispatch.js';
import { TenantBusyError, WorkerStoppingError } from '../delivery/delivery-slots.js';
import { recoverFailedDeliveries, retryMatchingDeliveries } from '../domain/manual-control.js';
import type { DeliveryTelemetry } from '../observability/delivery-telemetry.js';

/** Payload schemas of the job catalogue: a job is checked before any work is done for it. */
const payloadSchemas: { [Name in JobName]: z.ZodType<JobCatalogue[Name]> } = {
  deliver: z.object({ tenantId: z.string(), deliveryId: z.string() }),
  deliver_batch: z.object({ tenantId: z.string(), deliveryIds: z.array(z.string()).min(1) }),
  deliver_stream: z.object({
    tenantId: z.string(),
    subscriptionId: z.string(),
    orderingKey: z.string().nullable(),
    drain: z.boolean().optional(),
  }),
  recover_subscription: z.object({
    tenantId: z.string(),
    subscriptionId: z.string(),
    since: z.string(),
    until: z.string(),
    after: z.string().optional(),
  }),
  retry_deliveries: z.object({
    tenantId: z.string(),
    retryId: z.string(),
    filter: z.object({
      subscriptionId: z.string().optional(),
      status: z.enum(['PENDING', 'SUCCEEDED', 'FAILED', 'HELD']).optional(),
      eventTypes: z.array(z.string()).optional(),
      since: z.string().optional(),
      until: z.string().optional(),
    }),
    firstId: z.string(),
    lastId: z.string(),
    remaining: z.number().int().positive(),
    after: z.string().optional(),
  }),
  retention_sweep: z.object({}).strict() as z.ZodType<Record<string, never>>,
};

function typedTask<Name extends JobName>(
  name: Name,
  handler: (payload: JobCatalogue[Name], job: { priority: number }, helpers: JobHelpers) => Promise<unknown>,
): Task {
  return async (payload, helpers) => {
    const parsed = payloadSchemas[name].safeParse(payload);
    if (!parsed.success) {
      // Retrying cannot fix a malformed payload: log it and let the job complete.
      helpers.logger.error(`${name} job ${helpers.job.id} has a malformed payload; dropped`);
      return;
    }
    await handler(parsed.data, helpers.job, helpers);
  };
}

/** The retention sweep runs before deliveries waiting in the queue (theirs are 0 and up). */
const RETENTION_SWEEP_PRIORITY = -10;

/** The next retention sweep, `delayMs` from now; a pending one is replaced (the job key). */
export function retentionSweepJob(delayMs: number): JobSpec {
  return {
    task: 'retention_sweep',
    payload: {},
    runAt: new Date(Date.now() + delayMs),
    jobKey: RETENTION_SWEEP_JOB_KEY,
    priority: RETENTION_SWEEP_PRIORITY,
  };
}

/** What the maintenance tasks need beside the delivery engine. */
export interface MaintenanceDependencies {
  retention: RetentionSettings;
  logger: Logger;
}

/** Attempts deliveries of one tenant side by side: a `deliver_batch` job's work, or first attempts handed over in-process. */
export type FirstAttemptsRunner = (
  tenantId: string,
  deliveryIds: readonly string[],
  priority: number,
  claimed?: ReadonlyMap<string, DeliveryWork>,
) => Promise<void>;

/** One delivery's attempt, instrumented when `telemetry` is given. */
function deliverOne(deps: DispatchDependencies, telemetry: DeliveryTelemetry | undefined) {
  return async (job: JobCatalogue['deliver'], priority: number, work?: DeliveryWork): Promise<void> => {
    const jobDeps = telemetry ? telemetry.forJob(deps, job) : deps;
    const outcome = work ? await dispatchClaimed(jobDeps, job.tenantId, work, priority) : await dispatchDelivery(jobDeps, job, 'delivery', priority);
    telemetry?.dispatched(job, outcome);
  };
}

/**
 * The work of a `deliver_batch` job: each delivery on its own, side by side (the worker's delivery
 * slots bound how many run at once). What never got a slot goes to a new job at the same priority:
 * due now when the worker is stopping, later when the tenant's slots sent it back. If the database
 * failed for some, this throws once the others are done, and running the work again skips what is
 * settled or claimed.
 */
export function firstAttemptsRunner(deps: DispatchDependencies, telemetry?: DeliveryTelemetry): FirstAttemptsRunner {
  const deliver = deliverOne(deps, telemetry);
  return async (tenantId, deliveryIds, priority, claimed) => {
    const settled = await Promise.allSettled(deliveryIds.map((deliveryId) => deliver({ tenantId, deliveryId }, priority, claimed?.get(deliveryId))));
    const failures: unknown[] = [];
    const notStarted: string[] = [];
    const sentBack: string[] = [];
    let backInMs = 0;
    settled.forEach((result, index) => {
      if (result.status === 'fulfilled') return;
      if (result.reason instanceof WorkerStoppingError) notStarted.push(deliveryIds[index]!);
      else if (result.reason instanceof TenantBusyError) {
        sentBack.push(deliveryIds[index]!);
        backInMs = Math.max(backInMs, result.reason.retryInMs);
      } else failures.push(result.reason);
    });
    const nextJobs = [
      ...(notStarted.length > 0 ? [deliverBatchJob(tenantId, notStarted, priority)] : []),
      ...(sentBack.length > 0 ? [deliverBatchJob(tenantId, sentBack, priority, new Date(Date.now() + backInMs))] : []),
    ];
    if (nextJobs.length > 0) await enqueueJobs(deps.db, nextJobs);
    if (failures.length > 0) {
      const why = failures[0] instanceof Error ? failures[0].message : String(failures[0]);
      throw new AggregateError(failures, `${failures.length} of ${deliveryIds.length} deliveries not attempted (${why}): the job is retried`);
    }
  };
}

/**
 * The task handlers: thin, each handing its checked payload to the delivery engine. With
 * `telemetry`, delivery jobs are wrapped to record metrics and debug logs (see DeliveryTelemetry).
 */
export function taskList(deps: DispatchDependencies, telemetry?: DeliveryTelemetry, maintenance?: MaintenanceDependencies): TaskList {
  const deliver = deliverOne(deps, telemetry);
  const deliverFirstAttempts = firstAttemptsRunner(deps, telemetry);
  /**
   * The work never got a delivery slot: it goes to a fresh job instead of failing this one into a
   * retry backoff. Due now when the worker is stopping, for another worker (or this one,
   * restarted); when the tenant's slots sent it back, due when they said.
   */
  const handOverNotStarted = async (work: Promise<void>, next: (runAt?: Date) => JobSpec): Promise<void> => {
    try {
      await work;
    } catch (error) {
      if (error instanceof TenantBusyError) await enqueueJobs(deps.db, [next(new Date(Date.now() + error.retryInMs))]);
      else if (error instanceof WorkerStoppingError) await enqueueJobs(deps.db, [next()]);
      else throw error;
    }
  };
  return {
    deliver: typedTask('deliver', (job, { priority }) =>
      handOverNotStarted(deliver(job, priority), (runAt) => deliverJob(job.tenantId, job.deliveryId, { priority, ...(runAt ? { runAt } : {}) })),
    ),
    deliver_batch: typedTask('deliver_batch', ({ tenantId, deliveryIds }, { priority }) => deliverFirstAttempts(tenantId, deliveryIds, priority)),
    deliver_stream: typedTask('deliver_stream', (job) =>
      handOverNotStarted(drainStream(telemetry ? telemetry.forJob(deps, job) : deps, job), () =>
        job.drain ? drainJob(job.tenantId, job.subscriptionId) : streamJob(job.tenantId, job.subscriptionId, job.orderingKey),
      ),
    ),
    recover_subscription: typedTask('recover_subscription', (job) =>
      recoverFailedDeliveries(new TenantScope(deps.db, job.tenantId), job, deps.resendBudget),
    ),
    retry_deliveries: typedTask('retry_deliveries', (job) =>
      retryMatchingDeliveries(new TenantScope(deps.db, job.tenantId), job, deps.resendBudget),
    ),
    // On graphile-worker's connection, which is the tables' owner's and in no transaction (the sweep
    // detaches partitions CONCURRENTLY). A failed sweep is logged and the next one still scheduled:
    // it starts over from what is there.
    retention_sweep: typedTask('retention_sweep', async (_job, _priority, helpers) => {
      if (!maintenance) return;
      try {
        await helpers.withPgClient((client) => sweepRetention(client, maintenance.retention, maintenance.logger));
      } catch (error) {
        maintenance.logger.error({ err: error }, 'the retention sweep failed: it runs again at the next interval');
      } finally {
        await enqueueJobs(deps.db, [retentionSweepJob(maintenance.retention.sweepIntervalMs)]);
      }
    }),
  };
}
