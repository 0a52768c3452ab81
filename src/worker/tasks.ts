import type { Task, TaskList } from 'graphile-worker';
import { z } from 'zod';
import type { JobCatalogue, JobName } from '../db/jobs.js';
import { TenantScope } from '../db/tenant-scope.js';
import { dispatchDelivery, drainStream, type DispatchDependencies } from '../delivery/dispatch.js';
import { WorkerStoppingError } from '../delivery/delivery-slots.js';
import { reopenFailedDeliveries } from '../delivery/recovery.js';
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
  recover_subscription: z.object({ tenantId: z.string(), subscriptionId: z.string(), since: z.string(), until: z.string() }),
};

function typedTask<Name extends JobName>(
  name: Name,
  handler: (payload: JobCatalogue[Name], job: { priority: number }) => Promise<unknown>,
): Task {
  return async (payload, helpers) => {
    const parsed = payloadSchemas[name].safeParse(payload);
    if (!parsed.success) {
      // Retrying cannot fix a malformed payload: log it and let the job complete.
      helpers.logger.error(`${name} job ${helpers.job.id} has a malformed payload; dropped`);
      return;
    }
    await handler(parsed.data, helpers.job);
  };
}

/**
 * The task handlers: thin, each handing its checked payload to the delivery engine. With
 * `telemetry`, delivery jobs are wrapped to record metrics and debug logs (see DeliveryTelemetry).
 */
export function taskList(deps: DispatchDependencies, telemetry?: DeliveryTelemetry): TaskList {
  const deliver = async (job: JobCatalogue['deliver'], priority: number): Promise<void> => {
    const outcome = await dispatchDelivery(telemetry ? telemetry.forJob(deps, job) : deps, job, 'delivery', priority);
    telemetry?.dispatched(job, outcome);
  };
  return {
    deliver: typedTask('deliver', (job, { priority }) => deliver(job, priority)),
    deliver_batch: typedTask('deliver_batch', async ({ tenantId, deliveryIds }, { priority }) => {
      // Side by side, each its own delivery; the worker's delivery slots bound how many run at once.
      const settled = await Promise.allSettled(deliveryIds.map((deliveryId) => deliver({ tenantId, deliveryId }, priority)));
      const failures = settled.filter((result) => result.status === 'rejected').map((result) => result.reason as unknown);
      // The database failed for some, or the worker is stopping: the job runs again later and
      // skips what is settled or claimed.
      if (failures.length > 0) {
        const cause = failures.find((failure) => !(failure instanceof WorkerStoppingError));
        const why = cause === undefined ? 'the worker is stopping' : cause instanceof Error ? cause.message : String(cause);
        throw new AggregateError(failures, `${failures.length} of ${deliveryIds.length} deliveries not attempted (${why}): the job is retried`);
      }
    }),
    deliver_stream: typedTask('deliver_stream', (job) => drainStream(telemetry ? telemetry.forJob(deps, job) : deps, job)),
    recover_subscription: typedTask('recover_subscription', (job) =>
      reopenFailedDeliveries(new TenantScope(deps.db, job.tenantId), {
        subscriptionId: job.subscriptionId,
        since: new Date(job.since),
        until: new Date(job.until),
      }),
    ),
  };
}
