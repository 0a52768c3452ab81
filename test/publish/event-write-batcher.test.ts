import { describe, expect, it } from 'vitest';
import type { EventWrite } from '../../src/db/scoped/events.js';
import { deliverBatchJobs, DELIVERIES_PER_JOB, streamJob } from '../../src/publish/job-policy.js';
import { mergeWrites } from '../../src/publish/event-write-batcher.js';

const quota = (count: number) => ({ count, rate: 10, burst: 100, monthlyLimit: 1_000, period: '2026-11' });

function write(eventId: string, stream: ReturnType<typeof streamJob> | null, count: number | null, contextVersion: number | null = null): EventWrite {
  return {
    events: [{ id: eventId, eventType: 'order.created', body: '{}', idempotencyKey: null, orderingKey: 'k', channels: null, eventTypeVersion: 1, createdAt: new Date(0) }],
    deliveries: [{ id: `dlv_${eventId}`, eventId, subscriptionId: 'sub_1', status: 'PENDING', orderingKey: 'k' }],
    firstAttempts: stream ? [] : [{ deliveryId: `dlv_${eventId}`, eventId, priority: 0 }],
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
    expect(merged.firstAttempts.map((attempt) => attempt.deliveryId)).toEqual(['dlv_e1', 'dlv_e2']);
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

describe('deliverBatchJobs', () => {
  it('carries DELIVERIES_PER_JOB first attempts per job, in order, with their events and the most urgent priority', () => {
    const attempts = Array.from({ length: DELIVERIES_PER_JOB + 3 }, (_, i) => ({
      deliveryId: `dlv_${i}`,
      // Two deliveries per event: an event whose deliveries straddle two jobs is named by both.
      eventId: `evt_${Math.floor(i / 2)}`,
      priority: 3 + Math.floor(i / 4),
    }));
    const jobs = deliverBatchJobs('ten_1', attempts);
    expect(jobs.map((job) => job.spec.task)).toEqual(['deliver_batch', 'deliver_batch']);
    expect(jobs.flatMap((job) => (job.spec.payload as { deliveryIds: string[] }).deliveryIds)).toEqual(attempts.map((a) => a.deliveryId));
    expect(jobs.map((job) => (job.spec.payload as { tenantId: string }).tenantId)).toEqual(['ten_1', 'ten_1']);
    expect((jobs[0]!.spec.payload as { deliveryIds: string[] }).deliveryIds).toHaveLength(DELIVERIES_PER_JOB);
    expect(jobs[0]!.eventIds).toEqual(['evt_0', 'evt_1', 'evt_2', 'evt_3', 'evt_4']);
    expect(jobs[1]!.eventIds).toEqual(['evt_5', 'evt_6']);
    expect(jobs.map((job) => job.spec.priority)).toEqual([3, 5]);
    // No job key: a batch is not one delivery's job, and retries get their own keyed `deliver` job.
    expect(jobs.every((job) => job.spec.jobKey === undefined)).toBe(true);
    expect(deliverBatchJobs('ten_1', [])).toEqual([]);
  });
});
