// Client-side filtering of the events the portal has fetched: the `events` query takes only
// `first` and `after`, so filters apply to the pages loaded so far. No DOM here.
import type { DeliveryStatus, Event } from '@hooklane/sdk';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['PENDING', 'SUCCEEDED', 'FAILED', 'HELD'];

export interface EventFilters {
  /** Keep events with a delivery in this status ('' = any). */
  status: DeliveryStatus | '';
  /** An event type name, or a wildcard such as `invoice.*` ('' = any). */
  eventType: string;
  /** Keep events with a delivery to this subscription ('' = any). */
  subscriptionId: string;
  /** Inclusive lower bound, a `datetime-local` value in local time ('' = none). */
  from: string;
  /** Exclusive upper bound, a `datetime-local` value in local time ('' = none). */
  to: string;
}

export const NO_FILTERS: EventFilters = { status: '', eventType: '', subscriptionId: '', from: '', to: '' };

export type EventDelivery = Event['deliveries'][number];

export interface FilteredEvent {
  event: Event;
  /** The event's deliveries that pass the status and subscription filters. */
  deliveries: EventDelivery[];
}

/** Whether `name` matches a pattern with the API's wildcard rule (`a.*` matches `a.b` and `a.b.c`; `*` all). */
export function eventTypeMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

function localTime(value: string): number | undefined {
  if (!value) return undefined;
  const time = new Date(value).getTime();
  return Number.isNaN(time) ? undefined : time;
}

export function filterEvents(events: readonly Event[], filters: EventFilters): FilteredEvent[] {
  const from = localTime(filters.from);
  const to = localTime(filters.to);
  const byDelivery = filters.status !== '' || filters.subscriptionId !== '';
  const result: FilteredEvent[] = [];
  for (const event of events) {
    if (filters.eventType && !eventTypeMatches(filters.eventType, event.eventType)) continue;
    const created = Date.parse(event.createdAt);
    if (from !== undefined && created < from) continue;
    if (to !== undefined && created >= to) continue;
    const deliveries = event.deliveries.filter(
      (delivery) =>
        (filters.status === '' || delivery.status === filters.status) &&
        (filters.subscriptionId === '' || delivery.subscriptionId === filters.subscriptionId),
    );
    if (byDelivery && deliveries.length === 0) continue;
    result.push({ event, deliveries });
  }
  return result;
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
