import { describe, expect, it } from 'vitest';
import { DeliverySlots, WorkerStoppingError } from '../../src/delivery/delivery-slots.js';

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

describe('DeliverySlots', () => {
  it('runs at most its concurrency at once; waiting deliveries start by job priority (lower first), then in arrival order', async () => {
    const slots = new DeliverySlots(2);
    const started: string[] = [];
    const gates = Object.fromEntries(['a', 'b', 'flood1', 'flood2', 'quiet', 'flood3'].map((name) => [name, gate(started, name)]));
    const results = [
      slots.run(gates.a!.attempt, 12),
      slots.run(gates.b!.attempt, 12),
      slots.run(gates.flood1!.attempt, 12),
      slots.run(gates.flood2!.attempt, 12),
      slots.run(gates.quiet!.attempt, 0),
      slots.run(gates.flood3!.attempt, 12),
    ];
    await settle();
    expect(started).toEqual(['a', 'b']);

    gates.a!.release();
    await settle();
    // The quiet tenant's delivery (priority 0) overtakes the flood's, which keep their order.
    expect(started).toEqual(['a', 'b', 'quiet']);
    for (const name of ['b', 'quiet', 'flood1', 'flood2', 'flood3']) {
      gates[name]!.release();
      await settle();
    }
    expect(started).toEqual(['a', 'b', 'quiet', 'flood1', 'flood2', 'flood3']);
    expect(await Promise.all(results)).toEqual(['a', 'b', 'flood1', 'flood2', 'quiet', 'flood3']);
  });

  it('after close(), lets started deliveries finish and refuses the waiting and later ones with WorkerStoppingError', async () => {
    const slots = new DeliverySlots(1);
    const started: string[] = [];
    const running = gate(started, 'running');
    const waiting = gate(started, 'waiting');
    const first = slots.run(running.attempt);
    const second = slots.run(waiting.attempt);
    await settle();
    slots.close();
    running.release();
    expect(await first).toBe('running');
    await expect(second).rejects.toBeInstanceOf(WorkerStoppingError);
    await expect(slots.run(async () => 'later')).rejects.toBeInstanceOf(WorkerStoppingError);
    expect(started).toEqual(['running']);
  });
});
