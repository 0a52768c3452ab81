import type { QuotaDefaults } from '../config.js';
import type { TenantRow } from '../db/schema.js';
import type { EventWrite, QuotaRefusal } from '../db/scoped/events.js';
import { usagePeriod, type PublishTokens } from '../db/scoped/tenant.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { NotFoundError, QuotaExceededError } from '../errors.js';

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

/** What a test event takes: a token of the publish rate, and nothing of the month's allowance. */
export function testEventBudget(quotas: Quotas): NonNullable<EventWrite['quota']> {
  return { ...publishBudget(1, quotas), monthlyLimit: null };
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

/**
 * The publish-rate budget re-sends take from: the configured defaults (QUOTA_PUBLISH_RATE,
 * QUOTA_PUBLISH_BURST); the tenant's own rate and burst, where an operator set them, are read
 * where the tokens are taken.
 */
export type ResendBudget = Pick<QuotaDefaults, 'publishRate' | 'publishBurst'>;

/**
 * Takes `count` tokens, one per delivery re-sent (retried, replayed, recovered), from the tenant's
 * publish-rate bucket, in the transaction `scope` is bound to: the refusal throws
 * QuotaExceededError (with retryAfter, unless `count` exceeds the burst) and that transaction
 * writes nothing. Re-sends are not new events: eventsPerMonth is not touched. The tenant's row
 * stays locked until the transaction ends, so call this after the transaction's other writes, as
 * publishing takes its quota last.
 */
export async function takeResendTokens(scope: TenantScope, count: number, budget: ResendBudget): Promise<void> {
  if (!scope.inTransaction) throw new Error('takeResendTokens runs in the transaction that writes the re-sends');
  if (count === 0) return;
  const bucket = await takePublishTokens(scope, count, budget);
  if (!bucket.ok) throw resendQuotaExceeded(count, bucket);
}

/**
 * Refuses, as takeResendTokens would refuse one re-send, when the tenant's bucket has less than
 * one token; takes nothing. For a re-send that a job paces (recoverSubscription): started with an
 * empty bucket it could send nothing yet.
 */
export async function assertResendTokenLeft(scope: TenantScope, budget: ResendBudget): Promise<void> {
  const bucket = await takePublishTokens(scope, 0, budget);
  if (bucket.tokens < 1) throw resendQuotaExceeded(1, bucket);
}

/** The tenant's publish-rate bucket after taking `count` tokens (none when refused). */
export async function takePublishTokens(scope: TenantScope, count: number, budget: ResendBudget): Promise<PublishTokens> {
  const bucket = await scope.tenant.takePublishTokens(count, { rate: budget.publishRate, burst: budget.publishBurst });
  if (!bucket) throw new NotFoundError('Tenant', scope.tenantId);
  return bucket;
}

/** QUOTA_EXCEEDED for `count` re-sends the bucket refused, with the `retryAfter` its state implies. */
export function resendQuotaExceeded(count: number, bucket: Pick<PublishTokens, 'tokens' | 'rate' | 'burst'>): QuotaExceededError {
  if (count > bucket.burst) {
    return new QuotaExceededError(`Re-sending ${count} deliveries at once exceeds the publish burst of ${bucket.burst}`);
  }
  return new QuotaExceededError(
    `Publish rate quota exceeded: re-sends take one token per delivery (${bucket.rate}/s, burst ${bucket.burst})`,
    Math.max(1, Math.ceil((count - bucket.tokens) / bucket.rate)),
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
