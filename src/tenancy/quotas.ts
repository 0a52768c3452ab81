import type { QuotaDefaults } from '../config.js';
import type { TenantRow } from '../db/schema.js';
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

/**
 * Reserves `count` events of the tenant's publish budget, or throws QUOTA_EXCEEDED with
 * `retryAfter`. Reservation happens before the publishing transaction, in statements of its own,
 * so the tenant's row is locked only for an instant; `release` gives it back if the publish fails.
 */
export async function reservePublishQuota(scope: TenantScope, count: number, quotas: Quotas): Promise<{ release(): Promise<void> }> {
  const reservation = await scope.tenant.reservePublish(count, {
    rate: quotas.publishRate,
    burst: quotas.publishBurst,
    monthlyLimit: quotas.eventsPerMonth,
  });
  if (!reservation.ok) {
    if (reservation.quota === 'publishRate') {
      throw new QuotaExceededError(
        reservation.retryAfterSeconds === undefined
          ? `Publishing ${count} events at once exceeds the publish burst of ${quotas.publishBurst}`
          : `Publish rate quota exceeded (${quotas.publishRate} events/s, burst ${quotas.publishBurst})`,
        reservation.retryAfterSeconds,
      );
    }
    throw new QuotaExceededError(`Monthly event quota exceeded (${quotas.eventsPerMonth} events)`, reservation.retryAfterSeconds);
  }
  return { release: () => scope.tenant.refundPublish(count) };
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
