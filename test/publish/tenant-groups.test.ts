import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TenantScope } from '../../src/db/tenant-scope.js';
import { TenantGroups, type Settled } from '../../src/publish/tenant-groups.js';

const scopeOf = (tenantId: string) => ({ tenantId }) as TenantScope;

/** Work whose groups finish only when the test says so. */
function controlledWork() {
  const groups: { items: readonly number[]; finish: (settled?: Settled<string>[]) => void; fail: (error: Error) => void }[] = [];
  const work = (_scope: TenantScope, items: readonly number[]) =>
    new Promise<Settled<string>[]>((resolve, reject) => {
      groups.push({
        items,
        finish: (settled) => resolve(settled ?? items.map((item) => ({ ok: true, value: `done ${item}` }))),
        fail: reject,
      });
    });
  return { groups, work };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('TenantGroups', () => {
  it('sends a request at once when nothing of its tenant is under way, and the ones that arrive meanwhile as one group', async () => {
    const { groups, work } = controlledWork();
    const tenantGroups = new TenantGroups(work, { maxInFlight: 1, maxWeight: 100, weight: () => 1 });
    const first = tenantGroups.submit(scopeOf('t1'), 1);
    const rest = [2, 3, 4].map((item) => tenantGroups.submit(scopeOf('t1'), item));
    expect(groups.map((group) => group.items)).toEqual([[1]]);
    groups[0]!.finish();
    expect(await first).toBe('done 1');
    await tick();
    expect(groups.map((group) => group.items)).toEqual([[1], [2, 3, 4]]);
    groups[1]!.finish();
    expect(await Promise.all(rest)).toEqual(['done 2', 'done 3', 'done 4']);
  });

  it('keeps tenants apart: another tenant does not wait', async () => {
    const { groups, work } = controlledWork();
    const tenantGroups = new TenantGroups(work, { maxInFlight: 1, maxWeight: 100, weight: () => 1 });
    void tenantGroups.submit(scopeOf('t1'), 1);
    void tenantGroups.submit(scopeOf('t2'), 2);
    expect(groups.map((group) => group.items)).toEqual([[1], [2]]);
    groups.forEach((group) => group.finish());
  });

  it('gives each item its own outcome, and every item the error when the group throws', async () => {
    const { groups, work } = controlledWork();
    const tenantGroups = new TenantGroups(work, { maxInFlight: 1, maxWeight: 100, weight: () => 1 });
    const blocker = tenantGroups.submit(scopeOf('t1'), 0);
    const a = tenantGroups.submit(scopeOf('t1'), 1);
    const b = tenantGroups.submit(scopeOf('t1'), 2);
    groups[0]!.finish();
    await blocker;
    await tick();
    groups[1]!.finish([{ ok: true, value: 'one' }, { ok: false, error: new Error('two failed') }]);
    expect(await a).toBe('one');
    await expect(b).rejects.toThrow('two failed');
    const c = tenantGroups.submit(scopeOf('t1'), 3);
    const d = tenantGroups.submit(scopeOf('t1'), 4);
    groups[2]!.fail(new Error('database down'));
    await expect(c).rejects.toThrow('database down');
    await tick();
    groups[3]!.fail(new Error('still down'));
    await expect(d).rejects.toThrow('still down');
  });

  it('caps a group at maxWeight', async () => {
    const { groups, work } = controlledWork();
    const tenantGroups = new TenantGroups(work, { maxInFlight: 1, maxWeight: 5, weight: (item: number) => item });
    const all = [1, 3, 2, 2, 4].map((item) => tenantGroups.submit(scopeOf('t1'), item));
    for (let round = 0; round < 4 && groups.length < 4; round++) {
      groups.at(-1)!.finish();
      await tick();
    }
    expect(groups.map((group) => group.items)).toEqual([[1], [3, 2], [2], [4]]);
    groups.at(-1)!.finish();
    expect(await Promise.all(all)).toEqual(['done 1', 'done 3', 'done 2', 'done 2', 'done 4']);
  });

  describe('balanced', () => {
    const balance = (gatherMs: number) => ({ maxInFlight: 1, maxWeight: 100, weight: () => 1, balance: { minGroup: 2, gatherMs } });

    /** Items 1 to 4: 1 goes alone, then 2 to 4 together (after a small group every item waiting goes); 2 to 4 under way. */
    async function withGroupOfThree(gatherMs: number) {
      const { groups, work } = controlledWork();
      const tenantGroups = new TenantGroups(work, balance(gatherMs));
      const first = [1, 2, 3, 4].map((item) => tenantGroups.submit(scopeOf('t1'), item));
      groups[0]!.finish();
      await tick();
      expect(groups.map((group) => group.items)).toEqual([[1], [2, 3, 4]]);
      return { groups, tenantGroups, first };
    }

    /** Then 2 to 4 answered and one caller back (item 5): fewer than half of 3, so the chain waits. */
    async function gatheringAfterGroupOfThree(gatherMs: number) {
      const { groups, tenantGroups, first } = await withGroupOfThree(gatherMs);
      groups[1]!.finish();
      await Promise.all(first);
      const fifth = tenantGroups.submit(scopeOf('t1'), 5);
      await tick();
      expect(groups).toHaveLength(2);
      return { groups, tenantGroups, fifth };
    }

    it('after a large group, takes at most half of the items waiting plus those of that group', async () => {
      const { groups, tenantGroups, first } = await withGroupOfThree(10_000);
      const rest = Array.from({ length: 9 }, (_, index) => tenantGroups.submit(scopeOf('t1'), index + 5));
      groups[1]!.finish();
      await tick();
      // 9 waiting and 3 coming back: 6 now, the other 3 with the next group.
      expect(groups.map((group) => group.items)).toEqual([[1], [2, 3, 4], [5, 6, 7, 8, 9, 10]]);
      groups[2]!.finish();
      await tick();
      expect(groups.map((group) => group.items)).toEqual([[1], [2, 3, 4], [5, 6, 7, 8, 9, 10], [11, 12, 13]]);
      groups[3]!.finish();
      expect(await Promise.all([...first, ...rest])).toEqual(Array.from({ length: 13 }, (_, index) => `done ${index + 1}`));
    });

    it('after a large group, waits for half of its callers rather than sending the few waiting alone', async () => {
      const { groups, tenantGroups, fifth } = await gatheringAfterGroupOfThree(10_000);
      // A second caller back makes half: both go.
      const sixth = tenantGroups.submit(scopeOf('t1'), 6);
      expect(groups.map((group) => group.items)).toEqual([[1], [2, 3, 4], [5, 6]]);
      groups[2]!.finish();
      expect(await Promise.all([fifth, sixth])).toEqual(['done 5', 'done 6']);
    });

    afterEach(() => {
      vi.useRealTimers();
    });

    it('waits no longer than gatherMs, and sends at once again after small groups', async () => {
      // The gathering wait is a timer: a fake one, moved by the test (setImmediate, which tick uses, stays real).
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const { groups, tenantGroups, fifth } = await gatheringAfterGroupOfThree(20);
      vi.advanceTimersByTime(19);
      await tick();
      expect(groups).toHaveLength(2);
      vi.advanceTimersByTime(1);
      await tick();
      expect(groups.map((group) => group.items)).toEqual([[1], [2, 3, 4], [5]]);
      groups[2]!.finish();
      expect(await fifth).toBe('done 5');
      // After a group of one, nothing waits: the next goes at once.
      const later = tenantGroups.submit(scopeOf('t1'), 6);
      expect(groups.at(-1)!.items).toEqual([6]);
      groups.at(-1)!.finish();
      expect(await later).toBe('done 6');
    });
  });
});
