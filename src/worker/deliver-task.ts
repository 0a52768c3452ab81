import type { Task } from 'graphile-worker';
import type { JobCatalogue } from '../db/jobs.js';
import { dispatchDelivery, type DispatchDependencies } from '../delivery/dispatch.js';

function isDeliverPayload(payload: unknown): payload is JobCatalogue['deliver'] {
  const candidate = payload as Partial<JobCatalogue['deliver']> | null;
  return typeof candidate?.tenantId === 'string' && typeof candidate.deliveryId === 'string';
}

/** The graphile-worker task: checks its payload and hands over to the dispatch pipeline. */
export function deliverTask(deps: DispatchDependencies): Task {
  return async (payload, helpers) => {
    if (!isDeliverPayload(payload)) {
      helpers.logger.error(`deliver job ${helpers.job.id} has a malformed payload; dropped`);
      return;
    }
    await dispatchDelivery(deps, payload);
  };
}
