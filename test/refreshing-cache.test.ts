import { describe, expect, it } from 'vitest';
import { RefreshingCache } from '../src/refreshing-cache.js';

function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('RefreshingCache', () => {
  it('does not keep a read that was under way when its key was forgotten: the next caller reads anew', async () => {
    const cache = new RefreshingCache<string, string>({ ttlMs: 1_000, maxEntries: 10, now: () => 0 });
    const before = deferred<string>();
    const reading = cache.get('t1', () => before.promise);
    cache.delete('t1');
    before.resolve('ACTIVE');
    expect(await reading).toBe('ACTIVE');
    expect(await cache.get('t1', async () => 'SUSPENDED')).toBe('SUSPENDED');
  });

  it('reads again after a failed refresh, serving the known value only while a read is under way', async () => {
    let now = 0;
    const cache = new RefreshingCache<string, number>({ ttlMs: 1_000, maxEntries: 10, now: () => now });
    expect(await cache.get('k', async () => 1)).toBe(1);
    now = 2_000;
    const failing = deferred<number>();
    const refresh = cache.get('k', () => failing.promise);
    expect(await cache.get('k', async () => 99)).toBe(1);
    failing.reject(new Error('database unavailable'));
    await expect(refresh).rejects.toThrow('database unavailable');
    expect(await cache.get('k', async () => 2)).toBe(2);
  });
});
