import { describe, expect, it } from 'vitest';
import type { EventWrite } from '../../src/db/scoped/events.js';
import { deliverJob, streamJob } from '../../src/db/jobs.js';
import { mergeWrites } from '../../src/delivery/event-write-batcher.js';

const quota = (count: number) => ({ count, rate: 10, burst: 100, monthlyLimit: 1_000, period: '2026-11' });

function write(eventId: string, stream: ReturnType<typeof streamJob> | null, count: number | null, contextVersion: number | null = null): EventWrite {
  return {
    events: [{ id: eventId, eventType: 'order.created', body: '{}', idempotencyKey: null, orderingKey: 'k', channels: null, createdAt: new Date(0) }],
    deliveries: [{ id: `dlv_${eventId}`, eventId, subscriptionId: 'sub_1', status: 'PENDING', orderingKey: 'k' }],
    jobs: stream ? [] : [{ eventId, spec: deliverJob('ten_1', `dlv_${eventId}`) }],
    streamJobs: stream ? [{ eventIds: [eventId], spec: stream }] : [],
    preserveStreamRunAt: true,
    quota: count === null ? null : quota(count),
    contextVersion,
  };
}

describe('mergeWrites', () => {
  it('puts the publishes side by side in order and sums their quotas', () => {
    const merged = mergeWrites([write('e1', null, 1), write('e2', null, 2)]);
    expect(merged.events.map((event) => event.id)).toEqual(['e1', 'e2']);
    expect(merged.deliveries.map((delivery) => delivery.id)).toEqual(['dlv_e1', 'dlv_e2']);
    expect(merged.jobs.map((job) => job.eventId)).toEqual(['e1', 'e2']);
    expect(merged.quota).toEqual(quota(3));
  });

  it("enqueues a stream's job once, for the events of every publish on it (add_jobs refuses a key twice)", () => {
    const stream = streamJob('ten_1', 'sub_1', 'k');
    const other = streamJob('ten_1', 'sub_1', 'other');
    const merged = mergeWrites([write('e1', stream, 1), write('e2', stream, 1), write('e3', other, 1)]);
    expect(merged.streamJobs).toEqual([
      { eventIds: ['e1', 'e2'], spec: stream },
      { eventIds: ['e3'], spec: other },
    ]);
  });

  it('takes no quota when no publish asks for one', () => {
    expect(mergeWrites([write('e1', null, null), write('e2', null, null)]).quota).toBeNull();
  });

  it('checks the oldest reused read of the group, and none when every publish read afresh', () => {
    expect(mergeWrites([write('e1', null, 1, 7), write('e2', null, 1, null), write('e3', null, 1, 5)]).contextVersion).toBe(5);
    expect(mergeWrites([write('e1', null, 1), write('e2', null, 1)]).contextVersion).toBeNull();
  });
});
