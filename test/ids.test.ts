import { describe, expect, it } from 'vitest';
import { newId } from '../src/ids.js';

describe('newId', () => {
  it('makes prefixed UUIDv7 ids that strictly increase in the order they are made, thousands per millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => newId('delivery'));
    for (const id of ids) expect(id).toMatch(/^dlv_[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The time prefix is the creation time, in milliseconds: between the clock's readings around it.
    const before = Date.now();
    const ms = parseInt(newId('event').slice(4, 16), 16);
    const after = Date.now();
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
  });

  it('draws fresh random bits: ids made in different milliseconds do not share their random tail', async () => {
    const first = newId('event');
    const madeAt = Date.now();
    while (Date.now() <= madeAt) await new Promise((resolve) => setImmediate(resolve));
    const second = newId('event');
    expect(first.slice(-15)).not.toBe(second.slice(-15));
  });
});
