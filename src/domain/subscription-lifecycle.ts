import type { Executor } from '../db/client.js';
import type { DisabledReason, SubscriptionRow } from '../db/schema.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { scheduleDeliveries } from '../publish/fan-out.js';
import { publishSubscriptionDisabled, publishSubscriptionEnabled } from '../publish/operational-events.js';
import type { Publisher } from '../publish/publisher.js';

/**
 * Enabling and disabling, by the tenant or by endpoint health. Both run inside the caller's
 * transaction: the flag, the held deliveries' release and the operational event commit together.
 */
export async function disableSubscription(
  publisher: Publisher,
  scope: TenantScope,
  subscription: SubscriptionRow,
  reason: DisabledReason,
): Promise<SubscriptionRow> {
  if (!subscription.enabled) return subscription;
  const updated = (await scope.subscriptions.setEnabled(subscription.id, false, reason))!;
  await publishSubscriptionDisabled(publisher, scope, updated, reason);
  return updated;
}

/** Enables the subscription and sends its HELD deliveries in publish order. */
export async function enableSubscription(
  publisher: Publisher,
  scope: TenantScope,
  executor: Executor,
  subscription: SubscriptionRow,
): Promise<SubscriptionRow> {
  if (subscription.enabled) return subscription;
  const updated = (await scope.subscriptions.setEnabled(subscription.id, true, null))!;
  const released = await scope.deliveries.releaseHeld(subscription.id);
  await scheduleDeliveries(scope.tenantId, executor, released, new Map([[updated.id, updated]]), {
    drainInOrder: true,
    wakeStreams: true,
  });
  await publishSubscriptionEnabled(publisher, scope, updated, released.length);
  return updated;
}
