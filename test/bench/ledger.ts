/**
 * The run's ledger: every published event with the subscriptions (receiver paths) it must reach,
 * checked at the end against what the receiver got. A run whose ledger does not balance — a
 * delivery missing, or one that was never published — is void.
 */
export interface LedgerResult {
  /** Events published. */
  published: number;
  /** Deliveries those events owe: events × matching subscriptions. */
  expected: number;
  /** Distinct (webhook-id, subscription) pairs received that were expected. */
  delivered: number;
  missing: number;
  /** Requests beyond the first for a (webhook-id, subscription) pair. */
  duplicates: number;
  /** Distinct pairs received that no publish accounts for. */
  unexpected: number;
  balanced: boolean;
}

export class Ledger {
  /** Event id → receiver paths it must reach. */
  private readonly owed = new Map<string, readonly string[]>();
  private expectedCount = 0;

  /** Records published events; `paths` are the receiver paths of the matching subscriptions. */
  record(eventIds: readonly string[], paths: readonly string[]): void {
    for (const id of eventIds) {
      if (this.owed.has(id)) throw new Error(`event ${id} published twice`);
      this.owed.set(id, paths);
      this.expectedCount += paths.length;
    }
  }

  get published(): number {
    return this.owed.size;
  }

  get expected(): number {
    return this.expectedCount;
  }

  /** `received` maps "webhookId path" to the number of requests. */
  settle(received: ReadonlyMap<string, number>): LedgerResult & { missingSample: string[] } {
    let delivered = 0;
    let missing = 0;
    const missingSample: string[] = [];
    for (const [id, paths] of this.owed) {
      for (const path of paths) {
        if (received.has(`${id} ${path}`)) delivered++;
        else {
          missing++;
          if (missingSample.length < 5) missingSample.push(`${id} ${path}`);
        }
      }
    }
    let duplicates = 0;
    let receivedPairs = 0;
    for (const count of received.values()) {
      receivedPairs++;
      duplicates += count - 1;
    }
    const unexpected = receivedPairs - delivered;
    return {
      published: this.published,
      expected: this.expectedCount,
      delivered,
      missing,
      duplicates,
      unexpected,
      balanced: missing === 0 && unexpected === 0,
      missingSample,
    };
  }
}
