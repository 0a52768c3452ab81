import { describe, expect, it } from 'vitest';
import { TenantBatches } from '../../src/delivery/tenant-batches.js';

describe('TenantBatches', () => {
  it('sends what arrives in one turn as one batch per tenant, and answers each item with its own result', async () => {
    const batches: [string, readonly number[]][] = [];
    const tenantBatches = new TenantBatches<number, string>(
      async (tenantId, items) => {
        batches.push([tenantId, items]);
        return items.map((item) => `${tenantId}:${item}`);
      },
      { lingerMs: 0, maxBatch: 100 },
    );
    const results = await Promise.all([
      tenantBatches.submit('t1', 1),
      tenantBatches.submit('t2', 2),
      tenantBatches.submit('t1', 3),
    ]);
    expect(results).toEqual(['t1:1', 't2:2', 't1:3']);
    expect(batches).toEqual([
      ['t1', [1, 3]],
      ['t2', [2]],
    ]);
  });

  it('sends a full batch at once, without waiting for the linger', async () => {
    const batches: (readonly number[])[] = [];
    const tenantBatches = new TenantBatches<number, number>(
      async (_tenantId, items) => {
        batches.push(items);
        return [...items];
      },
      { lingerMs: 60_000, maxBatch: 2 },
    );
    expect(await Promise.all([tenantBatches.submit('t1', 1), tenantBatches.submit('t1', 2)])).toEqual([1, 2]);
    expect(batches).toEqual([[1, 2]]);
  });

  it('gives every item of a failed batch the error', async () => {
    const tenantBatches = new TenantBatches<number, number>(
      async () => {
        throw new Error('database down');
      },
      { lingerMs: 1, maxBatch: 100 },
    );
    const outcomes = await Promise.allSettled([tenantBatches.submit('t1', 1), tenantBatches.submit('t1', 2)]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
  });
});
