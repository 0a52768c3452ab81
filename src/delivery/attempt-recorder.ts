import type { Database } from '../db/client.js';
import type { AttemptRecord } from '../db/scoped/deliveries.js';
import { TenantScope } from '../db/tenant-scope.js';

interface Pending {
  deliveryId: string;
  attempt: AttemptRecord;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Records successful attempts in batches: the attempts that finish within a couple of
 * milliseconds of each other are written by one statement per tenant (one round trip, one
 * commit) instead of one transaction each. Each caller's promise settles when its own batch
 * is committed, so a job still completes only after its attempt is durable.
 */
export class AttemptRecorder {
  private readonly pending = new Map<string, Pending[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly lingerMs = 2,
    private readonly maxBatch = 100,
  ) {}

  recordSuccess(tenantId: string, deliveryId: string, attempt: AttemptRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      const queue = this.pending.get(tenantId) ?? [];
      queue.push({ deliveryId, attempt, resolve, reject });
      this.pending.set(tenantId, queue);
      if (queue.length >= this.maxBatch) void this.flushTenant(tenantId);
      else this.timer ??= setTimeout(() => this.flushAll(), this.lingerMs);
    });
  }

  /** Writes everything pending now (used at shutdown, after the last attempts). */
  async flushAll(): Promise<void> {
    this.timer = undefined;
    await Promise.all([...this.pending.keys()].map((tenantId) => this.flushTenant(tenantId)));
  }

  private async flushTenant(tenantId: string): Promise<void> {
    const batch = this.pending.get(tenantId);
    if (!batch || batch.length === 0) return;
    this.pending.delete(tenantId);
    try {
      await new TenantScope(this.db, tenantId).deliveries.recordSuccesses(batch);
      for (const entry of batch) entry.resolve();
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}
