/// <reference lib="dom" />
// The Events & deliveries page: events newest first, filtered by the server (`events(filter)`) and
// paged with cursors (Load more): a filter searches every event, not only those loaded.
import type { Event, EventType, WebhookSubscription } from '@hooklane/sdk';
import { EVENTS_PAGE_SIZE, type ViewContext } from './context.js';
import { badge, h, json, replaceChildren, time } from './dom.js';
import { field } from './fields.js';
import { deliveriesShown, DELIVERY_STATUSES, eventFilterInput, NO_FILTERS, unique, type EventFilters } from './filters.js';

/** How long the page waits after a keystroke in a filter before it asks the server. */
const TYPING_DELAY_MS = 300;

function option(value: string, label: string, selected: string): HTMLOptionElement {
  return h('option', { value, selected: value === selected }, label);
}

export async function showEvents(view: ViewContext): Promise<void> {
  const { client, feedback, store } = view;
  const filters: EventFilters = (store.filters = { ...NO_FILTERS, ...store.filters });
  const list = h('div', { class: 'event-list', 'aria-live': 'polite' });
  const summary = h('p', { class: 'hint', id: 'events-summary' });
  const more = h('button', { type: 'button' }, 'Load more');
  /** The newest page request: an answer to an older one (filters changed since) is dropped. */
  let request = 0;
  let typing: ReturnType<typeof setTimeout> | undefined;
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const filterForm = h('form', { class: 'card filters', 'aria-label': 'Filters' });
  let types: EventType[] = store.eventTypes ?? [];
  let subscriptions: WebhookSubscription[] = store.subscriptions ?? [];

  const renderFilters = () => {
    const typeNames = unique([...types.map((type) => type.name), ...(filters.eventType ? [filters.eventType] : [])]).sort();
    const status = h(
      'select',
      { id: 'filter-status', name: 'status' },
      option('', 'Any status', filters.status),
      DELIVERY_STATUSES.map((value) => option(value, value, filters.status)),
    );
    const eventType = h(
      'select',
      { id: 'filter-event-type', name: 'eventType' },
      option('', 'Any event type', filters.eventType),
      typeNames.map((name) => option(name, name, filters.eventType)),
    );
    const subscription = h(
      'select',
      { id: 'filter-subscription', name: 'subscription' },
      option('', 'Any subscription', filters.subscriptionId),
      subscriptions.map((sub) => option(sub.id, sub.description ? `${sub.url} — ${sub.description}` : sub.url, filters.subscriptionId)),
    );
    const from = h('input', { id: 'filter-from', name: 'from', type: 'datetime-local', step: 1, value: filters.from });
    const to = h('input', { id: 'filter-to', name: 'to', type: 'datetime-local', step: 1, value: filters.to });
    const idempotencyKey = h('input', { id: 'filter-idempotency-key', name: 'idempotencyKey', type: 'search', value: filters.idempotencyKey, autocomplete: 'off' });
    const reset = h('button', { type: 'reset', class: 'link' }, 'Clear filters');
    replaceChildren(
      filterForm,
      field('Delivery status', status),
      field('Event type', eventType),
      field('Subscription', subscription),
      field('From', from),
      field('Until', to),
      field('Idempotency key', idempotencyKey),
      h('div', { class: 'field' }, reset),
    );
    const apply = () => {
      const next: EventFilters = {
        status: status.value as EventFilters['status'],
        eventType: eventType.value,
        subscriptionId: subscription.value,
        from: from.value,
        to: to.value,
        idempotencyKey: idempotencyKey.value,
      };
      if (JSON.stringify(next) === JSON.stringify(filters)) return;
      Object.assign(filters, next);
      void loadPage(true);
    };
    filterForm.onchange = apply;
    // Typing waits for a pause; picking from a list or a date applies at once (change).
    filterForm.oninput = (event) => {
      if (typing) clearTimeout(typing);
      if (event.target === idempotencyKey) typing = setTimeout(apply, TYPING_DELAY_MS);
      else apply();
    };
    filterForm.onreset = (event) => {
      event.preventDefault();
      Object.assign(filters, NO_FILTERS);
      renderFilters();
      void loadPage(true);
    };
    filterForm.onsubmit = (event) => event.preventDefault();
  };

  const replay = async (event: Event, button: HTMLButtonElement) => {
    const payload = await feedback.run('Replaying the event', () => client.replayEvent({ id: event.id }), { control: button });
    if (!payload || !view.isCurrent()) return;
    const fresh = await feedback.run('Reloading the event', () => client.event({ id: event.id }), { keepAlert: true });
    if (fresh && store.events) {
      store.events.items = store.events.items.map((item) => (item.id === fresh.id ? fresh : item));
      renderList();
    }
    const count = payload.deliveries.length;
    feedback.say(
      count === 0
        ? 'Replayed: no enabled subscription matches this event now, so nothing was sent.'
        : `Replayed ${event.eventType} as ${count} new ${count === 1 ? 'delivery' : 'deliveries'}.`,
    );
  };

  const renderList = () => {
    const loaded = store.events?.items ?? [];
    const filtered = eventFilterInput(filters) !== null;
    const count = `${loaded.length} ${loaded.length === 1 ? 'event' : 'events'}`;
    summary.textContent =
      (filtered ? `${count} ${loaded.length === 1 ? 'matches' : 'match'} the filters` : `${count} loaded`) +
      (store.events?.hasNextPage ? ' so far: Load more for older ones.' : '.');
    more.hidden = !store.events?.hasNextPage;
    if (!store.events) {
      replaceChildren(list);
      return;
    }
    if (loaded.length === 0) {
      replaceChildren(list, h('p', { class: 'empty' }, filtered ? 'No event matches the filters.' : 'No events yet.'));
      return;
    }
    const shown = loaded.map((event) => ({ event, deliveries: deliveriesShown(event, filters) }));
    replaceChildren(
      list,
      h(
        'table',
        { class: 'list', 'aria-label': 'Events' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Published'), h('th', {}, 'Event'), h('th', {}, 'Deliveries'), h('th', {}, 'Actions'))),
        h(
          'tbody',
          {},
          shown.map(({ event, deliveries }) => {
            const replayButton = h('button', { type: 'button', 'data-mutates': true }, 'Replay event');
            replayButton.onclick = () => replay(event, replayButton);
            return h(
              'tr',
              { 'data-event-id': event.id },
              h('td', {}, time(event.createdAt)),
              h(
                'td',
                {},
                h('div', { class: 'event-type' }, event.eventType),
                h('div', { class: 'id' }, event.id),
                event.payloadExpunged
                  ? h('div', { class: 'hint payload-erased' }, 'Payload erased')
                  : h('details', {}, h('summary', {}, 'Payload'), h('pre', {}, json(event.payload))),
              ),
              h(
                'td',
                {},
                deliveries.length === 0
                  ? h('span', { class: 'hint' }, event.deliveries.length === 0 ? 'No subscription matched.' : 'None match the filters.')
                  : h(
                      'ul',
                      { class: 'deliveries' },
                      deliveries.map((delivery) =>
                        h(
                          'li',
                          { 'data-delivery-id': delivery.id },
                          badge(delivery.status),
                          ' ',
                          h('a', { href: `#/deliveries/${encodeURIComponent(delivery.id)}` }, subscriptions.find((sub) => sub.id === delivery.subscriptionId)?.url ?? delivery.subscriptionId),
                          h('span', { class: 'hint' }, ` · ${delivery.attemptCount} ${delivery.attemptCount === 1 ? 'attempt' : 'attempts'}`),
                        ),
                      ),
                    ),
              ),
              h('td', { class: 'row-actions' }, replayButton),
            );
          }),
        ),
      ),
    );
  };

  const loadPage = async (reset: boolean) => {
    const current = ++request;
    const after = reset ? undefined : store.events?.endCursor;
    const filter = eventFilterInput(filters);
    const connection = await feedback.run(
      reset ? 'Loading events' : 'Loading older events',
      () => client.events({ first: EVENTS_PAGE_SIZE, after, filter }),
      { control: reset ? refresh : more, keepAlert: true },
    );
    if (!connection || !view.isCurrent() || current !== request) return;
    const items = connection.edges.map((edge) => edge.node);
    store.events = {
      items: reset ? items : [...(store.events?.items ?? []), ...items],
      endCursor: connection.pageInfo.endCursor ?? store.events?.endCursor ?? null,
      hasNextPage: connection.pageInfo.hasNextPage,
    };
    renderList();
  };
  more.onclick = () => loadPage(false);
  refresh.onclick = () => loadPage(true);

  replaceChildren(
    view.main,
    h('div', { class: 'title-row' }, h('h2', {}, 'Events & deliveries'), refresh),
    filterForm,
    summary,
    list,
    h('div', { class: 'actions' }, more),
  );
  renderFilters();
  renderList();

  // Lookups for the filters, then the newest page of events (always fresh on entering the page).
  const [loadedTypes, loadedSubscriptions] = await Promise.all([
    feedback.run('Loading event types', () => store.loadEventTypes(), { keepAlert: true }),
    feedback.run('Loading subscriptions', () => store.loadSubscriptions(), { keepAlert: true }),
  ]);
  if (!view.isCurrent()) return;
  if (loadedTypes) types = loadedTypes;
  if (loadedSubscriptions) subscriptions = loadedSubscriptions;
  renderFilters();
  await loadPage(true);
}
