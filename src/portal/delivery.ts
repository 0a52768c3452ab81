/// <reference lib="dom" />
// One delivery: its attempts, and the Retry delivery, Replay event and Erase payload actions.
import type { Delivery, DeliveryAttempt, DeliveryStatus } from '@hooklane/sdk';
import type { ViewContext } from './context.js';
import { badge, h, json, replaceChildren, time } from './dom.js';
import { PortalError } from './feedback.js';

/** While a delivery is PENDING the page re-reads it this often, quietly. */
const POLL_MS = 1000;

export async function showDelivery(view: ViewContext, id: string): Promise<void> {
  const { client, feedback, store } = view;
  const body = h('div', { class: 'delivery' });
  const refresh = h('button', { type: 'button' }, 'Refresh');
  let timer: ReturnType<typeof setTimeout> | undefined;

  replaceChildren(
    view.main,
    h('p', {}, h('a', { href: '#/events' }, '← Events & deliveries')),
    h('div', { class: 'title-row' }, h('h2', {}, 'Delivery'), refresh),
    body,
  );

  const load = async (quiet = false): Promise<void> => {
    if (timer) clearTimeout(timer);
    const delivery = await feedback.run(
      'Loading the delivery',
      async () => {
        const found = await client.delivery({ id });
        if (!found) throw new PortalError('NOT_FOUND', `There is no delivery ${id} for this tenant.`);
        return found;
      },
      { quiet, keepAlert: true, control: quiet ? undefined : refresh },
    );
    if (!delivery || !view.isCurrent()) return;
    render(delivery);
    if (delivery.status === 'PENDING') timer = setTimeout(() => view.isCurrent() && void load(true), POLL_MS);
  };
  refresh.onclick = () => load();

  const render = (delivery: Delivery) => {
    const expunged = delivery.event.payloadExpunged;
    const resendTitle = expunged ? 'The payload is erased: nothing is left to send' : undefined;
    const retry = h('button', { type: 'button', class: 'primary', 'data-mutates': true, disabled: expunged, title: resendTitle }, 'Retry delivery');
    const replay = h('button', { type: 'button', 'data-mutates': true, disabled: expunged, title: resendTitle }, 'Replay event');
    const erase = h('button', { type: 'button', class: 'danger', 'data-mutates': 'expungeEventPayload', hidden: expunged }, 'Erase payload');
    erase.onclick = async () => {
      const confirmed = window.confirm(
        `Erase the payload of event ${delivery.event.id} for good? Its deliveries still to be sent fail, and it can never be sent again. Copies receivers already got are not affected.`,
      );
      if (!confirmed) return;
      const payload = await feedback.run('Erasing the payload', () => client.expungeEventPayload({ id: delivery.event.id }), { control: erase });
      if (!payload || !view.isCurrent()) return;
      store.events = undefined;
      feedback.say('Payload erased: the event keeps its metadata and is never sent again.');
      await load(true);
    };
    retry.onclick = async () => {
      const payload = await feedback.run('Retrying the delivery', () => client.retryDelivery({ id: delivery.id }), { control: retry });
      if (!payload || !view.isCurrent()) return;
      store.events = undefined;
      feedback.say('Delivery queued to be sent again.');
      await load(true);
    };
    replay.onclick = async () => {
      const payload = await feedback.run(
        'Replaying the event',
        () => client.replayEvent({ id: delivery.event.id, subscriptionIds: [delivery.subscription.id] }),
        { control: replay },
      );
      if (!payload || !view.isCurrent()) return;
      store.events = undefined;
      const created = payload.deliveries[0];
      feedback.say(
        created
          ? h('span', {}, 'Event replayed as a new delivery: ', h('a', { href: `#/deliveries/${encodeURIComponent(created.id)}` }, created.id), '.')
          : 'Replayed: the subscription does not take this event now, so nothing was sent.',
      );
    };

    replaceChildren(
      body,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Status'),
        h('dd', { id: 'delivery-status' }, badge(delivery.status)),
        h('dt', {}, 'Delivery'),
        h('dd', { class: 'id' }, delivery.id),
        h('dt', {}, 'Event'),
        h('dd', {}, delivery.event.eventType, ' ', h('span', { class: 'id' }, delivery.event.id), ' · published ', time(delivery.event.createdAt)),
        h('dt', {}, 'Subscription'),
        h('dd', {}, delivery.subscription.url, delivery.subscription.enabled ? null : [' ', badge('Disabled', 'held')]),
        h('dt', {}, 'Attempts'),
        h('dd', {}, String(delivery.attemptCount)),
        h('dt', {}, 'Next attempt'),
        h('dd', {}, delivery.nextAttemptAt ? time(delivery.nextAttemptAt) : '—'),
      ),
      h('div', { class: 'actions' }, retry, replay, erase),
      h('h3', {}, 'Attempts'),
      attemptLog(delivery.attempts, delivery.status),
      expunged
        ? h('p', { id: 'event-payload', class: 'hint payload-erased' }, 'Payload erased.')
        : h('details', { id: 'event-payload' }, h('summary', {}, 'Event payload'), h('pre', {}, json(delivery.event.payload))),
    );
  };

  await load();
}

/** A delivery's attempts, oldest first: outcome, status code, duration, error and response body. */
export function attemptLog(attempts: readonly DeliveryAttempt[], status: DeliveryStatus): HTMLElement {
  if (attempts.length === 0) return h('p', { class: 'empty' }, status === 'HELD' ? 'Held while the subscription is disabled.' : 'No attempt yet.');
  return h(
    'table',
    { class: 'list attempts', 'aria-label': 'Attempts' },
    h(
      'thead',
      {},
      h('tr', {}, h('th', {}, '#'), h('th', {}, 'Time'), h('th', {}, 'Outcome'), h('th', {}, 'Status code'), h('th', {}, 'Duration'), h('th', {}, 'Error'), h('th', {}, 'Response body')),
    ),
    h(
      'tbody',
      {},
      attempts.map((attempt, index) =>
        h(
          'tr',
          { 'data-attempt-id': attempt.id },
          h('td', {}, String(index + 1)),
          h('td', {}, time(attempt.createdAt)),
          h('td', { class: 'outcome' }, badge(attempt.outcome, attempt.outcome === 'SUCCESS' ? 'succeeded' : 'failed')),
          h('td', { class: 'status-code' }, attempt.statusCode === null || attempt.statusCode === undefined ? '—' : String(attempt.statusCode)),
          h('td', { class: 'duration' }, `${attempt.durationMs} ms`),
          h('td', { class: 'error' }, attempt.error ?? '—'),
          h('td', {}, attempt.responseBody ? h('pre', { class: 'response-body' }, attempt.responseBody) : h('span', { class: 'hint' }, '(empty)')),
        ),
      ),
    ),
  );
}
