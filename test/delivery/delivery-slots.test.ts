import { describe, expect, it } from 'vitest';
import { DeliverySlots, TenantBusyError, WorkerStoppingError } from '../../src/delivery/delivery-slots.js';

/** An attempt that runs until released, recording when it started. */
function gate(started: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    attempt: async () => {
      started.push(name);
      await done;
      return name;
    },
    release: () => release(),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Slots on an injected clock, with a tenant whose attempts are known to take `tenantMs` (ms) each. */
function slotsWithClock(concurrency: number, tenantShare: number) {
  const clock = { now: 0 };
  const slots = new DeliverySlots({ concurrency, tenantShare, maxBackoffMs: 15_000, random: () => 0.5, now: () => clock.now });
  /** Runs one attempt of `tenantId` that the clock says took `ms`: afterwards its attempts are known to take about that long. */
  const teach = async (tenantId: string, ms: number) => {
    await slots.run(tenantId, async () => {
      clock.now += ms;
    });
  };
  return { slots, clock, teach };
}

describe('DeliverySlots', () => {
  it('a tenant alone holds all but a share of the slots; the share stays free for another tenant, who starts at once', async () => {
    const { slots, teach } = slotsWithClock(8, 2);
    await teach('slow', 10_000);
    const started: string[] = [];
    const gates = Array.from({ length: 6 }, (_, n) => gate(started, `slow${n}`));
    const running = gates.map((g) => slots.run('slow', g.attempt));
    await settle();
    expect(started).toHaveLength(6);
    expect(slots.roomFor('slow')).toBe(0);
    expect(slots.roomFor('quiet')).toBe(2);

    // Its attempts take seconds: the next one goes back to the queue rather than wait here.
    await expect(slots.run('slow', async () => 'never')).rejects.toBeInstanceOf(TenantBusyError);
    const quiet = [gate(started, 'quiet0'), gate(started, 'quiet1')];
    const quietRuns = quiet.map((g) => slots.run('quiet', g.attempt));
    await settle();
    expect(started.slice(6)).toEqual(['quiet0', 'quiet1']);

    for (const g of [...gates, ...quiet]) g.release();
    expect(await Promise.all(running)).toEqual(gates.map((_, n) => `slow${n}`));
    expect(await Promise.all(quietRuns)).toEqual(['quiet0', 'quiet1']);
  });

  it('a slot that comes free goes to the waiting tenant with the fewest slots, not to the borrower waiting first', async () => {
    const { slots, teach } = slotsWithClock(4, 1);
    await teach('busy', 5);
    const started: string[] = [];
    const busy = Array.from({ length: 5 }, (_, n) => gate(started, `busy${n}`));
    const busyRuns = busy.map((g) => slots.run('busy', g.attempt));
    const other = gate(started, 'other');
    const otherRun = slots.run('other', other.attempt);
    await settle();
    // 'busy' borrowed 3 (all but one share), 'other' took the last; busy3 and busy4 wait (quick attempts).
    expect(started).toEqual(['busy0', 'busy1', 'busy2', 'other']);

    const late = gate(started, 'late');
    const lateRun = slots.run('late', late.attempt);
    await settle();
    expect(started).toHaveLength(4);
    busy[0]!.release();
    await settle();
    // The free slot goes to the tenant that holds none, ahead of 'busy', whose deliveries came first.
    expect(started.at(-1)).toBe('late');
    // The next one stays free for another tenant: 'busy' borrows only while a share is left free.
    busy[1]!.release();
    await settle();
    expect(started.at(-1)).toBe('late');
    expect(slots.roomFor('another')).toBe(1);
    other.release();
    await settle();
    expect(started.at(-1)).toBe('busy3');

    for (const g of [...busy, other, late]) g.release();
    await Promise.all([...busyRuns, otherRun, lateRun]);
    expect(started).toEqual(['busy0', 'busy1', 'busy2', 'other', 'late', 'busy3', 'busy4']);
  });

  it("deliveries beyond a tenant's share wait while they can expect a slot within a second, and go back once their attempts turn slow", async () => {
    const { slots, clock, teach } = slotsWithClock(4, 1);
    await teach('tenant', 5);
    const started: string[] = [];
    const gates = Array.from({ length: 8 }, (_, n) => gate(started, `d${n}`));
    const runs = gates.map((g) => slots.run('tenant', g.attempt).catch((error: unknown) => error));
    await settle();
    // Three slots (all but a share), five deliveries waiting for them: attempts of 5 ms free them soon.
    expect(started).toEqual(['d0', 'd1', 'd2']);
    gates[0]!.release();
    await settle();
    expect(started).toEqual(['d0', 'd1', 'd2', 'd3']);

    // The attempts in flight have run 400 ms: two rounds of three fit in a second, all four stay.
    clock.now += 400;
    slots.review();
    await settle();
    // At 600 ms one round fits: three stay, the last one goes back, for about as long as it would have waited.
    clock.now += 200;
    slots.review();
    const late = await runs[7];
    expect(late).toBeInstanceOf(TenantBusyError);
    expect((late as TenantBusyError).retryInMs).toBe(1_200);
    // Beyond a second, none of them can expect a slot in time.
    clock.now += 500;
    slots.review();
    for (const run of runs.slice(4, 7)) expect(await run).toBeInstanceOf(TenantBusyError);
    for (const g of gates) g.release();
    expect(await Promise.all(runs.slice(0, 4))).toEqual(['d0', 'd1', 'd2', 'd3']);
    expect(started).toEqual(['d0', 'd1', 'd2', 'd3']);
  });

  it('a tenant under its share, and a delivery already claimed, wait for their slot however slow the others are', async () => {
    const { slots, clock, teach } = slotsWithClock(2, 1);
    await teach('slow', 10_000);
    const started: string[] = [];
    const slow = gate(started, 'slow');
    const other = gate(started, 'other');
    const waiting = gate(started, 'waiting');
    const claimed = gate(started, 'claimed');
    const runs = [
      slots.run('slow', slow.attempt),
      slots.run('other', other.attempt),
      slots.run('newcomer', waiting.attempt),
      slots.run('slow', claimed.attempt, false),
    ];
    await settle();
    expect(started).toEqual(['slow', 'other']);
    clock.now += 60_000;
    slots.review();
    other.release();
    await settle();
    expect(started).toEqual(['slow', 'other', 'waiting']);
    slow.release();
    await settle();
    expect(started).toEqual(['slow', 'other', 'waiting', 'claimed']);
    waiting.release();
    claimed.release();
    expect(await Promise.all(runs)).toEqual(['slow', 'other', 'waiting', 'claimed']);
  });

  it('a delivery that would wait longer than a second goes back at once, for about as long as it would have waited', async () => {
    const { slots, teach } = slotsWithClock(2, 1);
    await teach('slow', 1_000);
    const started: string[] = [];
    const holder = gate(started, 'holder');
    const holding = slots.run('slow', holder.attempt);
    const next = gate(started, 'next');
    // One attempt of a second in flight: the next delivery can expect a slot within a second.
    const nextRun = slots.run('slow', next.attempt);
    await settle();
    const error = await slots.run('slow', async () => 'never').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TenantBusyError);
    expect((error as TenantBusyError).retryInMs).toBe(2_000);
    holder.release();
    await settle();
    expect(started).toEqual(['holder', 'next']);
    next.release();
    await Promise.all([holding, nextRun]);
  });

  it('after close(), lets started deliveries finish and refuses the waiting and later ones with WorkerStoppingError', async () => {
    const slots = new DeliverySlots({ concurrency: 1, tenantShare: 1, maxBackoffMs: 1_000 });
    const started: string[] = [];
    const running = gate(started, 'running');
    const waiting = gate(started, 'waiting');
    const first = slots.run('t', running.attempt);
    const second = slots.run('other', waiting.attempt);
    await settle();
    slots.close();
    expect(slots.roomFor('t')).toBe(0);
    running.release();
    expect(await first).toBe('running');
    await expect(second).rejects.toBeInstanceOf(WorkerStoppingError);
    await expect(slots.run('t', async () => 'later')).rejects.toBeInstanceOf(WorkerStoppingError);
    expect(started).toEqual(['running']);
  });
});
