import { afterEach, describe, expect, it, vi } from 'vitest';
import { SubscriptionFairness } from '../../src/delivery/fairness.js';

const mid = () => 0.5;

describe('SubscriptionFairness', () => {
  it('admits at most maxPerSubscription deliveries per subscription at once', () => {
    const fairness = new SubscriptionFairness(2, 1_000, mid);
    expect(fairness.tryEnter('s1')).toBe(true);
    expect(fairness.tryEnter('s1')).toBe(true);
    expect(fairness.tryEnter('s1')).toBe(false);
    expect(fairness.tryEnter('s1')).toBe(false);
  });

  it('counts each subscription on its own: a saturated one leaves room for others', () => {
    const fairness = new SubscriptionFairness(1, 1_000, mid);
    expect(fairness.tryEnter('slow')).toBe(true);
    expect(fairness.tryEnter('slow')).toBe(false);
    expect(fairness.tryEnter('fast')).toBe(true);
    expect(fairness.tryEnter('other')).toBe(true);
  });

  it('leave frees a slot, and only one', () => {
    const fairness = new SubscriptionFairness(2, 1_000, mid);
    fairness.tryEnter('s1');
    fairness.tryEnter('s1');
    fairness.leave('s1');
    expect(fairness.tryEnter('s1')).toBe(true);
    expect(fairness.tryEnter('s1')).toBe(false);
    fairness.leave('s1');
    fairness.leave('s1');
    expect(fairness.tryEnter('s1')).toBe(true);
    expect(fairness.tryEnter('s1')).toBe(true);
    expect(fairness.tryEnter('s1')).toBe(false);
  });

  it('an unmatched leave does not create spare slots', () => {
    const fairness = new SubscriptionFairness(1, 1_000, mid);
    fairness.leave('s1');
    fairness.leave('s1');
    expect(fairness.tryEnter('s1')).toBe(true);
    expect(fairness.tryEnter('s1')).toBe(false);
  });

  it('backs off 50 ms doubling per refusal, capped at maxBackoffMs', () => {
    const fairness = new SubscriptionFairness(1, 1_000, mid);
    const waits = Array.from({ length: 8 }, () => fairness.backoffMs('s1'));
    expect(waits).toEqual([50, 100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it('jitters each wait within [0.5, 1.5) of the base', () => {
    const low = new SubscriptionFairness(1, 10_000, () => 0);
    const high = new SubscriptionFairness(1, 10_000, () => 0.999999);
    expect([low.backoffMs('s'), low.backoffMs('s'), low.backoffMs('s')]).toEqual([25, 50, 100]);
    expect([high.backoffMs('s'), high.backoffMs('s'), high.backoffMs('s')]).toEqual([75, 150, 300]);
    const random = new SubscriptionFairness(1, 10_000);
    for (let streak = 0; streak < 6; streak++) {
      const base = 50 * 2 ** streak;
      const wait = random.backoffMs('s');
      expect(wait).toBeGreaterThanOrEqual(base * 0.5);
      expect(wait).toBeLessThanOrEqual(base * 1.5);
    }
  });

  it('waits at most a few times the subscription\'s usual attempt duration (at least 100 ms)', () => {
    const fairness = new SubscriptionFairness(1, 15_000, mid);
    expect(fairness.tryEnter('fast')).toBe(true);
    fairness.leave('fast', 2);
    expect(fairness.tryEnter('fast')).toBe(true);
    const waits = Array.from({ length: 6 }, () => fairness.backoffMs('fast'));
    expect(Math.max(...waits)).toBe(100);
    expect(fairness.tryEnter('hanging')).toBe(true);
    fairness.leave('hanging', 15_000);
    expect(fairness.tryEnter('hanging')).toBe(true);
    const slowWaits = Array.from({ length: 12 }, () => fairness.backoffMs('hanging'));
    expect(Math.max(...slowWaits)).toBe(15_000);
  });

  it('the streak grows while the subscription stays saturated and resets once nothing of it is in flight', () => {
    let now = 0;
    const fairness = new SubscriptionFairness(1, 10_000, mid, 0, () => now);
    expect(fairness.tryEnter('s1')).toBe(true);
    // Its one attempt has run for 10 s: a slow subscription, waits may grow to the cap.
    now = 10_000;
    expect(fairness.tryEnter('s1')).toBe(false);
    expect(fairness.backoffMs('s1')).toBe(50);
    expect(fairness.backoffMs('s1')).toBe(100);
    // Still one in flight: a turned-away delivery keeps waiting longer.
    expect(fairness.tryEnter('s1')).toBe(false);
    expect(fairness.backoffMs('s1')).toBe(200);
    fairness.leave('s1', 10_000);
    expect(fairness.backoffMs('s1')).toBe(50);
  });

  it('a delivery turned away after entering (maxInFlight, rate limit) keeps the streak growing, so racers spread out', () => {
    let now = 0;
    const fairness = new SubscriptionFairness(4, 10_000, mid, 0, () => now);
    // Three deliveries enter together, and the database's in-flight count turns each of them away.
    for (let i = 0; i < 3; i++) expect(fairness.tryEnter('s1')).toBe(true);
    now = 1_000;
    const waits = [0, 1, 2].map(() => {
      const wait = fairness.backoffMs('s1');
      fairness.leave('s1'); // no attempt made
      return wait;
    });
    expect(waits).toEqual([50, 100, 200]);
    expect(fairness.backoffMs('s1')).toBe(400);
  });

  it('a first burst to a new subscription backs off briefly while its attempts are young, longer once they run long', () => {
    let now = 0;
    const fairness = new SubscriptionFairness(1, 15_000, mid, 0, () => now);
    expect(fairness.tryEnter('new')).toBe(true);
    now = 5;
    const young = Array.from({ length: 8 }, () => fairness.backoffMs('new'));
    expect(Math.max(...young)).toBe(100);
    // Running for 5 s: waits may grow to 4 × 5 s, here capped by the 15 s timeout.
    now = 5_000;
    const old = Array.from({ length: 8 }, () => fairness.backoffMs('new'));
    expect(Math.max(...old)).toBe(15_000);
  });

  it('lets a subscription borrow beyond its share while enough slots stay free for others', () => {
    // 8 slots, share 2: a lone subscription may use up to 8 - 2 = 6, leaving 2 for anyone else.
    const fairness = new SubscriptionFairness(2, 1_000, mid, 8);
    const admitted = Array.from({ length: 10 }, () => fairness.tryEnter('busy')).filter(Boolean).length;
    expect(admitted).toBe(6);
    expect(fairness.tryEnter('other')).toBe(true);
    expect(fairness.tryEnter('other')).toBe(true);
    expect(fairness.tryEnter('busy')).toBe(false);
    fairness.leave('busy');
    // One slot freed but only one spare remains for others: the busy subscription is over its share.
    expect(fairness.tryEnter('busy')).toBe(false);
    expect(fairness.tryEnter('third')).toBe(true);
  });

  it('streaks are per subscription', () => {
    const fairness = new SubscriptionFairness(1, 10_000, mid);
    fairness.backoffMs('a');
    fairness.backoffMs('a');
    expect(fairness.backoffMs('b')).toBe(50);
    expect(fairness.backoffMs('a')).toBe(200);
  });

  it('the streak stops growing: waits stay finite and stable under a huge cap', () => {
    const fairness = new SubscriptionFairness(1, Number.MAX_SAFE_INTEGER, mid);
    const waits = Array.from({ length: 40 }, () => fairness.backoffMs('s1'));
    expect(waits.every(Number.isFinite)).toBe(true);
    expect(waits[39]).toBe(waits[25]);
    expect(waits[39]).toBeLessThanOrEqual(50 * 2 ** 20);
  });

  describe('enter: a brief wait in the worker for a quick subscription', () => {
    // The waits are timers: fake ones, advanced by the test, so that nothing depends on the machine's speed.
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Whether `promise` has settled once pending callbacks have run, and with what. */
    const settled = async <T>(promise: Promise<T>): Promise<{ value: T } | undefined> => {
      let result: { value: T } | undefined;
      void promise.then((value) => (result = { value }));
      await vi.advanceTimersByTimeAsync(0);
      return result;
    };

    it('waits for a slot when the subscription\'s attempt in flight is young, as in a first burst', async () => {
      const fairness = new SubscriptionFairness(1, 1_000, mid);
      expect(await fairness.enter('s1')).toBe(true);
      const waiting = fairness.enter('s1');
      fairness.leave('s1', 3);
      expect(await waiting).toBe(true);
    });

    it('refuses at once when the attempt in flight has run longer than a quick one', async () => {
      vi.useFakeTimers();
      let now = 0;
      const fairness = new SubscriptionFairness(1, 1_000, mid, 0, () => now);
      expect(await fairness.enter('s1')).toBe(true);
      now = 500;
      // Settled without any timer: no wait was started.
      const refused = fairness.enter('s1');
      expect(vi.getTimerCount()).toBe(0);
      expect(await settled(refused)).toEqual({ value: false });
    });

    it('hands a finishing attempt\'s slot to the next waiting delivery of the same subscription', async () => {
      const fairness = new SubscriptionFairness(1, 1_000, mid);
      expect(fairness.tryEnter('quick')).toBe(true);
      fairness.leave('quick', 5);
      expect(await fairness.enter('quick')).toBe(true);
      const waiting = fairness.enter('quick');
      fairness.leave('quick', 5);
      expect(await waiting).toBe(true);
      // The slot was handed over, not freed: the subscription is still at its share.
      expect(fairness.tryEnter('quick')).toBe(false);
      fairness.leave('quick', 5);
      expect(fairness.tryEnter('quick')).toBe(true);
    });

    it('gives up after a few attempt durations (at least 100 ms) when no slot comes free', async () => {
      vi.useFakeTimers();
      const now = 0;
      const fairness = new SubscriptionFairness(1, 1_000, mid, 0, () => now);
      fairness.tryEnter('quick');
      fairness.leave('quick', 10);
      expect(fairness.tryEnter('quick')).toBe(true);
      const waiting = fairness.enter('quick');
      // Four 10 ms attempts would be 40 ms; the shortest wait is 100 ms.
      await vi.advanceTimersByTimeAsync(99);
      expect(await settled(waiting)).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(await settled(waiting)).toEqual({ value: false });
      // The abandoned wait left nothing behind: the next leave frees the slot for anyone.
      fairness.leave('quick', 10);
      expect(fairness.tryEnter('quick')).toBe(true);
    });

    it('waits four times a quick subscription\'s usual attempt when that is longer than 100 ms', async () => {
      vi.useFakeTimers();
      const now = 0;
      const fairness = new SubscriptionFairness(1, 1_000, mid, 0, () => now);
      fairness.tryEnter('quick');
      fairness.leave('quick', 40);
      expect(fairness.tryEnter('quick')).toBe(true);
      const waiting = fairness.enter('quick');
      await vi.advanceTimersByTimeAsync(159);
      expect(await settled(waiting)).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(await settled(waiting)).toEqual({ value: false });
    });

    it('never waits for a slow subscription: its deliveries are deferred as before', async () => {
      vi.useFakeTimers();
      const now = 0;
      const fairness = new SubscriptionFairness(1, 1_000, mid, 0, () => now);
      fairness.tryEnter('slow');
      fairness.leave('slow', 5_000);
      expect(fairness.tryEnter('slow')).toBe(true);
      const refused = fairness.enter('slow');
      expect(vi.getTimerCount()).toBe(0);
      expect(await settled(refused)).toEqual({ value: false });
    });
  });
});
