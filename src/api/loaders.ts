import DataLoader from 'dataloader';
import type { DeliveryAttemptRow, DeliveryRow, EventRow, SubscriptionRow } from '../db/schema.js';
import type { Database } from '../db/client.js';
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

export function createLoaders(scope: TenantScope): Loaders {
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
  };
}

export interface PlatformLoaders {
  tenantUsage: DataLoader<string, TenantUsageRow | undefined>;
}

export function createPlatformLoaders(db: Database): PlatformLoaders {
  return {
    tenantUsage: new DataLoader(async (tenantIds) => {
      const usage = await usageOfTenants(db, tenantIds, usagePeriod());
      return tenantIds.map((id) => usage.get(id));
    }),
  };
}
