import type { QuotaDefaults } from '../config.js';
import type { TenantRow } from '../db/schema.js';
import type { EventWrite, QuotaRefusal } from '../db/scoped/events.js';
import { usagePeriod } from '../db/scoped/tenant.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { QuotaExceededError } from '../errors.js';

export type Quotas = QuotaDefaults;

/** The limits in force for a tenant: its own overrides, else the configured defaults. */
export function effectiveQuotas(tenant: TenantRow, defaults: QuotaDefaults): Quotas {
  return {
    publishRate: tenant.quotaPublishRate ?? defaults.publishRate,
    publishBurst: tenant.quotaPublishBurst ?? defaults.publishBurst,
    eventsPerMonth: tenant.quotaEventsPerMonth ?? defaults.eventsPerMonth,
    subscriptions: tenant.quotaSubscriptions ?? defaults.subscriptions,
    eventTypes: tenant.quotaEventTypes ?? defaults.eventTypes,
    payloadBytes: tenant.quotaPayloadBytes ?? defaults.payloadBytes,
    deliveriesInFlight: tenant.quotaDeliveriesInFlight ?? defaults.deliveriesInFlight,
  };
}

/** How long a tenant's events are kept: its own retention, else RETENTION. */
export function effectiveRetentionMs(tenant: TenantRow, defaultMs: number): number {
  return tenant.quotaRetentionMs ?? defaultMs;
}

/** The publish budget that publishing `count` events takes from, in the statement that writes them. */
export function publishBudget(count: number, quotas: Quotas): NonNullable<EventWrite['quota']> {
  return { count, rate: quotas.publishRate, burst: quotas.publishBurst, monthlyLimit: quotas.eventsPerMonth, period: usagePeriod() };
}

/** QUOTA_EXCEEDED for a refused publish, with the `retryAfter` that the budget's state implies. */
export function publishQuotaExceeded(count: number, quotas: Quotas, refusal: QuotaRefusal, now: Date = new Date()): QuotaExceededError {
  if (refusal.quota === 'eventsPerMonth') {
    const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    return new QuotaExceededError(
      `Monthly event quota exceeded (${quotas.eventsPerMonth} events)`,
      Math.max(1, Math.ceil((nextMonth - now.getTime()) / 1000)),
    );
  }
  if (refusal.quota !== 'publishRate' || count > refusal.burst) {
    return new QuotaExceededError(`Publishing ${count} events at once exceeds the publish burst of ${quotas.publishBurst}`);
  }
  return new QuotaExceededError(
    `Publish rate quota exceeded (${quotas.publishRate} events/s, burst ${quotas.publishBurst})`,
    Math.max(1, Math.ceil((count - refusal.tokens) / refusal.rate)),
  );
}

/** Inside a transaction: locks the tenant and refuses when one more object would pass the quota. */
export async function assertRoomFor(scope: TenantScope, what: 'subscriptions' | 'eventTypes', quotas: Quotas): Promise<void> {
  await scope.tenant.lock();
  const current = what === 'subscriptions' ? await scope.tenant.countSubscriptions() : await scope.tenant.countEventTypes();
  if (current >= quotas[what]) {
    const label = what === 'subscriptions' ? 'subscriptions' : 'event types';
    throw new QuotaExceededError(`The tenant already has ${current} ${label}, its quota`);
  }
}
