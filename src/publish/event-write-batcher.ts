import { deliverBatchJobs } from './job-policy.js';
import type { DeliveryWork } from '../db/scoped/deliveries.js';
import { StreamJobs, type EventWrite } from '../db/scoped/events.js';
import type { TenantScope } from '../db/tenant-scope.js';
import type { FirstAttemptHandoff, HandedOffJob } from './first-attempt-handoff.js';
import { TenantGroups, type Settled } from './tenant-groups.js';

/**
 * Group commit for publishing. Each publish enqueues jobs, and graphile-worker's add_jobs sends a
 * NOTIFY, which PostgreSQL commits one transaction at a time; a tenant's publishes also queue on
 * its quota row, so two of its writes never run side by side anyway. So a tenant's publishes are
 * written in groups (TenantGroups: one under way, the ones that arrive meanwhile together, as one
 * statement: one transaction, one NOTIFY). A second write under way would only wait for the
 * quota row inside PostgreSQL, holding a connection, instead of gathering the next group.
 * Under a client's steady load the groups are balanced (TenantGroups' Balance): two halves of
 * its callers alternate, rather than one large group and one publish alone. A chain waits at most
 * 4 ms for callers to come back, and only after a group of more than 15: open-loop publishing at
 * moderate rates forms groups of a few publishes after any short stall, and making those wait
 * raises its tail latency.
 * If a group fails (a quota that fits each publish but not their sum, a bad row), each of its
 * publishes is written again on its own, so that one publish never fails another. Writes inside
 * a caller's transaction are never grouped: they must commit with it.
 * A write's first attempts go to the process's own worker when it has room for all of them: the
 * write then claims them too (FirstAttemptHandoff).
 */
export class EventWriteBatcher {
  private readonly groups = new TenantGroups<PendingWrite, Set<string>>((scope, writes) => writeGroup(scope, writes), {
    maxInFlight: 1,
    maxWeight: 1_000,
    weight: (write) => write.plan.events.length,
    balance: { minGroup: 15, gatherMs: 4 },
  });

  write(scope: TenantScope, plan: EventWrite, handoff?: FirstAttemptHandoff): Promise<Set<string>> {
    return scope.inTransaction ? scope.events.write(plan) : this.groups.submit(scope, { plan, handoff });
  }
}

interface PendingWrite {
  plan: EventWrite;
  handoff: FirstAttemptHandoff | undefined;
}

async function writeGroup(scope: TenantScope, writes: readonly PendingWrite[]): Promise<Settled<Set<string>>[]> {
  if (writes.length > 1) {
    try {
      // One process, one worker: the publishes of a group share its handoff.
      const inserted = await writeHandingOff(scope, mergeWrites(writes.map((write) => write.plan)), writes[0]!.handoff);
      return writes.map(() => ({ ok: true, value: inserted }));
    } catch {
      // Written again one by one below: each publish gets its own answer.
    }
  }
  return Promise.all(
    writes.map(async ({ plan, handoff }): Promise<Settled<Set<string>>> => {
      try {
        return { ok: true, value: await writeHandingOff(scope, plan, handoff) };
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );
}

/** Writes `plan`; if `handoff` has room for its first attempts, the write claims them and they are handed to it once it has committed. */
async function writeHandingOff(scope: TenantScope, plan: EventWrite, handoff: FirstAttemptHandoff | undefined): Promise<Set<string>> {
  const reservation = plan.firstAttempts.length > 0 ? (handoff?.reserve(scope.tenantId, plan.firstAttempts.length) ?? null) : null;
  if (!reservation) return scope.events.write(plan);
  let inserted: Set<string>;
  let claimed: Map<string, DeliveryWork>;
  try {
    ({ inserted, claimed } = await scope.events.writeAndClaim(
      { ...plan, handoff: { runAt: reservation.runAt } },
      plan.firstAttempts.map((attempt) => attempt.deliveryId),
      reservation.claimMs,
      reservation.countEveryClaim,
    ));
  } catch (error) {
    reservation.cancel();
    throw error;
  }
  // The same jobs as the write's; a delivery of an event not inserted (its idempotency key was used) was not written.
  const jobs: HandedOffJob[] = deliverBatchJobs(scope.tenantId, plan.firstAttempts, reservation)
    .map((job) => ({
      jobKey: job.spec.jobKey!,
      priority: job.spec.priority ?? 0,
      deliveryIds: job.deliveries.filter((attempt) => inserted.has(attempt.eventId)).map((attempt) => attempt.deliveryId),
    }))
    .filter((job) => job.deliveryIds.length > 0);
  reservation.start(scope.tenantId, jobs, claimed);
  return inserted;
}

/** One write for several publishes: their rows side by side (first attempts shared out over jobs anew), a stream's job once, their quotas summed, their oldest reused read checked. */
export function mergeWrites(plans: readonly EventWrite[]): EventWrite {
  const streams = new StreamJobs();
  for (const plan of plans) for (const job of plan.streamJobs) streams.add(job.spec, job.eventIds);
  const quotas = plans.map((plan) => plan.quota).filter((quota) => quota !== null);
  // Reused reads of different versions cannot all be current: the oldest is checked, and if it
  // is stale the group fails and each publish is written (or refused) on its own.
  const versions = plans.map((plan) => plan.contextVersion).filter((version) => version !== null);
  return {
    events: plans.flatMap((plan) => plan.events),
    deliveries: plans.flatMap((plan) => plan.deliveries),
    firstAttempts: plans.flatMap((plan) => plan.firstAttempts),
    streamJobs: streams.list(),
    preserveStreamRunAt: plans.every((plan) => plan.preserveStreamRunAt),
    quota: quotas.length === 0 ? null : { ...quotas[0]!, count: quotas.reduce((sum, quota) => sum + quota.count, 0) },
    contextVersion: versions.length === 0 ? null : Math.min(...versions),
  };
}
