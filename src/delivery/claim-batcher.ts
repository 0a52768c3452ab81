import type { Database } from '../db/client.js';
import type { DeliveryWork } from '../db/scoped/deliveries.js';
import { TenantScope } from '../db/tenant-scope.js';
import { TenantBatches } from './tenant-batches.js';

/**
 * Claims deliveries in batches: graphile-worker hands a worker its jobs several at a time, and the
 * claims those jobs make in the same turn of the event loop go to PostgreSQL as one statement per
 * tenant (hooklane_claim_deliveries) instead of one each. No claim waits for a timer: a batch
 * leaves as soon as the current turn ends.
 */
export class ClaimBatcher {
  private readonly batches: TenantBatches<string, DeliveryWork | undefined>;

  /**
   * @param countEveryClaim a default tenant in-flight quota is configured: every claim is counted
   * (otherwise only those of subscriptions with maxInFlight and tenants with their own quota).
   */
  constructor(db: Database, claimMs: number, countEveryClaim: boolean, maxBatch = 100) {
    this.batches = new TenantBatches(
      async (tenantId, deliveryIds) => {
        const claimed = await new TenantScope(db, tenantId).deliveries.claimMany(deliveryIds, claimMs, countEveryClaim);
        // One job per delivery id claims it; a second job for the same id (a duplicate) gets nothing.
        return deliveryIds.map((id) => {
          const work = claimed.get(id);
          claimed.delete(id);
          return work;
        });
      },
      { lingerMs: 0, maxBatch },
    );
  }

  /** The delivery's work if this attempt claimed it, undefined if it cannot be attempted now. */
  claim(tenantId: string, deliveryId: string): Promise<DeliveryWork | undefined> {
    return this.batches.submit(tenantId, deliveryId);
  }
}
