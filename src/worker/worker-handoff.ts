import type { Logger } from 'pino';
import type { Database } from '../db/client.js';
import type { DeliveryWork } from '../db/scoped/deliveries.js';
import { completeHandedOffJobs } from '../db/jobs.js';
import type { DeliverySlots } from '../delivery/delivery-slots.js';
import type { FirstAttemptHandoff, HandedOffJob, HandoffReservation } from '../publish/first-attempt-handoff.js';
import { TenantBatches } from '../delivery/tenant-batches.js';
import type { FirstAttemptsRunner } from './tasks.js';

/**
 * The worker's side of FirstAttemptHandoff: it takes a write's first attempts only while its
 * delivery slots have room for all of them at once, within the tenant's share (counting those
 * promised to writes still under way), so a handed-over delivery does not wait behind queued jobs
 * and a backlog keeps going by job, in priority order. Each job is run as its `deliver_batch` task would run it, then completed;
 * if that fails, the job stays, and a worker runs it when it falls due.
 */
export class WorkerHandoff implements FirstAttemptHandoff {
  private promised = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly completions: TenantBatches<string, void>;

  /**
   * @param holdMs how long a handed-over job waits before any worker may run it: longer than the
   * attempts' claims, so that it finds its deliveries settled unless this process died.
   */
  constructor(
    private readonly slots: DeliverySlots,
    private readonly runFirstAttempts: FirstAttemptsRunner,
    db: Database,
    private readonly holdMs: number,
    private readonly claimMs: number,
    private readonly countEveryClaim: boolean,
    private readonly logger: Logger,
  ) {
    this.completions = new TenantBatches<string, void>(
      async (_tenantId, jobKeys) => {
        await completeHandedOffJobs(db, jobKeys);
        return jobKeys.map((): void => undefined);
      },
      { lingerMs: 2, maxBatch: 100 },
    );
  }

  reserve(tenantId: string, count: number): HandoffReservation | null {
    // Closed slots (the worker is stopping) have no room.
    if (this.slots.roomFor(tenantId) - this.promised < count) return null;
    this.promised += count;
    let held = true;
    const release = () => {
      if (held) this.promised -= count;
      held = false;
    };
    return {
      runAt: new Date(Date.now() + this.holdMs),
      claimMs: this.claimMs,
      countEveryClaim: this.countEveryClaim,
      start: (tenantId, jobs, claimed) => {
        release();
        for (const job of jobs) this.track(this.run(tenantId, job, claimed));
      },
      cancel: release,
    };
  }

  /** Resolves once the first attempts taken are dealt with (with the slots closed, it takes no more). */
  async drained(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private async run(tenantId: string, job: HandedOffJob, claimed: ReadonlyMap<string, DeliveryWork>): Promise<void> {
    try {
      await this.runFirstAttempts(tenantId, job.deliveryIds, job.priority, claimed);
      await this.completions.submit(tenantId, job.jobKey);
    } catch (error) {
      this.logger.warn({ err: error, tenantId, jobKey: job.jobKey }, 'first attempts handed over in-process failed: their job runs when due');
    }
  }

  private track(work: Promise<void>): void {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }
}
