import type { DisabledReason, SubscriptionRow } from '../db/schema.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { newId } from '../ids.js';
import { BUILT_IN_PREFIX } from './event-matching.js';
import { deliveryBody } from './delivery-body.js';
import { writeEvents } from './fan-out.js';
import type { Publisher } from './publisher.js';

/**
 * Built-in event types that Hooklane publishes into the tenant itself, so that the tenant's own
 * systems hear about their endpoints' health through the channel they already consume.
 */
export const BUILT_IN_EVENT_TYPES = {
  subscriptionDisabled: 'hooklane.subscription.disabled',
  subscriptionEnabled: 'hooklane.subscription.enabled',
  deliveryFailed: 'hooklane.delivery.failed',
} as const;

export const BUILT_IN_EVENT_TYPE_NAMES: readonly string[] = Object.values(BUILT_IN_EVENT_TYPES);

/** The version of every built-in event type's schema (src/publish/built-in-event-types.ts). */
export const BUILT_IN_EVENT_TYPE_VERSION = 1;

export function isBuiltInEventType(name: string): boolean {
  return name.startsWith(BUILT_IN_PREFIX);
}

async function publishOperational(publisher: Publisher, scope: TenantScope, eventType: string, payload: object): Promise<void> {
  const createdAt = new Date();
  await writeEvents(publisher, scope, [
    {
      id: newId('event'),
      eventType,
      body: deliveryBody(eventType, createdAt, payload),
      idempotencyKey: null,
      orderingKey: null,
      channels: null,
      eventTypeVersion: BUILT_IN_EVENT_TYPE_VERSION,
      createdAt,
      payload,
    },
  ]);
}

export function publishSubscriptionDisabled(
  publisher: Publisher,
  scope: TenantScope,
  subscription: Pick<SubscriptionRow, 'id' | 'url' | 'failingSince'>,
  reason: DisabledReason,
): Promise<void> {
  return publishOperational(publisher, scope, BUILT_IN_EVENT_TYPES.subscriptionDisabled, {
    subscriptionId: subscription.id,
    url: subscription.url,
    reason,
    failingSince: subscription.failingSince?.toISOString() ?? null,
  });
}

export function publishSubscriptionEnabled(
  publisher: Publisher,
  scope: TenantScope,
  subscription: Pick<SubscriptionRow, 'id' | 'url'>,
  releasedDeliveries: number,
): Promise<void> {
  return publishOperational(publisher, scope, BUILT_IN_EVENT_TYPES.subscriptionEnabled, {
    subscriptionId: subscription.id,
    url: subscription.url,
    releasedDeliveries,
  });
}

export function publishDeliveryFailed(
  publisher: Publisher,
  scope: TenantScope,
  failure: {
    deliveryId: string;
    eventId: string;
    eventType: string;
    subscriptionId: string;
    url: string;
    attempts: number;
    lastStatusCode: number | null;
    lastError: string | null;
  },
): Promise<void> {
  // Never about a built-in event: a failing receiver of delivery.failed must not feed itself.
  if (isBuiltInEventType(failure.eventType)) return Promise.resolve();
  return publishOperational(publisher, scope, BUILT_IN_EVENT_TYPES.deliveryFailed, failure);
}
