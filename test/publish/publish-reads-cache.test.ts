import { describe, expect, it } from 'vitest';
import { PublishReadsCache } from '../../src/publish/publish-reads-cache.js';

const reads = (version: number, label = '') => ({ version, label });

describe('PublishReadsCache', () => {
  it('finds a read by tenant and event type names, in any order', () => {
    const cache = new PublishReadsCache<ReturnType<typeof reads>>();
    cache.set('t1', ['b', 'a'], reads(3, 'ab'));
    expect(cache.get('t1', ['a', 'b'])?.label).toBe('ab');
    expect(cache.get('t1', ['a'])).toBeUndefined();
    expect(cache.get('t2', ['a', 'b'])).toBeUndefined();
  });

  it('drops the reads of another version when a fresh one arrives: one of them is stale', () => {
    const cache = new PublishReadsCache<ReturnType<typeof reads>>();
    cache.set('t1', ['a'], reads(3, 'a@3'));
    cache.set('t1', ['b'], reads(3, 'b@3'));
    cache.set('t1', ['c'], reads(4, 'c@4'));
    expect(cache.get('t1', ['a'])).toBeUndefined();
    expect(cache.get('t1', ['b'])).toBeUndefined();
    expect(cache.get('t1', ['c'])?.label).toBe('c@4');
  });

  it('forgets a tenant, and stays within its bounds', () => {
    const cache = new PublishReadsCache<ReturnType<typeof reads>>(2, 2);
    cache.set('t1', ['a'], reads(1));
    cache.forget('t1');
    expect(cache.get('t1', ['a'])).toBeUndefined();

    cache.set('t1', ['a'], reads(1, 'a'));
    cache.set('t1', ['b'], reads(1, 'b'));
    cache.set('t1', ['c'], reads(1, 'c')); // a third key for t1: its entries start again
    expect([cache.get('t1', ['a']), cache.get('t1', ['b']), cache.get('t1', ['c'])?.label]).toEqual([undefined, undefined, 'c']);
    cache.set('t2', ['a'], reads(1, 't2'));
    cache.set('t3', ['a'], reads(1, 't3')); // a third tenant: the cache starts again
    expect([cache.get('t1', ['c']), cache.get('t2', ['a']), cache.get('t3', ['a'])?.label]).toEqual([undefined, undefined, 't3']);
  });
});
