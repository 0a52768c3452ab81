import type { TenantScope } from '../db/tenant-scope.js';
import { scheduleDeliveries } from './fan-out.js';

/** The recovery job: reopens the window's FAILED deliveries and schedules them in publish order. */
export async function reopenFailedDeliveries(scope: TenantScope, input: { subscriptionId: string; since: Date; until: Date }): Promise<number> {
  return scope.transaction(async (tx, executor) => {
    const subscription = await tx.subscriptions.find(input.subscriptionId);
    if (!subscription) return 0;
    const reopened = await tx.deliveries.reopenFailed(subscription.id, input.since, input.until);
    await scheduleDeliveries(scope.tenantId, executor, reopened, new Map([[subscription.id, subscription]]), { wakeStreams: true });
    return reopened.length;
  });
}
