/// <reference lib="dom" />
// A list of deliveries for one fixed filter, newest first, filtered by the server
// (`deliveries(filter)`) and paged with cursors (Load more), each with its attempt log. The
// Deliveries page shows it for the filters picked; a page about one subscription embeds it with
// `{ subscriptionId }`.
import type { DeliveryFilter, DeliveryListItem, HooklaneClient, WebhookSubscription } from '@hooklane/sdk';
import { attemptLog } from './delivery.js';
import { badge, h, replaceChildren, time } from './dom.js';
import type { Feedback } from './feedback.js';

/** Deliveries per page: each comes with up to DeliveriesDocument's 25 attempts, well under the API's cost limit. */
export const DELIVERIES_PAGE_SIZE = 25;

export interface DeliveriesLogContext {
  client: HooklaneClient;
  feedback: Feedback;
  /** False once the page that holds the list is gone: answers arriving later are dropped. */
  isCurrent(): boolean;
  /** To show a subscription's URL rather than its id (optional). */
  subscriptions?: readonly WebhookSubscription[];
}

export interface DeliveriesLog {
  /** Reads the first page again (after a retry, say). */
  reload(): Promise<void>;
  /** Resolves once the first page is shown (or its error). */
  ready: Promise<void>;
}

/** Renders the deliveries that match `filter` into `container` (its children are replaced). */
export function renderDeliveriesLog(container: HTMLElement, filter: DeliveryFilter, context: DeliveriesLogContext): DeliveriesLog {
  const { client, feedback } = context;
  const summary = h('p', { class: 'hint deliveries-summary' });
  const list = h('div', { class: 'delivery-list', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  let items: DeliveryListItem[] = [];
  let endCursor: string | null = null;
  let hasNextPage = false;
  let loaded = false;
  let request = 0;
  const filtered = Object.keys(filter).length > 0;

  const subscriptionLabel = (id: string) => context.subscriptions?.find((subscription) => subscription.id === id)?.url ?? id;

  const render = () => {
    const count = `${items.length} ${items.length === 1 ? 'delivery' : 'deliveries'}`;
    summary.textContent = loaded
      ? `${filtered ? `${count} ${items.length === 1 ? 'matches' : 'match'} the filters` : `${count} loaded`}${hasNextPage ? ' so far: Load more for older ones.' : '.'}`
      : '';
    more.hidden = !hasNextPage;
    if (!loaded) return replaceChildren(list);
    if (items.length === 0) {
      return replaceChildren(list, h('p', { class: 'empty' }, filtered ? 'No delivery matches the filters.' : 'No deliveries yet.'));
    }
    replaceChildren(
      list,
      h(
        'table',
        { class: 'list', 'aria-label': 'Deliveries' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Created'), h('th', {}, 'Status'), h('th', {}, 'Event'), h('th', {}, 'Subscription'), h('th', {}, 'Attempts'))),
        // One tbody per delivery: its row, and its attempt log in a full-width row under it.
        items.map((delivery) => {
          const log = h(
            'tr',
            { class: 'attempt-row', hidden: true },
            h(
              'td',
              { colspan: 5 },
              attemptLog(delivery.attempts, delivery.status),
              delivery.attemptCount > delivery.attempts.length
                ? h('p', { class: 'hint' }, h('a', { href: `#/deliveries/${encodeURIComponent(delivery.id)}` }, `All ${delivery.attemptCount} attempts`))
                : null,
            ),
          );
          const toggle = h(
            'button',
            { type: 'button', class: 'link', 'aria-expanded': 'false' },
            `${delivery.attemptCount} ${delivery.attemptCount === 1 ? 'attempt' : 'attempts'}`,
          );
          toggle.onclick = () => {
            log.hidden = !log.hidden;
            toggle.setAttribute('aria-expanded', String(!log.hidden));
          };
          return h(
            'tbody',
            { class: 'delivery-entry' },
            h(
              'tr',
              { 'data-delivery-id': delivery.id },
              h('td', {}, time(delivery.createdAt)),
              h('td', { class: 'delivery-status' }, badge(delivery.status)),
              h('td', {}, h('div', { class: 'event-type' }, delivery.event.eventType), h('div', { class: 'id' }, delivery.event.id)),
              h('td', {}, h('a', { href: `#/deliveries/${encodeURIComponent(delivery.id)}` }, subscriptionLabel(delivery.subscriptionId))),
              h('td', {}, toggle),
            ),
            log,
          );
        }),
      ),
    );
  };

  const load = async (reset: boolean): Promise<void> => {
    const current = ++request;
    const connection = await feedback.run(
      reset ? 'Loading deliveries' : 'Loading older deliveries',
      () => client.deliveries({ first: DELIVERIES_PAGE_SIZE, after: reset ? undefined : endCursor, filter }),
      { control: reset ? undefined : more, keepAlert: true },
    );
    if (!connection || !context.isCurrent() || current !== request) return;
    const page = connection.edges.map((edge) => edge.node);
    items = reset ? page : [...items, ...page];
    endCursor = connection.pageInfo.endCursor ?? endCursor;
    hasNextPage = connection.pageInfo.hasNextPage;
    loaded = true;
    render();
  };
  more.onclick = () => load(false);

  replaceChildren(container, summary, list, h('div', { class: 'actions' }, more));
  render();
  return { reload: () => load(true), ready: load(true) };
}
