import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../src/bounded-map.js';

describe('BoundedMap', () => {
  it("forgets every entry when a new key finds it full ('all')", () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2).set('c', 3);
    expect([...map]).toEqual([['c', 3]]);
  });

  it("forgets the entry added first when a new key finds it full ('oldest')", () => {
    const map = new BoundedMap<string, number>(2, 'oldest');
    map.set('a', 1).set('b', 2).set('c', 3);
    expect([...map]).toEqual([
      ['b', 2],
      ['c', 3],
    ]);
  });

  it('keeps every entry when a known key is set again, full or not', () => {
    for (const evict of ['all', 'oldest'] as const) {
      const map = new BoundedMap<string, number>(2, evict);
      map.set('a', 1).set('b', 2).set('a', 10);
      expect(Object.fromEntries(map), evict).toEqual({ a: 10, b: 2 });
    }
  });
});
