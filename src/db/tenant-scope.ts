import type { Database, Executor } from './client.js';
import { DeliveryStore } from './scoped/deliveries.js';
import { EventStore } from './scoped/events.js';
import { EventTypeStore } from './scoped/event-types.js';
import { SubscriptionStore } from './scoped/subscriptions.js';

/**
 * The one way to reach a tenant's data: every store it hands out filters and writes by the
 * tenant id it was built with, so another tenant's rows are simply not there.
 */
export class TenantScope {
  readonly eventTypes: EventTypeStore;
  readonly subscriptions: SubscriptionStore;
  readonly events: EventStore;
  readonly deliveries: DeliveryStore;

  constructor(
    private readonly executor: Executor,
    readonly tenantId: string,
  ) {
    this.eventTypes = new EventTypeStore(executor, tenantId);
    this.subscriptions = new SubscriptionStore(executor, tenantId);
    this.events = new EventStore(executor, tenantId);
    this.deliveries = new DeliveryStore(executor, tenantId);
  }

  /** Runs `work` in one transaction with a scope bound to it; `tx` is for job enqueueing. */
  async transaction<T>(work: (scope: TenantScope, tx: Executor) => Promise<T>): Promise<T> {
    return (this.executor as Database).transaction((tx) => work(new TenantScope(tx, this.tenantId), tx));
  }
}
