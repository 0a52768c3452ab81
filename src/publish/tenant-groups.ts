import type { TenantScope } from '../db/tenant-scope.js';

interface Queued<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

interface TenantQueue<Item, Result> {
  inFlight: number;
  queue: Queued<Item, Result>[];
  /** How many items the tenant's latest group held. */
  lastGroupSize: number;
  /** While set, no group starts: the chain waits for the callers of a large group just answered. */
  gathering: { until: number; timer: NodeJS.Timeout } | null;
}

/**
 * Keeps a closed loop of callers (a client with N requests in flight, each sent again once
 * answered) in two halves that alternate, so that Node answers and reads one half while
 * PostgreSQL writes the other. Left alone, the loop settles into one large group and a straggler
 * sent alone: Node is busy with the large group's callers while PostgreSQL writes one item, then
 * idle while PostgreSQL writes the large group (with 32 callers: groups of 31 and 1).
 */
export interface Balance {
  /** A group up to this size is small: the next takes every item waiting, and nothing waits for its callers. */
  minGroup: number;
  /** The longest a chain waits, after a large group, for half of its callers to come back. */
  gatherMs: number;
}

/** What a group's work gives each of its items, in order. */
export type Settled<Result> = { ok: true; value: Result } | { ok: false; error: unknown };

/**
 * Coalesces a tenant's concurrent requests to PostgreSQL. At most `maxInFlight` groups of one
 * tenant are under way; the items that arrive meanwhile wait, then go as one group (up to
 * `maxWeight`), so that under load many requests share one round trip and one transaction, and
 * at rest a request goes at once, alone.
 */
export class TenantGroups<Item, Result> {
  private readonly tenants = new Map<string, TenantQueue<Item, Result>>();

  constructor(
    private readonly work: (scope: TenantScope, items: readonly Item[]) => Promise<Settled<Result>[]>,
    private readonly options: { maxInFlight: number; maxWeight: number; weight: (item: Item) => number; balance?: Balance },
  ) {}

  submit(scope: TenantScope, item: Item): Promise<Result> {
    const tenant = this.tenants.get(scope.tenantId) ?? { inFlight: 0, queue: [], lastGroupSize: 0, gathering: null };
    this.tenants.set(scope.tenantId, tenant);
    return new Promise((resolve, reject) => {
      tenant.queue.push({ item, resolve, reject });
      if (tenant.gathering && tenant.queue.length >= tenant.gathering.until) {
        clearTimeout(tenant.gathering.timer);
        tenant.gathering = null;
      }
      this.next(scope, tenant);
    });
  }

  private next(scope: TenantScope, tenant: TenantQueue<Item, Result>): void {
    while (!tenant.gathering && tenant.inFlight < this.options.maxInFlight && tenant.queue.length > 0) {
      const { balance } = this.options;
      // Half of the callers waiting or coming back (those of the large group just answered). After
      // small groups (a backlog after a pause, not a loop of callers) every item waiting goes.
      const maxSize =
        balance && tenant.lastGroupSize > balance.minGroup
          ? Math.max(balance.minGroup, Math.ceil((tenant.queue.length + tenant.lastGroupSize) / 2))
          : Infinity;
      const group = [tenant.queue.shift()!];
      let weight = this.options.weight(group[0]!.item);
      while (
        tenant.queue.length > 0 &&
        group.length < maxSize &&
        weight + this.options.weight(tenant.queue[0]!.item) <= this.options.maxWeight
      ) {
        const member = tenant.queue.shift()!;
        weight += this.options.weight(member.item);
        group.push(member);
      }
      tenant.lastGroupSize = group.length;
      tenant.inFlight++;
      void this.run(scope, tenant, group);
    }
  }

  private async run(scope: TenantScope, tenant: TenantQueue<Item, Result>, group: readonly Queued<Item, Result>[]): Promise<void> {
    let settled: Settled<Result>[];
    try {
      settled = await this.work(scope, group.map((member) => member.item));
    } catch (error) {
      settled = group.map(() => ({ ok: false, error }));
    }
    // The next group goes out before this one's callers go on: answering them is Node's work,
    // and PostgreSQL would otherwise wait for it (with one group under way, that wait bounded a
    // tenant's single publishes).
    tenant.inFlight--;
    const half = Math.ceil(group.length / 2);
    const { balance } = this.options;
    if (balance && group.length > balance.minGroup && tenant.inFlight === 0 && tenant.queue.length < half) {
      // Sent now, the few waiting would go as a small group and the rest pile up behind it.
      tenant.gathering = {
        until: half,
        timer: setTimeout(() => {
          tenant.gathering = null;
          this.goOn(scope, tenant);
        }, balance.gatherMs),
      };
    } else {
      this.goOn(scope, tenant);
    }
    group.forEach((member, index) => {
      const outcome = settled[index];
      if (outcome?.ok) member.resolve(outcome.value);
      else member.reject(outcome ? outcome.error : new Error('a grouped request got no result'));
    });
  }

  private goOn(scope: TenantScope, tenant: TenantQueue<Item, Result>): void {
    if (tenant.inFlight === 0 && tenant.queue.length === 0) this.tenants.delete(scope.tenantId);
    else this.next(scope, tenant);
  }
}
