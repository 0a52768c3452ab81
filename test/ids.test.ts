import { describe, expect, it } from 'vitest';
import { newId } from '../src/ids.js';

describe('newId', () => {
  it('makes prefixed UUIDv7 ids that strictly increase in the order they are made, thousands per millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => newId('delivery'));
    for (const id of ids) expect(id).toMatch(/^dlv_[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The time prefix is the creation time, in milliseconds.
    const ms = parseInt(newId('event').slice(4, 16), 16);
    expect(Math.abs(ms - Date.now())).toBeLessThan(1_000);
  });

  it('draws fresh random bits: ids made in different milliseconds do not share their random tail', async () => {
    const first = newId('event');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = newId('event');
    expect(first.slice(-15)).not.toBe(second.slice(-15));
  });
});
