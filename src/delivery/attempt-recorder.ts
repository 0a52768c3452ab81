import type { Database } from '../db/client.js';
import type { AttemptRecord } from '../db/scoped/deliveries.js';
import { TenantScope } from '../db/tenant-scope.js';
import { TenantBatches } from './tenant-batches.js';

/**
 * Records successful attempts in batches: the attempts that finish within a couple of
 * milliseconds of each other are written by one statement per tenant (one round trip, one
 * commit) instead of one transaction each. Each caller's promise settles when its own batch
 * is committed, so a job still completes only after its attempt is durable.
 */
export class AttemptRecorder {
  private readonly batches: TenantBatches<{ deliveryId: string; attempt: AttemptRecord }, void>;

  constructor(db: Database, lingerMs = 2, maxBatch = 100) {
    this.batches = new TenantBatches<{ deliveryId: string; attempt: AttemptRecord }, void>(
      async (tenantId, entries) => {
        await new TenantScope(db, tenantId).deliveries.recordSuccesses(entries);
        return entries.map((): void => undefined);
      },
      { lingerMs, maxBatch },
    );
  }

  recordSuccess(tenantId: string, deliveryId: string, attempt: AttemptRecord): Promise<void> {
    return this.batches.submit(tenantId, { deliveryId, attempt });
  }
}
