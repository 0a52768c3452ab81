/// <reference lib="dom" />
// The Events & deliveries page: events newest first, paginated with `after`, filtered client-side.
import type { Event, EventType, WebhookSubscription } from '@hooklane/sdk';
import { EVENTS_PAGE_SIZE, type ViewContext } from './context.js';
import { badge, h, json, replaceChildren, time } from './dom.js';
import { DELIVERY_STATUSES, filterEvents, NO_FILTERS, unique, type EventFilters } from './filters.js';

function option(value: string, label: string, selected: string): HTMLOptionElement {
  return h('option', { value, selected: value === selected }, label);
}

export async function showEvents(view: ViewContext): Promise<void> {
  const { client, feedback, store } = view;
  const filters: EventFilters = (store.filters ??= { ...NO_FILTERS });
  const list = h('div', { class: 'event-list', 'aria-live': 'polite' });
  const summary = h('p', { class: 'hint', id: 'events-summary' });
  const more = h('button', { type: 'button' }, 'Load older events');
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const filterForm = h('form', { class: 'card filters', 'aria-label': 'Filters' });
  let types: EventType[] = store.eventTypes ?? [];
  let subscriptions: WebhookSubscription[] = store.subscriptions ?? [];

  const renderFilters = () => {
    const typeNames = unique([...types.map((type) => type.name), ...(store.events?.items ?? []).map((event) => event.eventType)]).sort();
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
    const reset = h('button', { type: 'reset', class: 'link' }, 'Clear filters');
    replaceChildren(
      filterForm,
      h('div', { class: 'field' }, h('label', { for: 'filter-status' }, 'Delivery status'), status),
      h('div', { class: 'field' }, h('label', { for: 'filter-event-type' }, 'Event type'), eventType),
      h('div', { class: 'field' }, h('label', { for: 'filter-subscription' }, 'Subscription'), subscription),
      h('div', { class: 'field' }, h('label', { for: 'filter-from' }, 'From'), from),
      h('div', { class: 'field' }, h('label', { for: 'filter-to' }, 'Until'), to),
      h('div', { class: 'field' }, reset),
    );
    filterForm.oninput = filterForm.onchange = () => {
      filters.status = status.value as EventFilters['status'];
      filters.eventType = eventType.value;
      filters.subscriptionId = subscription.value;
      filters.from = from.value;
      filters.to = to.value;
      renderList();
    };
    filterForm.onreset = (event) => {
      event.preventDefault();
      Object.assign(filters, NO_FILTERS);
      renderFilters();
      renderList();
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
    const shown = filterEvents(loaded, filters);
    const filtered = shown.length !== loaded.length || filters.status !== '' || filters.subscriptionId !== '';
    summary.textContent =
      (filtered
        ? `${shown.length} of ${loaded.length} loaded ${loaded.length === 1 ? 'event' : 'events'} ${shown.length === 1 ? 'matches' : 'match'} the filters`
        : `${loaded.length} ${loaded.length === 1 ? 'event' : 'events'} loaded`) +
      (store.events?.hasNextPage ? ' (filters apply to loaded events: load older events to search further back).' : '.');
    more.hidden = !store.events?.hasNextPage;
    if (shown.length === 0) {
      replaceChildren(list, h('p', { class: 'empty' }, loaded.length === 0 ? 'No events yet.' : 'No loaded event matches the filters.'));
      return;
    }
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
                h('details', {}, h('summary', {}, 'Payload'), h('pre', {}, json(event.payload))),
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
    const after = reset ? undefined : store.events?.endCursor;
    const connection = await feedback.run(reset ? 'Loading events' : 'Loading older events', () => client.events({ first: EVENTS_PAGE_SIZE, after }), {
      control: reset ? refresh : more,
      keepAlert: true,
    });
    if (!connection || !view.isCurrent()) return;
    const items = connection.edges.map((edge) => edge.node);
    store.events = {
      items: reset ? items : [...(store.events?.items ?? []), ...items],
      endCursor: connection.pageInfo.endCursor ?? store.events?.endCursor ?? null,
      hasNextPage: connection.pageInfo.hasNextPage,
    };
    renderFilters();
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
