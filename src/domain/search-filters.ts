import { BadUserInputError } from '../errors.js';
import type { DeliveryStatus } from '../db/schema.js';
import type { DeliverySearch, EventSearch } from '../db/scoped/search.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH, MAX_NAME_LENGTH, MAX_ORDERING_KEY_LENGTH } from './input-rules.js';

/** How many event types one filter may list. */
export const MAX_FILTER_EVENT_TYPES = 20;

/** An `EventFilter` or `DeliveryFilter` as GraphQL hands it over. */
interface FilterInput {
  eventTypes?: readonly string[] | null;
  subscriptionId?: string | null;
  since?: Date | string | null;
  until?: Date | string | null;
}

function present<T>(value: T | null | undefined): value is T {
  return value !== null && value !== undefined;
}

function dateOf(value: Date | string, field: string): Date {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new BadUserInputError(`${field} is not a date-time`, field);
  return date;
}

function bounded(text: string, field: string, maxLength: number): string {
  if (text.length === 0 || text.length > maxLength) throw new BadUserInputError(`${field} must be 1 to ${maxLength} characters`, field);
  // PostgreSQL text cannot hold NUL: refused here, with the field, rather than by the database.
  if (text.includes('\u0000')) throw new BadUserInputError(`${field} must not contain NUL characters`, field);
  return text;
}

/** The fields both filters share, checked. */
function commonSearch(input: FilterInput, prefix: string): Pick<DeliverySearch, 'eventTypes' | 'subscriptionId' | 'since' | 'until'> {
  const search: Pick<DeliverySearch, 'eventTypes' | 'subscriptionId' | 'since' | 'until'> = {};
  if (present(input.eventTypes)) {
    if (input.eventTypes.length === 0 || input.eventTypes.length > MAX_FILTER_EVENT_TYPES) {
      throw new BadUserInputError(`eventTypes must list 1 to ${MAX_FILTER_EVENT_TYPES} event types`, `${prefix}eventTypes`);
    }
    search.eventTypes = [...new Set(input.eventTypes.map((name) => bounded(name, `${prefix}eventTypes`, MAX_NAME_LENGTH)))];
  }
  if (present(input.subscriptionId)) search.subscriptionId = bounded(input.subscriptionId, `${prefix}subscriptionId`, MAX_NAME_LENGTH);
  if (present(input.since)) search.since = dateOf(input.since, `${prefix}since`);
  if (present(input.until)) search.until = dateOf(input.until, `${prefix}until`);
  if (search.since && search.until && search.since >= search.until) {
    throw new BadUserInputError('since must be before until', `${prefix}since`);
  }
  return search;
}

/** `events(filter)`, checked: bad input is refused with the field it concerns. */
export function eventSearch(
  input: (FilterInput & { deliveryStatus?: DeliveryStatus | null; idempotencyKey?: string | null; orderingKey?: string | null }) | null | undefined,
): EventSearch {
  if (!input) return {};
  const search: EventSearch = commonSearch(input, 'filter.');
  if (present(input.deliveryStatus)) search.deliveryStatus = input.deliveryStatus;
  if (present(input.idempotencyKey)) search.idempotencyKey = bounded(input.idempotencyKey, 'filter.idempotencyKey', MAX_IDEMPOTENCY_KEY_LENGTH);
  if (present(input.orderingKey)) search.orderingKey = bounded(input.orderingKey, 'filter.orderingKey', MAX_ORDERING_KEY_LENGTH);
  return search;
}

/** `deliveries(filter)` and `retryDeliveries(filter)`, checked. */
export function deliverySearch(input: (FilterInput & { status?: DeliveryStatus | null }) | null | undefined, prefix = 'filter.'): DeliverySearch {
  if (!input) return {};
  const search: DeliverySearch = commonSearch(input, prefix);
  if (present(input.status)) search.status = input.status;
  return search;
}

/** A delivery search as a job payload carries it (JSON: dates as ISO strings). */
export interface StoredDeliverySearch {
  subscriptionId?: string;
  status?: DeliveryStatus;
  eventTypes?: string[];
  since?: string;
  until?: string;
}

export function storeDeliverySearch(search: DeliverySearch): StoredDeliverySearch {
  return {
    ...(search.subscriptionId !== undefined ? { subscriptionId: search.subscriptionId } : {}),
    ...(search.status !== undefined ? { status: search.status } : {}),
    ...(search.eventTypes ? { eventTypes: [...search.eventTypes] } : {}),
    ...(search.since ? { since: search.since.toISOString() } : {}),
    ...(search.until ? { until: search.until.toISOString() } : {}),
  };
}

export function loadDeliverySearch(stored: StoredDeliverySearch): DeliverySearch {
  return {
    ...(stored.subscriptionId !== undefined ? { subscriptionId: stored.subscriptionId } : {}),
    ...(stored.status !== undefined ? { status: stored.status } : {}),
    ...(stored.eventTypes ? { eventTypes: stored.eventTypes } : {}),
    ...(stored.since ? { since: new Date(stored.since) } : {}),
    ...(stored.until ? { until: new Date(stored.until) } : {}),
  };
}
