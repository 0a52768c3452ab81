import DataLoader from 'dataloader';
import type { DeliveryAttemptRow, DeliveryRow, EventRow, SubscriptionRow } from '../db/schema.js';
import type { Database } from '../db/client.js';
import { TENANT_SUBJECT, type CurrentCounts, type StatsBucketRow, type StatsRange, type StatsSubjects, type StatsTotals } from '../db/scoped/delivery-stats.js';
import { usagePeriod } from '../db/scoped/tenant.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { usageOfTenants, type TenantUsageRow } from '../db/tenants.js';

/** Per-request, per-tenant batching: a list of N events costs one query per field, not N. */
export interface Loaders {
  event: DataLoader<string, EventRow | undefined>;
  subscription: DataLoader<string, SubscriptionRow | undefined>;
  deliveriesOfEvent: DataLoader<ChildrenOf, DeliveryRow[], string>;
  attemptsOfDelivery: DataLoader<ChildrenOf, DeliveryAttemptRow[], string>;
  heldCount: DataLoader<string, number>;
  /** Where every stats window of this request ends: one moment, so that the stats of a list share their queries. */
  statsUntil: Date;
  statsTotals: DataLoader<StatsRequest, StatsTotals, string>;
  statsBuckets: DataLoader<StatsRequest & { intervalSeconds: number }, StatsBucketRow[], string>;
  /** PENDING and HELD now, per subscription id (TENANT_SUBJECT: the whole tenant's). */
  currentCounts: DataLoader<string, CurrentCounts>;
}

/** A `stats` field asked for: a subscription's (or, with a null subscriptionId, the tenant's) over a window. */
export interface StatsRequest extends StatsRange {
  tenantId: string;
  subscriptionId: string | null;
}

/** The first `first` children (oldest first) of one parent row. */
export interface ChildrenOf {
  parentId: string;
  first: number;
}

const childrenKey = (key: ChildrenOf) => `${key.first}:${key.parentId}`;

/**
 * Loads the first children of many parents in one query. Parents asking for different counts share
 * it: the query takes the largest count per parent, and each parent keeps the count it asked for.
 */
function childrenLoader<T>(
  list: (parentIds: string[], perParent: number) => Promise<T[]>,
  parentOf: (row: T) => string,
): DataLoader<ChildrenOf, T[], string> {
  return new DataLoader(
    async (keys) => {
      const parentIds = [...new Set(keys.map((key) => key.parentId))];
      const perParent = Math.max(...keys.map((key) => key.first));
      const groups = groupBy(await list(parentIds, perParent), parentOf);
      return keys.map((key) => {
        const group = groups.get(key.parentId) ?? [];
        return group.length > key.first ? group.slice(0, key.first) : group;
      });
    },
    { cacheKeyFn: childrenKey },
  );
}

/**
 * Stats of many subjects in one query per window (and interval): a list of N subscriptions asking
 * for their stats over the same window costs one query, not N.
 */
function statsLoader<K extends StatsRequest & { intervalSeconds?: number }, T>(
  load: (subjects: StatsSubjects, range: StatsRange, intervalSeconds: number) => Promise<Map<string, T>>,
): DataLoader<K, T, string> {
  const windowKey = (key: K) => `${key.since.getTime()}:${key.until.getTime()}:${key.intervalSeconds ?? 0}`;
  const cacheKey = (key: K) => `${windowKey(key)}:${key.subscriptionId ?? ''}`;
  return new DataLoader(
    async (keys) => {
      const windows = new Map<string, { key: K; subscriptionIds: string[]; tenant: boolean }>();
      for (const key of keys) {
        const window = windows.get(windowKey(key)) ?? { key, subscriptionIds: [], tenant: false };
        if (key.subscriptionId === null) window.tenant = true;
        else window.subscriptionIds.push(key.subscriptionId);
        windows.set(windowKey(key), window);
      }
      const found = new Map<string, T>();
      await Promise.all(
        [...windows].flatMap(([prefix, { key, subscriptionIds, tenant }]) => {
          const loads: Promise<void>[] = [];
          const keep = (results: Map<string, T>) => {
            for (const [subject, value] of results) found.set(`${prefix}:${subject}`, value);
          };
          if (subscriptionIds.length > 0) loads.push(load({ subscriptionIds }, key, key.intervalSeconds ?? 0).then(keep));
          if (tenant) loads.push(load('tenant', key, key.intervalSeconds ?? 0).then(keep));
          return loads;
        }),
      );
      return keys.map((key) => found.get(cacheKey(key)) ?? new Error(`no stats for ${key.subscriptionId ?? 'the tenant'}`));
    },
    { cacheKeyFn: cacheKey },
  );
}

function byKey<T>(rows: T[], key: (row: T) => string): Map<string, T> {
  return new Map(rows.map((row) => [key(row), row]));
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(key(row));
    if (group) group.push(row);
    else groups.set(key(row), [row]);
  }
  return groups;
}

/**
 * `scope` reads the primary: objects by id and their children, which a caller may ask for right
 * after writing them. `reader` (the read pool, or `scope` itself) serves the stats, which tolerate lag.
 */
export function createLoaders(scope: TenantScope, reader: TenantScope = scope): Loaders {
  return {
    event: new DataLoader(async (ids) => {
      const found = byKey(await scope.events.findMany(ids), (row) => row.id);
      return ids.map((id) => found.get(id));
    }),
    subscription: new DataLoader(async (ids) => {
      const found = byKey(await scope.subscriptions.findMany(ids), (row) => row.id);
      return ids.map((id) => found.get(id));
    }),
    deliveriesOfEvent: childrenLoader((eventIds, perEvent) => scope.deliveries.listForEvents(eventIds, perEvent), (row) => row.eventId),
    attemptsOfDelivery: childrenLoader((deliveryIds, perDelivery) => scope.deliveries.listAttempts(deliveryIds, perDelivery), (row) => row.deliveryId),
    heldCount: new DataLoader(async (subscriptionIds) => {
      const counts = await scope.subscriptions.countHeld(subscriptionIds);
      return subscriptionIds.map((id) => counts.get(id) ?? 0);
    }),
    statsUntil: new Date(),
    statsTotals: statsLoader((subjects, range) => reader.stats.totals(subjects, range)),
    statsBuckets: statsLoader((subjects, range, intervalSeconds) => reader.stats.buckets(subjects, range, intervalSeconds)),
    currentCounts: new DataLoader(async (subjects) => {
      const subscriptionIds = subjects.filter((subject) => subject !== TENANT_SUBJECT);
      const [bySubscription, ofTenant] = await Promise.all([
        subscriptionIds.length > 0 ? reader.stats.currentCounts({ subscriptionIds }) : new Map<string, CurrentCounts>(),
        subjects.includes(TENANT_SUBJECT) ? reader.stats.currentCounts('tenant') : new Map<string, CurrentCounts>(),
      ]);
      return subjects.map((subject) => (subject === TENANT_SUBJECT ? ofTenant : bySubscription).get(subject) ?? { pending: 0, held: 0 });
    }),
  };
}

export interface PlatformLoaders {
  tenantUsage: DataLoader<string, TenantUsageRow | undefined>;
}

/** `db`: the read pool (usage is a figure to show, not a quota check). */
export function createPlatformLoaders(db: Database): PlatformLoaders {
  return {
    tenantUsage: new DataLoader(async (tenantIds) => {
      const usage = await usageOfTenants(db, tenantIds, usagePeriod());
      return tenantIds.map((id) => usage.get(id));
    }),
  };
}
