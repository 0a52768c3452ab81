import { describe, expect, it } from 'vitest';
import { BacklogEstimates } from '../../src/publish/backlog-estimate.js';

describe('BacklogEstimates', () => {
  it('counts once per refresh interval and adds what was enqueued in between', async () => {
    let now = 0;
    let counts = 0;
    const estimates = new BacklogEstimates(1_000, 100, () => now);
    const count = async () => {
      counts++;
      return 40;
    };
    expect(await estimates.current('t1', count)).toBe(40);
    estimates.added('t1', 10);
    now = 999;
    expect(await estimates.current('t1', count)).toBe(50);
    expect(counts).toBe(1);
    now = 1_000;
    expect(await estimates.current('t1', count)).toBe(40);
    expect(counts).toBe(2);
  });

  it('keeps tenants apart, and adds nothing to a tenant it has not counted', async () => {
    const estimates = new BacklogEstimates(1_000, 100, () => 0);
    estimates.added('t2', 5);
    expect(await estimates.current('t1', async () => 3)).toBe(3);
    expect(await estimates.current('t2', async () => 7)).toBe(7);
  });

  it('forgets everything rather than grow past maxTenants', async () => {
    let counts = 0;
    const estimates = new BacklogEstimates(1_000, 2, () => 0);
    const count = async () => ++counts;
    await estimates.current('a', count);
    await estimates.current('b', count);
    await estimates.current('c', count);
    expect(await estimates.current('a', count)).toBe(4);
  });

  it('counts once for concurrent publishes: the first ones share the first count, later ones take the known estimate while it is refreshed', async () => {
    let now = 0;
    let counts = 0;
    const estimates = new BacklogEstimates(1_000, 100, () => now);
    let finish: (value: number) => void = () => {};
    const count = () => {
      counts++;
      return new Promise<number>((resolve) => (finish = resolve));
    };
    const first = [estimates.current('t1', count), estimates.current('t1', count), estimates.current('t1', count)];
    finish(40);
    expect(await Promise.all(first)).toEqual([40, 40, 40]);
    expect(counts).toBe(1);

    now = 1_500;
    const refreshing = estimates.current('t1', count);
    expect(await estimates.current('t1', count)).toBe(40);
    expect(await estimates.current('t1', count)).toBe(40);
    expect(counts).toBe(2);
    finish(70);
    expect(await refreshing).toBe(70);
    expect(await estimates.current('t1', count)).toBe(70);
    expect(counts).toBe(2);
  });

  it('counts for itself when the shared first count fails, and lets the next publish count again', async () => {
    const estimates = new BacklogEstimates(1_000, 100, () => 0);
    let fail: (error: Error) => void = () => {};
    const failing = () => new Promise<number>((_resolve, reject) => (fail = reject));
    const owner = estimates.current('t1', failing);
    const waiting = estimates.current('t1', async () => 9);
    fail(new Error('transaction aborted'));
    await expect(owner).rejects.toThrow('transaction aborted');
    expect(await waiting).toBe(9);
    expect(await estimates.current('t1', async () => 99)).toBe(9);
  });
});
