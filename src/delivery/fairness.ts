/**
 * Keeps one subscription from taking over a worker. A subscription may always have
 * `maxPerSubscription` deliveries in flight; beyond that only while at least that many of the
 * worker's slots stay free for everyone else. So a receiver that hangs until the timeout leaves
 * room for the others, while a lone busy subscription can still use most of the worker.
 * A turned-away delivery waits a little longer each time its subscription is still saturated, so
 * a hanging receiver's backlog does not spin the queue.
 */
export class SubscriptionFairness {
  private readonly inFlight = new Map<string, number>();
  private readonly streaks = new Map<string, number>();
  private total = 0;

  /**
   * @param concurrency the worker's slots; 0 (the default) allows no borrowing beyond the share.
   */
  constructor(
    private readonly maxPerSubscription: number,
    private readonly maxBackoffMs: number,
    private readonly random: () => number = Math.random,
    private readonly concurrency = 0,
  ) {}

  tryEnter(subscriptionId: string): boolean {
    const current = this.inFlight.get(subscriptionId) ?? 0;
    const spareForOthers = this.concurrency - this.total - 1 >= this.maxPerSubscription;
    if (current >= this.maxPerSubscription && !spareForOthers) return false;
    this.inFlight.set(subscriptionId, current + 1);
    this.total += 1;
    return true;
  }

  leave(subscriptionId: string): void {
    const current = this.inFlight.get(subscriptionId) ?? 0;
    this.total = Math.max(0, this.total - 1);
    if (current <= 1) {
      this.inFlight.delete(subscriptionId);
      // Nothing of it in flight any more: the next refusal starts from a short wait again.
      this.streaks.delete(subscriptionId);
    } else this.inFlight.set(subscriptionId, current - 1);
  }

  /** How long a delivery turned away now should wait: 50 ms doubling per refusal, jittered, capped. */
  backoffMs(subscriptionId: string): number {
    const streak = (this.streaks.get(subscriptionId) ?? 0) + 1;
    this.streaks.set(subscriptionId, Math.min(streak, 20));
    const base = Math.min(this.maxBackoffMs, 50 * 2 ** (streak - 1));
    return Math.round(base * (0.5 + this.random()));
  }
}
