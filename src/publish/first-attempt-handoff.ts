import type { HandedOffJobs } from './job-policy.js';
import type { DeliveryWork } from '../db/scoped/deliveries.js';

/** A handed-over `deliver_batch` job: its key, the deliveries of it that were written, its priority. */
export interface HandedOffJob {
  jobKey: string;
  deliveryIds: readonly string[];
  priority: number;
}

/** Room taken in the worker for one write's first attempts, until the write has committed or failed. */
export interface HandoffReservation extends HandedOffJobs {
  /** How the write claims the first attempts for the worker (as its ClaimBatcher would). */
  claimMs: number;
  countEveryClaim: boolean;
  /** The write committed: the worker attempts these now (`claimed`: their work, as claimed by the write), and completes their jobs when done. */
  start(tenantId: string, jobs: readonly HandedOffJob[], claimed: ReadonlyMap<string, DeliveryWork>): void;
  /** The write failed: the room is given back. */
  cancel(): void;
}

/**
 * With ROLE=all (WORKER_HANDOFF), the API hands a publish's first attempts to the worker in the same
 * process. The write claims them in its own statement and transaction (EventStore.writeAndClaim),
 * and once it has committed the worker attempts them at once: no NOTIFY, job fetch and lock, and no
 * claim of its own, before the first POST. Their `deliver_batch` jobs are written all the same, due
 * only after the claims have run out (HandedOffJobs), and completed once the attempts are recorded:
 * if the process dies first, any worker runs them then, as at-least-once requires.
 */
export interface FirstAttemptHandoff {
  /** Room for `count` first attempts of the tenant, or null when the worker has none for them (they go by job). */
  reserve(tenantId: string, count: number): HandoffReservation | null;
}
