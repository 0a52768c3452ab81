interface Queued<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

/**
 * Requests to PostgreSQL gathered per tenant and sent as one statement each: those that arrive
 * within `lingerMs` of the first (0: in the same turn of the event loop), or at once when
 * `maxBatch` are waiting. `work` answers a batch with one result per item, in order; if it
 * throws, every item of the batch gets the error.
 */
export class TenantBatches<Item, Result> {
  private readonly waiting = new Map<string, Queued<Item, Result>[]>();
  private scheduled = false;

  constructor(
    private readonly work: (tenantId: string, items: readonly Item[]) => Promise<Result[]>,
    private readonly options: { lingerMs: number; maxBatch: number },
  ) {}

  submit(tenantId: string, item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(tenantId) ?? [];
      queue.push({ item, resolve, reject });
      this.waiting.set(tenantId, queue);
      if (queue.length >= this.options.maxBatch) {
        this.waiting.delete(tenantId);
        void this.send(tenantId, queue);
      } else if (!this.scheduled) {
        this.scheduled = true;
        if (this.options.lingerMs === 0) setImmediate(() => this.flush());
        else setTimeout(() => this.flush(), this.options.lingerMs);
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.waiting];
    this.waiting.clear();
    for (const [tenantId, batch] of batches) void this.send(tenantId, batch);
  }

  private async send(tenantId: string, batch: readonly Queued<Item, Result>[]): Promise<void> {
    try {
      const results = await this.work(tenantId, batch.map((entry) => entry.item));
      batch.forEach((entry, index) => entry.resolve(results[index]!));
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}
