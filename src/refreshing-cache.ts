import { BoundedMap } from './bounded-map.js';

/**
 * Values read from PostgreSQL that may be a little old, per key: each is read at most once per
 * `ttlMs` in a process. One read per key is under way at a time. While a known value is being
 * read again, other callers take the known one rather than wait or read too (a busy API's
 * concurrent requests would otherwise all read at once when a value expires, and open a pool
 * connection each to do it); only the first callers for a key wait, and share the first read.
 */
export class RefreshingCache<Key, Value> {
  private readonly entries: BoundedMap<Key, { value: Value; readAt: number }>;
  private readonly reading = new Map<Key, Promise<Value>>();
  private readonly now: () => number;

  constructor(private readonly options: { ttlMs: number; maxEntries: number; now?: () => number }) {
    this.now = options.now ?? Date.now;
    this.entries = new BoundedMap(options.maxEntries);
  }

  async get(key: Key, read: () => Promise<Value>): Promise<Value> {
    const entry = this.entries.get(key);
    if (entry && this.now() - entry.readAt < this.options.ttlMs) return entry.value;
    const underWay = this.reading.get(key);
    if (underWay) {
      if (entry) return entry.value;
      // The first read runs in someone else's request (perhaps in their transaction): if it
      // fails, this caller reads for itself rather than fail with it.
      return underWay.catch(() => this.readNow(key, read));
    }
    return this.readNow(key, read);
  }

  /** Changes a known value in place (its age unchanged); nothing when the key is not known. */
  update(key: Key, change: (value: Value) => Value): void {
    const entry = this.entries.get(key);
    if (entry) entry.value = change(entry.value);
  }

  /** Forgets a key, and the read under way for it: the next caller reads anew. */
  delete(key: Key): void {
    this.entries.delete(key);
    this.reading.delete(key);
  }

  private readNow(key: Key, read: () => Promise<Value>): Promise<Value> {
    const reading = read().then((value) => {
      // A read that was forgotten while under way (delete) may predate the change: not kept.
      if (this.reading.get(key) === reading) {
        this.entries.set(key, { value, readAt: this.now() });
      }
      return value;
    });
    this.reading.set(key, reading);
    const settled = () => {
      if (this.reading.get(key) === reading) this.reading.delete(key);
    };
    reading.then(settled, settled);
    return reading;
  }
}
