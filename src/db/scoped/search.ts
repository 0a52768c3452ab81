import { and, desc, eq, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';
import { unionAll } from 'drizzle-orm/pg-core';
import { idAt } from '../../ids.js';
import type { Executor } from '../client.js';
import { deliveries, eventIdempotencyKeys, events, subscriptions, type DeliveryStatus } from '../schema.js';

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
 * event_idempotency_keys_pkey, and a subscription or a delivery status the deliveries read by
 * deliveries_subscription_status_idx (per subscription of the tenant for a status alone).
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
    if (search.deliveryStatus !== undefined) matching.push(sql`d.status = ${search.deliveryStatus}`);
    // A delivery is made with or after its event: the window's start bounds the deliveries too.
    if (search.since) matching.push(sql`d.id >= ${idAt('delivery', search.since)}`);
    if (search.subscriptionId !== undefined) {
      matching.push(sql`d.subscription_id = ${search.subscriptionId}`);
      conditions.push(sql`${events.id} in (select d.event_id from ${deliveries} d where ${sql.join(matching, sql` and `)})`);
    } else {
      // A status alone: each subscription's deliveries in it, through deliveries_subscription_status_idx
      // (the order by, meaningless to `in`, is what that index reads in: the planner takes it).
      conditions.push(sql`${events.id} in (select d.event_id from ${subscriptions} s cross join lateral
        (select d.event_id from ${deliveries} d where d.subscription_id = s.id and ${sql.join(matching, sql` and `)} order by d.id desc) d
        where s.tenant_id = ${tenantId})`);
    }
  }
  return and(...conditions)!;
}

/**
 * The conditions of a delivery search, each served by an index that tenant_id leads (or, for the
 * subscription, that its id, unique to the tenant, leads): since/until bound the id (deliveries_pkey,
 * pruning partitions), a subscription deliveries_subscription_status_idx, a status alone the same
 * index per subscription (deliverySearchQuery), event types events_tenant_type_idx.
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

const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['PENDING', 'SUCCEEDED', 'FAILED', 'HELD'];

/**
 * The page of an event search: newest first, `limit` rows whose id is below `beforeId`. Several
 * event types are one branch each, merged: each branch reads events_tenant_type_idx in id order
 * and stops after `limit` rows, where one `event_type in (…)` scan would sort every match.
 */
export function eventSearchQuery(db: Executor, tenantId: string, search: EventSearch, beforeId: string | undefined, limit: number) {
  const branch = (part: EventSearch) =>
    db
      .select()
      .from(events)
      .where(and(eventSearchConditions(tenantId, part), beforeId ? lt(events.id, beforeId) : undefined))
      .orderBy(desc(events.id))
      .limit(limit);
  const types = search.eventTypes ?? [];
  if (types.length <= 1) return branch(search);
  const [first, second, ...rest] = types.map((eventType) => branch({ ...search, eventTypes: [eventType] }));
  return unionAll(first!, second!, ...rest).orderBy(sql`id desc`).limit(limit);
}

/**
 * The page of a delivery search: newest first, `limit` rows whose id is below `beforeId`. A
 * subscription without a status is one branch per status, merged, each reading
 * deliveries_subscription_status_idx in id order (see eventSearchQuery). A status other than
 * SUCCEEDED without a subscription reads that index once per subscription of the tenant, `limit`
 * rows at most each: no index of deliveries by tenant and status is written with every delivery.
 * SUCCEEDED, what most deliveries come to, is found at once in deliveries_pkey, newest first.
 */
export function deliverySearchQuery(db: Executor, tenantId: string, search: DeliverySearch, beforeId: string | undefined, limit: number) {
  const before = beforeId ? lt(deliveries.id, beforeId) : undefined;
  const branch = (part: DeliverySearch) =>
    db
      .select()
      .from(deliveries)
      .where(and(deliverySearchConditions(tenantId, part), before))
      .orderBy(desc(deliveries.id))
      .limit(limit);
  if (search.subscriptionId === undefined && search.status !== undefined && search.status !== 'SUCCEEDED') {
    const perSubscription = db
      .select()
      .from(deliveries)
      .where(and(deliverySearchConditions(tenantId, search), eq(deliveries.subscriptionId, subscriptions.id), before))
      .orderBy(desc(deliveries.id))
      .limit(limit)
      .as('d');
    return db
      .select(perSubscription._.selectedFields)
      .from(subscriptions)
      .innerJoinLateral(perSubscription, sql`true`)
      .where(eq(subscriptions.tenantId, tenantId))
      .orderBy(desc(perSubscription.id))
      .limit(limit);
  }
  if (search.subscriptionId === undefined || search.status !== undefined) return branch(search);
  const [first, second, ...rest] = DELIVERY_STATUSES.map((status) => branch({ ...search, status }));
  return unionAll(first!, second!, ...rest).orderBy(sql`id desc`).limit(limit);
}
