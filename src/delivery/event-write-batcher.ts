import type { EventWrite } from '../db/scoped/events.js';
import type { TenantScope } from '../db/tenant-scope.js';

interface QueuedWrite {
  plan: EventWrite;
  resolve: (inserted: Set<string>) => void;
  reject: (error: unknown) => void;
}

interface TenantWrites {
  inFlight: number;
  queue: QueuedWrite[];
}

/**
 * Group commit for publishing. Each publish enqueues jobs, and graphile-worker's add_jobs sends a
 * NOTIFY, which PostgreSQL commits one transaction at a time; a tenant's publishes also queue on
 * its quota row. So a tenant has at most `maxInFlight` writes under way; the publishes that arrive
 * meanwhile wait and then go together, as one statement (one transaction, one NOTIFY). If a group
 * fails (a quota that fits each publish but not their sum, a bad row), each of its publishes is
 * written again on its own, so that one publish never fails another. Writes inside a caller's
 * transaction are never grouped: they must commit with it.
 */
export class EventWriteBatcher {
  private readonly tenants = new Map<string, TenantWrites>();

  constructor(
    private readonly maxInFlight = 2,
    private readonly maxEventsPerGroup = 1_000,
  ) {}

  write(scope: TenantScope, plan: EventWrite): Promise<Set<string>> {
    if (scope.inTransaction) return scope.events.write(plan);
    const writes = this.tenants.get(scope.tenantId) ?? { inFlight: 0, queue: [] };
    this.tenants.set(scope.tenantId, writes);
    return new Promise((resolve, reject) => {
      writes.queue.push({ plan, resolve, reject });
      this.next(scope, writes);
    });
  }

  private next(scope: TenantScope, writes: TenantWrites): void {
    while (writes.inFlight < this.maxInFlight && writes.queue.length > 0) {
      const group = [writes.queue.shift()!];
      let events = group[0]!.plan.events.length;
      while (writes.queue.length > 0 && events + writes.queue[0]!.plan.events.length <= this.maxEventsPerGroup) {
        const member = writes.queue.shift()!;
        events += member.plan.events.length;
        group.push(member);
      }
      writes.inFlight++;
      void this.writeGroup(scope, group).finally(() => {
        writes.inFlight--;
        if (writes.inFlight === 0 && writes.queue.length === 0) this.tenants.delete(scope.tenantId);
        else this.next(scope, writes);
      });
    }
  }

  private async writeGroup(scope: TenantScope, group: readonly QueuedWrite[]): Promise<void> {
    if (group.length > 1) {
      try {
        const inserted = await scope.events.write(mergeWrites(group.map((member) => member.plan)));
        for (const member of group) member.resolve(inserted);
        return;
      } catch {
        // Written again one by one below: each publish gets its own answer.
      }
    }
    await Promise.all(
      group.map(async (member) => {
        try {
          member.resolve(await scope.events.write(member.plan));
        } catch (error) {
          member.reject(error);
        }
      }),
    );
  }
}

/** One write for several publishes: their rows side by side, a stream's job once, their quotas summed. */
export function mergeWrites(plans: readonly EventWrite[]): EventWrite {
  const streams = new Map<string, { eventIds: string[]; spec: EventWrite['streamJobs'][number]['spec'] }>();
  for (const plan of plans) {
    for (const job of plan.streamJobs) {
      const stream = streams.get(job.spec.jobKey!) ?? { eventIds: [], spec: job.spec };
      stream.eventIds.push(...job.eventIds);
      streams.set(job.spec.jobKey!, stream);
    }
  }
  const quotas = plans.map((plan) => plan.quota).filter((quota) => quota !== null);
  return {
    events: plans.flatMap((plan) => plan.events),
    deliveries: plans.flatMap((plan) => plan.deliveries),
    jobs: plans.flatMap((plan) => plan.jobs),
    streamJobs: [...streams.values()],
    preserveStreamRunAt: plans.every((plan) => plan.preserveStreamRunAt),
    quota: quotas.length === 0 ? null : { ...quotas[0]!, count: quotas.reduce((sum, quota) => sum + quota.count, 0) },
  };
}
