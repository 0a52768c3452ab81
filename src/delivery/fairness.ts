import { BoundedMap } from '../bounded-map.js';

/**
 * Keeps one subscription from taking over a worker. A subscription may always have
 * `maxPerSubscription` deliveries in flight; beyond that only while at least that many of the
 * worker's slots stay free for everyone else. So a receiver that hangs until the timeout leaves
 * room for the others, while a lone busy subscription can still use most of the worker.
 * A turned-away delivery waits a little longer each time its subscription is still saturated, up
 * to a few times the subscription's usual attempt duration: a fast receiver's backlog comes back
 * within ~100 ms, a hanging receiver's backlog waits about as long as its attempts take and does
 * not spin the queue.
 *
 * A subscription whose attempts are quick may instead wait a moment in the worker for one of its
 * own slots (`enter`): its attempts end within milliseconds, and handing the slot over directly
 * costs nothing, where deferring costs a transaction and a job.
 */
/** Attempts this quick (moving average, ms) let a turned-away delivery wait in the worker. */
const QUICK_ATTEMPT_MS = 100;
/**
 * The shortest such wait. A first burst's attempts include connecting, so they look quick but
 * take longer than a few times their age: a shorter wait would defer some of a burst's deliveries
 * (a transaction and a job each, and a later start).
 */
const MIN_WAIT_MS = QUICK_ATTEMPT_MS;

export class SubscriptionFairness {
  private readonly streaks = new Map<string, number>();
  /** Moving average of each subscription's attempt durations (ms). */
  private readonly typicalMs = new BoundedMap<string, number>(10_000);
  /** When each subscription's attempts in flight started, oldest first: one entry per attempt. */
  private readonly startedAt = new Map<string, number[]>();
  /** Deliveries waiting in the worker for a slot of their subscription, first come first served. */
  private readonly waiters = new Map<string, (() => void)[]>();
  private total = 0;

  /**
   * @param concurrency the worker's slots; 0 (the default) allows no borrowing beyond the share.
   */
  constructor(
    private readonly maxPerSubscription: number,
    private readonly maxBackoffMs: number,
    private readonly random: () => number = Math.random,
    private readonly concurrency = 0,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The moving average of the subscription's attempt durations that finished here (ms), if any did. */
  typicalAttemptMs(subscriptionId: string): number | undefined {
    return this.typicalMs.get(subscriptionId);
  }

  /**
   * How long the subscription's attempts take, as far as this worker can tell: the moving average
   * of those that finished, or longer if one in flight has already run longer. Undefined when it
   * has neither (nothing known yet).
   */
  private expectedMs(subscriptionId: string): number | undefined {
    const typical = this.typicalMs.get(subscriptionId);
    const oldest = this.startedAt.get(subscriptionId)?.[0];
    if (oldest === undefined) return typical;
    return Math.max(typical ?? 0, this.now() - oldest);
  }

  tryEnter(subscriptionId: string): boolean {
    const starts = this.startedAt.get(subscriptionId) ?? [];
    const spareForOthers = this.concurrency - this.total - 1 >= this.maxPerSubscription;
    if (starts.length >= this.maxPerSubscription && !spareForOthers) return false;
    starts.push(this.now());
    this.startedAt.set(subscriptionId, starts);
    this.total += 1;
    return true;
  }

  /**
   * tryEnter, or for a subscription whose attempts usually take at most QUICK_ATTEMPT_MS, a wait
   * of a few attempt durations for one of its slots to be handed over. False: defer the delivery.
   */
  async enter(subscriptionId: string): Promise<boolean> {
    if (this.tryEnter(subscriptionId)) return true;
    const expected = this.expectedMs(subscriptionId);
    const queue = this.waiters.get(subscriptionId) ?? [];
    if (expected === undefined || expected > QUICK_ATTEMPT_MS || queue.length >= this.maxPerSubscription) return false;
    this.waiters.set(subscriptionId, queue);
    return new Promise<boolean>((resolve) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const index = queue.indexOf(grant);
        if (index >= 0) queue.splice(index, 1);
        if (queue.length === 0 && this.waiters.get(subscriptionId) === queue) this.waiters.delete(subscriptionId);
        resolve(false);
      }, Math.max(MIN_WAIT_MS, expected * 4));
      queue.push(grant);
    });
  }

  /** @param durationMs how long the attempt took, when one was made. */
  leave(subscriptionId: string, durationMs?: number): void {
    if (durationMs !== undefined) {
      const previous = this.typicalMs.get(subscriptionId);
      this.typicalMs.set(subscriptionId, previous === undefined ? durationMs : previous * 0.8 + durationMs * 0.2);
    }
    const starts = this.startedAt.get(subscriptionId);
    starts?.shift();
    const waiting = this.waiters.get(subscriptionId);
    const next = waiting?.shift();
    if (next) {
      // The slot goes straight to the subscription's next delivery: the counts do not change.
      if (waiting!.length === 0) this.waiters.delete(subscriptionId);
      const handedOver = starts ?? [];
      handedOver.push(this.now());
      this.startedAt.set(subscriptionId, handedOver);
      next();
      return;
    }
    this.total = Math.max(0, this.total - 1);
    const idle = !starts || starts.length === 0;
    if (idle) this.startedAt.delete(subscriptionId);
    // A delivery turned away after entering (maxInFlight, rate limit, tenant quota) made no attempt:
    // its refusal must keep lengthening the waits. Otherwise deliveries that race for the same
    // slots all wait the same short time, wake in the same poll, and turn each other away forever.
    if (durationMs === undefined) return;
    if (idle) {
      // Nothing of it in flight any more: the next refusal starts from a short wait again.
      this.streaks.delete(subscriptionId);
    } else {
      // A slot came free: the subscription is making progress, so waits shorten again.
      const streak = this.streaks.get(subscriptionId);
      if (streak !== undefined) this.streaks.set(subscriptionId, Math.max(0, streak - 1));
    }
  }

  /** How long a delivery turned away now should wait: 50 ms doubling per refusal, jittered, capped. */
  backoffMs(subscriptionId: string): number {
    const streak = (this.streaks.get(subscriptionId) ?? 0) + 1;
    this.streaks.set(subscriptionId, Math.min(streak, 20));
    const expected = this.expectedMs(subscriptionId);
    const cap = expected === undefined ? this.maxBackoffMs : Math.min(this.maxBackoffMs, Math.max(100, expected * 4));
    const base = Math.min(cap, 50 * 2 ** (streak - 1));
    return Math.round(base * (0.5 + this.random()));
  }
}
