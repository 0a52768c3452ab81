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
  deliveriesOfEvent: DataLoader<string, DeliveryRow[]>;
  attemptsOfDelivery: DataLoader<string, DeliveryAttemptRow[]>;
  heldCount: DataLoader<string, number>;
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
    deliveriesOfEvent: new DataLoader(async (eventIds) => {
      const groups = groupBy(await scope.deliveries.listForEvents(eventIds), (row) => row.eventId);
      return eventIds.map((id) => groups.get(id) ?? []);
    }),
    attemptsOfDelivery: new DataLoader(async (deliveryIds) => {
      const groups = groupBy(await scope.deliveries.listAttempts(deliveryIds), (row) => row.deliveryId);
      return deliveryIds.map((id) => groups.get(id) ?? []);
    }),
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
