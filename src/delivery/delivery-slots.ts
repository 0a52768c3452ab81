import PQueue from 'p-queue';

/** The worker is stopping: a delivery that had not started yet is not started here (its task hands it to a new job). */
export class WorkerStoppingError extends Error {
  override readonly name = 'WorkerStoppingError';
  constructor() {
    super('the worker is stopping: delivery not started');
  }
}

/**
 * A worker's delivery slots (WORKER_CONCURRENCY): how many deliveries it attempts at once, whatever
 * jobs carry them (a `deliver_batch` job carries several). A delivery waits for a slot before it is
 * claimed. Waiting deliveries start in graphile-worker priority order (lower first), then in
 * arrival order: a quiet tenant's job, picked ahead of a flooding tenant's, also starts ahead of
 * the flood's deliveries already waiting here.
 */
export class DeliverySlots {
  private readonly queue: PQueue;
  private closed = false;

  constructor(private readonly concurrency: number) {
    this.queue = new PQueue({ concurrency });
  }

  /** Slots neither taken nor waited for: none once closed. */
  get free(): number {
    return this.closed ? 0 : this.concurrency - this.queue.pending - this.queue.size;
  }

  run<T>(attempt: () => Promise<T>, jobPriority = 0): Promise<T> {
    // p-queue runs greater priorities first; graphile-worker runs lower ones first.
    return this.queue.add(
      () => {
        if (this.closed) throw new WorkerStoppingError();
        return attempt();
      },
      { priority: -jobPriority },
    );
  }

  /** Deliveries already started finish; those still waiting, and later ones, fail with WorkerStoppingError. */
  close(): void {
    this.closed = true;
  }
}
