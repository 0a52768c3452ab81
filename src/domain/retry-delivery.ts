import { NotFoundError } from '../errors.js';
import { deliveryJobKey, enqueueJobs } from '../db/jobs.js';
import type { DeliveryRow } from '../db/schema.js';
import type { TenantScope } from '../db/tenant-scope.js';

/** Sends a delivery again now; the job key keeps it to one pending job per delivery. */
export async function retryDelivery(scope: TenantScope, id: string): Promise<DeliveryRow> {
  return scope.transaction(async (tx, executor) => {
    const now = new Date();
    const delivery = await tx.deliveries.markPending(id, now);
    if (!delivery) throw new NotFoundError('Delivery', id);
    await enqueueJobs(executor, [
      { task: 'deliver', payload: { tenantId: scope.tenantId, deliveryId: id }, jobKey: deliveryJobKey(id), runAt: now },
    ]);
    return delivery;
  });
}
