import type { Database } from '../db/client.js';
import type { DeliveryWork } from '../db/scoped/deliveries.js';
import { TenantScope } from '../db/tenant-scope.js';

interface Waiting {
  deliveryId: string;
  resolve: (work: DeliveryWork | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Claims deliveries in batches: graphile-worker hands a worker its jobs several at a time, and the
 * claims those jobs make in the same turn of the event loop go to PostgreSQL as one statement per
 * tenant (hooklane_claim_deliveries) instead of one each. No claim waits for a timer: a batch
 * leaves as soon as the current turn ends.
 */
export class ClaimBatcher {
  private readonly waiting = new Map<string, Waiting[]>();
  private scheduled = false;

  constructor(
    private readonly db: Database,
    private readonly claimMs: number,
    private readonly maxBatch = 100,
  ) {}

  /** The delivery's work if this attempt claimed it, undefined if it cannot be attempted now. */
  claim(tenantId: string, deliveryId: string): Promise<DeliveryWork | undefined> {
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(tenantId) ?? [];
      queue.push({ deliveryId, resolve, reject });
      this.waiting.set(tenantId, queue);
      if (queue.length >= this.maxBatch) {
        this.waiting.delete(tenantId);
        void this.claimBatch(tenantId, queue);
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.waiting];
    this.waiting.clear();
    for (const [tenantId, batch] of batches) void this.claimBatch(tenantId, batch);
  }

  private async claimBatch(tenantId: string, batch: readonly Waiting[]): Promise<void> {
    try {
      const claimed = await new TenantScope(this.db, tenantId).deliveries.claimMany(
        batch.map((entry) => entry.deliveryId),
        this.claimMs,
      );
      // One job per delivery id claims it; a second job for the same id (a duplicate) gets nothing.
      for (const entry of batch) {
        const work = claimed.get(entry.deliveryId);
        claimed.delete(entry.deliveryId);
        entry.resolve(work);
      }
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}
