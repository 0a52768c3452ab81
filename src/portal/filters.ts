// The filters of the portal's lists, as the form holds them and as the API takes them
// (`events(filter)`, `deliveries(filter)`): the server filters, the portal never filters what it
// loaded. No DOM here.
import type { DeliveryFilter, DeliveryStatus, Event, EventFilter } from '@hooklane/sdk';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['PENDING', 'SUCCEEDED', 'FAILED', 'HELD'];

export interface EventFilters {
  /** Events with a delivery in this status ('' = any). */
  status: DeliveryStatus | '';
  /** An event type name ('' = any). */
  eventType: string;
  /** Events with a delivery to this subscription ('' = any). */
  subscriptionId: string;
  /** Inclusive lower bound, a `datetime-local` value in local time ('' = none). */
  from: string;
  /** Exclusive upper bound, a `datetime-local` value in local time ('' = none). */
  to: string;
  /** The event published with this idempotency key ('' = any). */
  idempotencyKey: string;
}

export const NO_FILTERS: EventFilters = { status: '', eventType: '', subscriptionId: '', from: '', to: '', idempotencyKey: '' };

export type EventDelivery = Event['deliveries'][number];

/** A `datetime-local` value (local time) as an ISO date-time, or undefined when empty or invalid. */
export function isoFromLocal(value: string): string | undefined {
  if (!value) return undefined;
  const time = new Date(value).getTime();
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

/** The events page's filters as `events(filter)` takes them; null when none is set. */
export function eventFilterInput(filters: EventFilters): EventFilter | null {
  const filter: EventFilter = {};
  if (filters.status) filter.deliveryStatus = filters.status;
  if (filters.eventType) filter.eventTypes = [filters.eventType];
  if (filters.subscriptionId) filter.subscriptionId = filters.subscriptionId;
  const since = isoFromLocal(filters.from);
  const until = isoFromLocal(filters.to);
  if (since) filter.since = since;
  if (until) filter.until = until;
  if (filters.idempotencyKey.trim()) filter.idempotencyKey = filters.idempotencyKey.trim();
  return Object.keys(filter).length === 0 ? null : filter;
}

/** The deliveries of an event that the status and subscription filters name: what its row shows. */
export function deliveriesShown(event: Event, filters: Pick<EventFilters, 'status' | 'subscriptionId'>): EventDelivery[] {
  return event.deliveries.filter(
    (delivery) =>
      (filters.status === '' || delivery.status === filters.status) &&
      (filters.subscriptionId === '' || delivery.subscriptionId === filters.subscriptionId),
  );
}

/** The deliveries page's filters, as the form holds them. */
export interface DeliveryFilters {
  subscriptionId: string;
  status: DeliveryStatus | '';
  /** Event type names, comma- or space-separated ('' = any). */
  eventTypes: string;
  from: string;
  to: string;
}

export const NO_DELIVERY_FILTERS: DeliveryFilters = { subscriptionId: '', status: '', eventTypes: '', from: '', to: '' };

/** The deliveries page's filters as `deliveries(filter)` and `retryDeliveries` take them. */
export function deliveryFilterInput(filters: DeliveryFilters): DeliveryFilter {
  const filter: DeliveryFilter = {};
  if (filters.subscriptionId) filter.subscriptionId = filters.subscriptionId;
  if (filters.status) filter.status = filters.status;
  const eventTypes = parseEventTypeList(filters.eventTypes);
  if (eventTypes.length > 0) filter.eventTypes = eventTypes;
  const since = isoFromLocal(filters.from);
  const until = isoFromLocal(filters.to);
  if (since) filter.since = since;
  if (until) filter.until = until;
  return filter;
}

/** Whether `name` matches a pattern with the API's wildcard rule (`a.*` matches `a.b` and `a.b.c`; `*` all). */
export function eventTypeMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

/** Splits wildcard text (`invoice.*, order.created`) into event type names. */
export function parseEventTypeList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

export function unique<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}
