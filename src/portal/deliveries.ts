/// <reference lib="dom" />
// The Deliveries page (#/deliveries): deliveries filtered by the server (subscription, status, event
// types, time range), each with its attempt log, and a bulk retry of what the filters match: a dry
// run first says how many would be re-sent, then a confirmation re-sends them.
import type { DeliveryFilter, WebhookSubscription } from '@hooklane/sdk';
import type { ViewContext } from './context.js';
import { renderDeliveriesLog, type DeliveriesLog } from './deliveries-log.js';
import { h, replaceChildren } from './dom.js';
import { field } from './fields.js';
import { deliveryFilterInput, DELIVERY_STATUSES, NO_DELIVERY_FILTERS, type DeliveryFilters } from './filters.js';

/** How long the page waits after a keystroke in a filter before it asks the server. */
const TYPING_DELAY_MS = 300;

function option(value: string, label: string, selected: string): HTMLOptionElement {
  return h('option', { value, selected: value === selected }, label);
}

const plural = (count: number) => `${count} ${count === 1 ? 'delivery' : 'deliveries'}`;

export async function showDeliveries(view: ViewContext): Promise<void> {
  const { client, feedback, store } = view;
  const filters: DeliveryFilters = { ...NO_DELIVERY_FILTERS };
  let subscriptions: WebhookSubscription[] = store.subscriptions ?? [];
  const filterForm = h('form', { class: 'card filters', 'aria-label': 'Filters' });
  const logContainer = h('div', { id: 'deliveries-log' });
  const retryPanel = h('div', { class: 'card bulk-retry', id: 'bulk-retry' });
  let log: DeliveriesLog | undefined;
  let typing: ReturnType<typeof setTimeout> | undefined;

  const showLog = () => {
    log = renderDeliveriesLog(logContainer, deliveryFilterInput(filters), { client, feedback, isCurrent: view.isCurrent, subscriptions });
    return log.ready;
  };

  const renderFilters = () => {
    const subscription = h(
      'select',
      { id: 'deliveries-subscription', name: 'subscription' },
      option('', 'Any subscription', filters.subscriptionId),
      subscriptions.map((sub) => option(sub.id, sub.description ? `${sub.url} — ${sub.description}` : sub.url, filters.subscriptionId)),
    );
    const status = h(
      'select',
      { id: 'deliveries-status', name: 'status' },
      option('', 'Any status', filters.status),
      DELIVERY_STATUSES.map((value) => option(value, value, filters.status)),
    );
    const eventTypes = h('input', { id: 'deliveries-event-types', name: 'eventTypes', type: 'search', value: filters.eventTypes, placeholder: 'invoice.paid, order.created', autocomplete: 'off' });
    const from = h('input', { id: 'deliveries-from', name: 'from', type: 'datetime-local', step: 1, value: filters.from });
    const to = h('input', { id: 'deliveries-to', name: 'to', type: 'datetime-local', step: 1, value: filters.to });
    const reset = h('button', { type: 'reset', class: 'link' }, 'Clear filters');
    replaceChildren(
      filterForm,
      field('Subscription', subscription),
      field('Status', status),
      field('Event types', eventTypes),
      field('From', from),
      field('Until', to),
      h('div', { class: 'field' }, reset),
    );
    const apply = () => {
      const next: DeliveryFilters = {
        subscriptionId: subscription.value,
        status: status.value as DeliveryFilters['status'],
        eventTypes: eventTypes.value,
        from: from.value,
        to: to.value,
      };
      if (JSON.stringify(next) === JSON.stringify(filters)) return;
      Object.assign(filters, next);
      renderRetry();
      void showLog();
    };
    filterForm.onchange = apply;
    filterForm.oninput = (event) => {
      if (typing) clearTimeout(typing);
      if (event.target === eventTypes) typing = setTimeout(apply, TYPING_DELAY_MS);
      else apply();
    };
    filterForm.onreset = (event) => {
      event.preventDefault();
      Object.assign(filters, NO_DELIVERY_FILTERS);
      renderFilters();
      renderRetry();
      void showLog();
    };
    filterForm.onsubmit = (event) => event.preventDefault();
  };

  /** The bulk retry panel: Retry… (a dry run), then a confirmation that re-sends what it counted. */
  const renderRetry = () => {
    const start = h('button', { type: 'button', id: 'retry-start', 'data-mutates': true }, 'Retry…');
    start.onclick = async () => {
      const filter: DeliveryFilter = deliveryFilterInput(filters);
      const preview = await feedback.run('Counting the deliveries to re-send', () => client.retryDeliveries({ filter, dryRun: true }), { control: start });
      if (!preview || !view.isCurrent()) return;
      if (preview.count === 0) {
        replaceChildren(retryPanel, h('p', { id: 'retry-preview' }, 'No delivery matches the filters: nothing to re-send.'), start);
        return;
      }
      const confirm = h('button', { type: 'button', class: 'primary', id: 'retry-confirm', 'data-mutates': true }, `Re-send ${plural(preview.count)}`);
      const cancel = h('button', { type: 'button', class: 'link' }, 'Cancel');
      cancel.onclick = renderRetry;
      confirm.onclick = async () => {
        const result = await feedback.run('Re-sending the deliveries', () => client.retryDeliveries({ filter }), { control: confirm });
        if (!result || !view.isCurrent()) return;
        replaceChildren(
          retryPanel,
          h('p', { id: 'retry-result' }, `${plural(result.count)} ${result.count === 1 ? 'is' : 'are'} being re-sent, at the tenant's publish rate.`),
          start,
        );
        feedback.say(`${plural(result.count)} queued to be sent again.`);
        await log?.reload();
      };
      replaceChildren(
        retryPanel,
        h('p', { id: 'retry-preview' }, `${plural(preview.count)} will be re-sent.`),
        h('div', { class: 'actions' }, confirm, cancel),
      );
    };
    replaceChildren(
      retryPanel,
      h(
        'p',
        { class: 'hint' },
        'Re-send the deliveries the filters match (FAILED ones when no status is picked; FAILED or SUCCEEDED), at most 10,000 at a time.',
      ),
      start,
    );
  };

  const refresh = h('button', { type: 'button' }, 'Refresh');
  refresh.onclick = () => log?.reload();
  replaceChildren(
    view.main,
    h('div', { class: 'title-row' }, h('h2', {}, 'Deliveries'), refresh),
    filterForm,
    retryPanel,
    logContainer,
  );
  renderFilters();
  renderRetry();

  const loaded = await feedback.run('Loading subscriptions', () => store.loadSubscriptions(), { keepAlert: true });
  if (!view.isCurrent()) return;
  if (loaded) subscriptions = loaded;
  renderFilters();
  await showLog();
}
