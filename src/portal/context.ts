/// <reference lib="dom" />
import type { Event, EventType, HooklaneClient, WebhookSubscription } from '@hooklane/sdk';
import type { EventFilters } from './filters.js';
import type { Feedback } from './feedback.js';

/** How many items one request asks for (the API's default ceiling is 100). */
export const PAGE_SIZE = 50;
/**
 * Events come with up to 100 deliveries each, and the API costs a page by that: 40 events (cost
 * about 4,200) stay under the default cost limit of 5,000.
 */
export const EVENTS_PAGE_SIZE = 40;
/** Event types and subscriptions are read whole for pickers and filters, up to this many pages. */
const MAX_LOOKUP_PAGES = 10;

/** What a view needs: the SDK client, feedback, where to render, and whether it is still shown. */
export interface ViewContext {
  client: HooklaneClient;
  feedback: Feedback;
  main: HTMLElement;
  /** False once the user navigated elsewhere: async work and polling stop touching the page. */
  isCurrent(): boolean;
  store: Store;
}

/** State kept across navigations (e.g. back from a delivery to the filtered events). */
export class Store {
  eventTypes: EventType[] | undefined;
  subscriptions: WebhookSubscription[] | undefined;
  events: { items: Event[]; endCursor: string | null; hasNextPage: boolean } | undefined;
  filters: EventFilters | undefined;

  constructor(private readonly client: HooklaneClient) {}

  async loadEventTypes(force = false): Promise<EventType[]> {
    if (this.eventTypes && !force) return this.eventTypes;
    const all: EventType[] = [];
    let after: string | null | undefined;
    for (let page = 0; page < MAX_LOOKUP_PAGES; page++) {
      const connection = await this.client.eventTypes({ first: 100, after });
      all.push(...connection.edges.map((edge) => edge.node));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    this.eventTypes = all;
    return all;
  }

  /** Every subscription (for the events filter). */
  async loadSubscriptions(force = false): Promise<WebhookSubscription[]> {
    if (this.subscriptions && !force) return this.subscriptions;
    const all: WebhookSubscription[] = [];
    let after: string | null | undefined;
    for (let page = 0; page < MAX_LOOKUP_PAGES; page++) {
      const connection = await this.client.subscriptions({ first: 100, after });
      all.push(...connection.edges.map((edge) => edge.node));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    this.subscriptions = all;
    return all;
  }

  /** Forget the lookups a change made stale. */
  invalidateSubscriptions(): void {
    this.subscriptions = undefined;
  }
}
