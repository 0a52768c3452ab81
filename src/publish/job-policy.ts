/**
 * Which jobs carry deliveries, and how: their keys, queues and fair priorities, and how many first
 * attempts a `deliver_batch` job carries. Publishing plans its jobs with these; the delivery path
 * and the worker use the same specs when they reschedule a delivery or hand it on.
 */

import type { JobSpec } from '../db/jobs.js';

/** The job key of a delivery's next attempt: at most one pending job per delivery. */
export function deliveryJobKey(deliveryId: string): string {
  return `deliver:${deliveryId}`;
}

/** The queue and job key of an ordered stream: one job per subscription and ordering key. */
export function streamKey(subscriptionId: string, orderingKey: string | null): string {
  return orderingKey === null ? `stream:${subscriptionId}` : `stream:${subscriptionId}:${orderingKey}`;
}

export function deliverJob(
  tenantId: string,
  deliveryId: string,
  options: { runAt?: Date; queueName?: string; priority?: number } = {},
): JobSpec {
  return { task: 'deliver', payload: { tenantId, deliveryId }, jobKey: deliveryJobKey(deliveryId), ...options };
}

/**
 * How many first attempts one `deliver_batch` job carries. A job costs graphile-worker about as
 * much as a delivery costs everything else (insert, fetch, complete): carrying ten deliveries per
 * job makes that cost a tenth. Small enough that a burst still spreads over several workers.
 */
export const DELIVERIES_PER_JOB = 10;

/** A delivery's first attempt as publishing plans it: its event, and its fair priority. */
export interface FirstAttempt {
  deliveryId: string;
  eventId: string;
  priority: number;
}

/**
 * First attempts handed to the publishing process's own worker (ROLE=all, see FirstAttemptHandoff):
 * their `deliver_batch` jobs are still written with the events, keyed so that the handoff can
 * complete them, and due only at `runAt`, so that no worker takes them meanwhile. If the process
 * dies before it has sent them, the jobs run then.
 */
export interface HandedOffJobs {
  runAt: Date;
}

/** The job key of first attempts handed over in-process, after the first delivery of its job. */
export function handoffJobKey(firstDeliveryId: string): string {
  return `handoff:${firstDeliveryId}`;
}

/**
 * The `deliver_batch` jobs of first attempts, DELIVERIES_PER_JOB per job in the order given, each
 * with the events its deliveries belong to and the lowest (most urgent) priority among them.
 */
export function deliverBatchJobs(
  tenantId: string,
  attempts: readonly FirstAttempt[],
  handoff: HandedOffJobs | null = null,
): { eventIds: string[]; deliveries: readonly FirstAttempt[]; spec: JobSpec }[] {
  const jobs: { eventIds: string[]; deliveries: readonly FirstAttempt[]; spec: JobSpec }[] = [];
  for (let start = 0; start < attempts.length; start += DELIVERIES_PER_JOB) {
    const chunk = attempts.slice(start, start + DELIVERIES_PER_JOB);
    const spec = deliverBatchJob(tenantId, chunk.map((attempt) => attempt.deliveryId), Math.min(...chunk.map((attempt) => attempt.priority)));
    jobs.push({
      eventIds: [...new Set(chunk.map((attempt) => attempt.eventId))],
      deliveries: chunk,
      spec: handoff ? { ...spec, runAt: handoff.runAt, jobKey: handoffJobKey(chunk[0]!.deliveryId) } : spec,
    });
  }
  return jobs;
}

/** One `deliver_batch` job: each delivery is claimed, sent and recorded on its own. */
export function deliverBatchJob(tenantId: string, deliveryIds: readonly string[], priority: number, runAt?: Date): JobSpec {
  return { task: 'deliver_batch', payload: { tenantId, deliveryIds: [...deliveryIds] }, priority, ...(runAt ? { runAt } : {}) };
}

export function streamJob(tenantId: string, subscriptionId: string, orderingKey: string | null, runAt?: Date): JobSpec {
  const key = streamKey(subscriptionId, orderingKey);
  return {
    task: 'deliver_stream',
    payload: { tenantId, subscriptionId, orderingKey },
    jobKey: key,
    queueName: key,
    ...(runAt ? { runAt } : {}),
  };
}

/** Sends a just-enabled subscription's released deliveries one after another, oldest first. */
export function drainJob(tenantId: string, subscriptionId: string, runAt?: Date): JobSpec {
  const key = `drain:${subscriptionId}`;
  return {
    task: 'deliver_stream',
    payload: { tenantId, subscriptionId, orderingKey: null, drain: true },
    jobKey: key,
    queueName: key,
    ...(runAt ? { runAt } : {}),
  };
}

/** Beyond this many pending deliveries a tenant's backlog counts as "large": counting stops there. */
export const BACKLOG_COUNT_CAP = 4096;

/**
 * Fair delivery between tenants: the job priority of a tenant's new delivery grows with the
 * logarithm of its pending backlog. A tenant with 50,000 queued deliveries enqueues at priority
 * 12, so another tenant's first delivery (priority 0) is picked before almost all of them.
 */
export function fairPriority(pendingBefore: number): number {
  return Math.min(12, Math.floor(Math.log2(1 + Math.min(pendingBefore, BACKLOG_COUNT_CAP))));
}
