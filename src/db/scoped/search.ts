import { and, desc, eq, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';
import { idAt } from '../../ids.js';
import type { Executor } from '../client.js';
import { deliveries, eventIdempotencyKeys, events, type DeliveryStatus } from '../schema.js';

/** What `events(filter)` matches, checked (src/domain/search-filters.ts). */
export interface EventSearch {
  eventTypes?: readonly string[];
  subscriptionId?: string;
  deliveryStatus?: DeliveryStatus;
  since?: Date;
  until?: Date;
  idempotencyKey?: string;
  orderingKey?: string;
}

/** What `deliveries(filter)` and `retryDeliveries` match, checked (src/domain/search-filters.ts). */
export interface DeliverySearch {
  subscriptionId?: string;
  status?: DeliveryStatus;
  eventTypes?: readonly string[];
  since?: Date;
  until?: Date;
}

/**
 * The conditions of an event search. Every one is served by an index that tenant_id leads:
 * since/until bound the id (events_pkey, and they prune partitions), eventTypes
 * events_tenant_type_idx, orderingKey events_tenant_ordering_key_idx, idempotencyKey
 * event_idempotency_keys_pkey, and a subscription or delivery status the deliveries read by
 * deliveries_subscription_status_idx or deliveries_tenant_status_idx.
 */
export function eventSearchConditions(tenantId: string, search: EventSearch): SQL {
  const conditions: (SQL | undefined)[] = [eq(events.tenantId, tenantId)];
  if (search.since) conditions.push(gte(events.id, idAt('event', search.since)));
  if (search.until) conditions.push(lt(events.id, idAt('event', search.until)));
  if (search.eventTypes) conditions.push(inArray(events.eventType, [...search.eventTypes]));
  if (search.orderingKey !== undefined) conditions.push(eq(events.orderingKey, search.orderingKey));
  if (search.idempotencyKey !== undefined) {
    conditions.push(
      sql`${events.id} in (select ${eventIdempotencyKeys.eventId} from ${eventIdempotencyKeys}
        where ${eventIdempotencyKeys.tenantId} = ${tenantId} and ${eventIdempotencyKeys.idempotencyKey} = ${search.idempotencyKey})`,
    );
  }
  if (search.subscriptionId !== undefined || search.deliveryStatus !== undefined) {
    const matching: SQL[] = [sql`d.tenant_id = ${tenantId}`];
    if (search.subscriptionId !== undefined) matching.push(sql`d.subscription_id = ${search.subscriptionId}`);
    if (search.deliveryStatus !== undefined) matching.push(sql`d.status = ${search.deliveryStatus}`);
    // A delivery is made with or after its event: the window's start bounds the deliveries too.
    if (search.since) matching.push(sql`d.id >= ${idAt('delivery', search.since)}`);
    conditions.push(sql`${events.id} in (select d.event_id from ${deliveries} d where ${sql.join(matching, sql` and `)})`);
  }
  return and(...conditions)!;
}

/**
 * The conditions of a delivery search, each served by an index that tenant_id leads (or, for the
 * subscription, that its id, unique to the tenant, leads): since/until bound the id (deliveries_pkey,
 * pruning partitions), a subscription deliveries_subscription_status_idx, a status other than
 * SUCCEEDED deliveries_tenant_status_idx, event types events_tenant_type_idx.
 */
export function deliverySearchConditions(tenantId: string, search: DeliverySearch): SQL {
  const conditions: (SQL | undefined)[] = [eq(deliveries.tenantId, tenantId)];
  if (search.since) conditions.push(gte(deliveries.id, idAt('delivery', search.since)));
  if (search.until) conditions.push(lt(deliveries.id, idAt('delivery', search.until)));
  if (search.subscriptionId !== undefined) conditions.push(eq(deliveries.subscriptionId, search.subscriptionId));
  if (search.status !== undefined) conditions.push(eq(deliveries.status, search.status));
  if (search.eventTypes) {
    const matching: SQL[] = [sql`e.tenant_id = ${tenantId}`, sql`e.event_type in (${sql.join(search.eventTypes.map((name) => sql`${name}`), sql`, `)})`];
    // An event is made before its deliveries: the window's end bounds the events too.
    if (search.until) matching.push(sql`e.id < ${idAt('event', search.until)}`);
    conditions.push(sql`${deliveries.eventId} in (select e.id from ${events} e where ${sql.join(matching, sql` and `)})`);
  }
  return and(...conditions)!;
}

/** The page of an event search: newest first, `limit` rows whose id is below `beforeId`. */
export function eventSearchQuery(db: Executor, tenantId: string, search: EventSearch, beforeId: string | undefined, limit: number) {
  return db
    .select()
    .from(events)
    .where(and(eventSearchConditions(tenantId, search), beforeId ? lt(events.id, beforeId) : undefined))
    .orderBy(desc(events.id))
    .limit(limit);
}

/** The page of a delivery search: newest first, `limit` rows whose id is below `beforeId`. */
export function deliverySearchQuery(db: Executor, tenantId: string, search: DeliverySearch, beforeId: string | undefined, limit: number) {
  return db
    .select()
    .from(deliveries)
    .where(and(deliverySearchConditions(tenantId, search), beforeId ? lt(deliveries.id, beforeId) : undefined))
    .orderBy(desc(deliveries.id))
    .limit(limit);
}
