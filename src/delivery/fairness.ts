/**
 * Keeps one subscription from taking over a worker. A subscription may always have
 * `maxPerSubscription` deliveries in flight; beyond that only while at least that many of the
 * worker's slots stay free for everyone else. So a receiver that hangs until the timeout leaves
 * room for the others, while a lone busy subscription can still use most of the worker.
 * A turned-away delivery waits a little longer each time its subscription is still saturated, up
 * to a few times the subscription's usual attempt duration: a fast receiver's backlog comes back
 * within ~100 ms, a hanging receiver's backlog waits about as long as its attempts take and does
 * not spin the queue.
 */
export class SubscriptionFairness {
  private readonly inFlight = new Map<string, number>();
  private readonly streaks = new Map<string, number>();
  /** Moving average of each subscription's attempt durations (ms). */
  private readonly typicalMs = new Map<string, number>();
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

  /** @param durationMs how long the attempt took, when one was made. */
  leave(subscriptionId: string, durationMs?: number): void {
    const current = this.inFlight.get(subscriptionId) ?? 0;
    this.total = Math.max(0, this.total - 1);
    if (durationMs !== undefined) {
      const previous = this.typicalMs.get(subscriptionId);
      this.typicalMs.set(subscriptionId, previous === undefined ? durationMs : previous * 0.8 + durationMs * 0.2);
      if (this.typicalMs.size > 10_000) this.typicalMs.clear();
    }
    if (current <= 1) {
      this.inFlight.delete(subscriptionId);
      // Nothing of it in flight any more: the next refusal starts from a short wait again.
      this.streaks.delete(subscriptionId);
    } else {
      this.inFlight.set(subscriptionId, current - 1);
      // A slot came free: the subscription is making progress, so waits shorten again.
      const streak = this.streaks.get(subscriptionId);
      if (streak !== undefined) this.streaks.set(subscriptionId, Math.max(0, streak - 1));
    }
  }

  /** How long a delivery turned away now should wait: 50 ms doubling per refusal, jittered, capped. */
  backoffMs(subscriptionId: string): number {
    const streak = (this.streaks.get(subscriptionId) ?? 0) + 1;
    this.streaks.set(subscriptionId, Math.min(streak, 20));
    const typical = this.typicalMs.get(subscriptionId);
    const cap = typical === undefined ? this.maxBackoffMs : Math.min(this.maxBackoffMs, Math.max(100, typical * 4));
    const base = Math.min(cap, 50 * 2 ** (streak - 1));
    return Math.round(base * (0.5 + this.random()));
  }
}
