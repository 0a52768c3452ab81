/**
 * Keeps one subscription from taking over a worker: at most `maxPerSubscription` of a process's
 * deliveries may be in flight to one subscription, so a receiver that hangs until the timeout
 * leaves the other slots to everyone else. A turned-away delivery waits a little longer each time
 * its subscription is still saturated, so a hanging receiver's backlog does not spin the queue.
 */
export class SubscriptionFairness {
  private readonly inFlight = new Map<string, number>();
  private readonly streaks = new Map<string, number>();

  constructor(
    private readonly maxPerSubscription: number,
    private readonly maxBackoffMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  tryEnter(subscriptionId: string): boolean {
    const current = this.inFlight.get(subscriptionId) ?? 0;
    if (current >= this.maxPerSubscription) return false;
    this.inFlight.set(subscriptionId, current + 1);
    this.streaks.delete(subscriptionId);
    return true;
  }

  leave(subscriptionId: string): void {
    const current = this.inFlight.get(subscriptionId) ?? 0;
    if (current <= 1) this.inFlight.delete(subscriptionId);
    else this.inFlight.set(subscriptionId, current - 1);
  }

  /** How long a delivery turned away now should wait: 50 ms doubling per refusal, jittered, capped. */
  backoffMs(subscriptionId: string): number {
    const streak = (this.streaks.get(subscriptionId) ?? 0) + 1;
    this.streaks.set(subscriptionId, Math.min(streak, 20));
    const base = Math.min(this.maxBackoffMs, 50 * 2 ** (streak - 1));
    return Math.round(base * (0.5 + this.random()));
  }
}
