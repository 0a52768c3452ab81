/**
 * A Map that never holds more than `maxEntries` keys, for the process's memos (verified tokens,
 * opened secrets, signing keys, compiled schemas, cost estimates, event type patterns): adding a
 * new key to a full map first makes room. `'all'` forgets every entry, for memos whose entries are
 * cheap to work out again and whose working set is far below the bound; `'oldest'` forgets the
 * entry added first.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(
    private readonly maxEntries: number,
    private readonly evict: 'all' | 'oldest' = 'all',
  ) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.size >= this.maxEntries && !this.has(key)) {
      if (this.evict === 'all') {
        this.clear();
      } else {
        const oldest = this.keys().next();
        if (!oldest.done) this.delete(oldest.value);
      }
    }
    return super.set(key, value);
  }
}
