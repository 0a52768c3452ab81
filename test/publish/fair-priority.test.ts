import { describe, expect, it } from 'vitest';
import { fairPriority } from '../../src/publish/job-policy.js';

describe('fairPriority', () => {
  it('grows with the logarithm of the backlog, from 0 to at most 12', () => {
    expect([0, 1, 2, 3, 7, 1_000, 50_000].map(fairPriority)).toEqual([0, 1, 1, 2, 3, 9, 12]);
  });
});
