/// <reference lib="dom" />
// The subscription page's test send: one example event of a chosen type (sendTestEvent), attempted
// once, with the delivery's result and attempt shown when it settles.
import type { Delivery, EventType } from '@hooklane/sdk';
import { badge, h, replaceChildren, time } from './dom.js';
import { FieldErrors, labelled } from './fields.js';
import { eventTypeMatches } from './filters.js';
import { sectionCard, type SubscriptionPage } from './subscription-settings.js';

/** A test delivery is attempted once; the page re-reads it this often until it settles. */
const POLL_MS = 500;
/** Past the delivery timeout (15 s by default) with room to spare. */
const POLL_LIMIT_MS = 60_000;

export function testSendSection(page: SubscriptionPage, types: readonly EventType[]): HTMLElement {
  const { client, feedback } = page.view;
  const errors = new FieldErrors();
  const received = () => types.filter((type) => page.current().eventTypes.some((pattern) => eventTypeMatches(pattern, type.name)));
  const eventType = h('select', { id: 'test-event-type', name: 'eventType' });
  const fillTypes = () => {
    const chosen = eventType.value;
    replaceChildren(
      eventType,
      h('option', { value: '' }, 'The first event type it receives'),
      received().map((type) => h('option', { value: type.name, selected: type.name === chosen }, type.name)),
    );
  };
  fillTypes();
  eventType.onfocus = fillTypes; // the event types may have been saved since
  const send = h('button', { type: 'submit', class: 'primary', 'data-mutates': true }, 'Send test event');
  const result = h('div', { id: 'test-send-result', 'aria-live': 'polite' });
  const form = h(
    'form',
    { novalidate: true, 'data-mutates': true },
    h(
      'p',
      { class: 'hint' },
      'Sends one example event (the schema’s first example, else one made to pass it) to this subscription now, even when it is disabled: attempted once, never retried, and not counted against its health.',
    ),
    labelled('Event type', eventType),
    errors.slot('eventType', eventType),
    h('div', { class: 'actions' }, send),
    result,
  );

  const show = (delivery: Delivery) => {
    const attempt = delivery.attempts.at(-1);
    replaceChildren(
      result,
      h(
        'dl',
        { class: 'facts compact' },
        h('dt', {}, 'Delivery'),
        h('dd', {}, h('a', { href: `#/deliveries/${encodeURIComponent(delivery.id)}` }, delivery.id)),
        h('dt', {}, 'Event'),
        h('dd', {}, delivery.event.eventType, ' ', h('span', { class: 'id' }, delivery.event.id)),
        h('dt', {}, 'Status'),
        h('dd', { id: 'test-send-status' }, badge(delivery.status)),
        attempt
          ? [
              h('dt', {}, 'Attempt'),
              h(
                'dd',
                { id: 'test-send-attempt' },
                badge(attempt.outcome, attempt.outcome === 'SUCCESS' ? 'succeeded' : 'failed'),
                ' ',
                h('span', { class: 'status-code' }, attempt.statusCode === null || attempt.statusCode === undefined ? 'no status' : `HTTP ${attempt.statusCode}`),
                ` · ${attempt.durationMs} ms · `,
                time(attempt.createdAt),
                attempt.error ? h('div', { class: 'error' }, attempt.error) : null,
                attempt.responseBody ? h('pre', { class: 'response-body' }, attempt.responseBody) : null,
              ),
            ]
          : [h('dt', {}, 'Attempt'), h('dd', { id: 'test-send-attempt' }, 'Sending…')],
      ),
    );
  };

  form.onsubmit = async (event) => {
    event.preventDefault();
    errors.clear();
    result.replaceChildren();
    const payload = await feedback.run(
      'Sending a test event',
      () => client.sendTestEvent({ subscriptionId: page.current().id, eventType: eventType.value || undefined }),
      { control: send, onError: (error) => errors.show(error) },
    );
    if (!payload || !page.view.isCurrent()) return;
    show(payload.delivery);
    const deadline = Date.now() + POLL_LIMIT_MS;
    let delivery = payload.delivery;
    while (delivery.status === 'PENDING' && Date.now() < deadline && page.view.isCurrent()) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const found = await feedback.run('Reading the test delivery', () => client.delivery({ id: delivery.id }), { quiet: true, keepAlert: true });
      if (!found) return;
      delivery = found;
      if (page.view.isCurrent()) show(delivery);
    }
    if (page.view.isCurrent()) feedback.say(delivery.status === 'SUCCEEDED' ? 'Test event delivered.' : `Test delivery ${delivery.status.toLowerCase()}.`);
  };

  return sectionCard('subscription-test', 'Test send', form);
}
