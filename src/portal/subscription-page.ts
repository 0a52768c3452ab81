/// <reference lib="dom" />
// One subscription's page (`#/subscriptions/<id>`): every setting the API has, readable and
// editable, a test send, and the places where its stats and deliveries log are shown.
import type { EventType, PayloadMode, WebhookSubscription } from '@hooklane/sdk';
import type { ViewContext } from './context.js';
import { h, replaceChildren, time } from './dom.js';
import { authSection, headersSection, tlsSection } from './endpoint-settings.js';
import { PortalError, secretPanel } from './feedback.js';
import { checkbox, commaList, FieldErrors, labelled, optionalInteger } from './fields.js';
import { filterSection } from './subscription-filter.js';
import { renderDeliveriesLog } from './deliveries-log.js';
import { renderStatsPanel } from './stats-panel.js';
import { sectionCard, thenRender, type SubscriptionChanges, type SubscriptionPage } from './subscription-settings.js';
import { eventTypePicker, statusBadge } from './subscriptions.js';
import { testSendSection } from './test-send.js';

/** Fields the SDK's subscription fragment leaves out. */
const SIGNING_QUERY = 'query SubscriptionSigning($id: ID!) { subscription(id: $id) { ed25519PublicKey previousSecretExpiresAt } }';

/** The page's sections, in order, for its table of contents (links would change the route). */
const PAGE_SECTIONS: readonly (readonly [id: string, label: string])[] = [
  ['subscription-endpoint', 'Endpoint'],
  ['subscription-delivery', 'Delivery'],
  ['subscription-signing', 'Signing'],
  ['subscription-filter', 'Filter'],
  ['subscription-headers', 'Headers'],
  ['subscription-auth', 'Auth'],
  ['subscription-tls', 'TLS'],
  ['subscription-test', 'Test send'],
  ['subscription-stats', 'Stats'],
  ['subscription-deliveries', 'Deliveries'],
];

interface Signing {
  ed25519PublicKey: string | null;
  previousSecretExpiresAt: string | null;
}

export async function showSubscriptionPage(view: ViewContext, id: string): Promise<void> {
  const { client, feedback, store } = view;
  replaceChildren(view.main, h('p', {}, h('a', { href: '#/subscriptions' }, '← Subscriptions')), h('h2', {}, 'Subscription'));

  const loaded = await feedback.run(
    'Loading the subscription',
    async () => {
      const [subscription, types] = await Promise.all([client.subscription({ id }), store.loadEventTypes()]);
      if (!subscription) throw new PortalError('NOT_FOUND', `There is no subscription ${id} for this tenant.`);
      return { subscription, types };
    },
    { keepAlert: true },
  );
  if (!loaded || !view.isCurrent()) return;

  let current = loaded.subscription;
  const summary = h('dl', { class: 'facts', id: 'subscription-summary' });

  const page: SubscriptionPage = {
    view,
    current: () => current,
    async save(label, changes, { control, errors, done }) {
      errors.clear();
      const saved = await feedback.run(
        label,
        async () => {
          const input = typeof changes === 'function' ? changes() : changes;
          return (await client.updateSubscription({ id: current.id, ...input })).subscription;
        },
        { control, onError: (error) => errors.show(error) },
      );
      if (!saved || !view.isCurrent()) return undefined;
      store.invalidateSubscriptions();
      current = saved;
      renderSummary(summary, saved);
      feedback.say(done);
      return saved;
    },
  };

  const sections = [
    endpointSection(page, loaded.types),
    deliverySection(page),
    signingSection(page),
    filterSection(page),
    headersSection(page),
    authSection(page),
    tlsSection(page),
    testSendSection(page, loaded.types),
  ];
  renderSummary(summary, current);
  const statsContainer = h('div', { id: 'subscription-stats' });
  const deliveriesContainer = h('div');
  replaceChildren(
    view.main,
    h('p', {}, h('a', { href: '#/subscriptions' }, '← Subscriptions')),
    h('div', { class: 'title-row' }, h('h2', { id: 'subscription-heading' }, 'Subscription')),
    summary,
    h(
      'nav',
      { class: 'page-toc', 'aria-label': 'On this page' },
      PAGE_SECTIONS.map(([sectionId, label]) =>
        h('button', { type: 'button', class: 'link', onclick: () => document.getElementById(sectionId)?.scrollIntoView() }, label),
      ),
    ),
    sections,
    statsContainer,
    sectionCard('subscription-deliveries', 'Deliveries', deliveriesContainer),
    dangerSection(page),
  );
  const deliveries = renderDeliveriesLog(deliveriesContainer, { subscriptionId: current.id }, { client: view.client, feedback: view.feedback, isCurrent: () => view.isCurrent(), subscriptions: [current] });
  await Promise.all([renderStatsPanel(statsContainer, { subscriptionId: current.id, view }), deliveries.ready]);
}

function renderSummary(summary: HTMLElement, subscription: WebhookSubscription): void {
  replaceChildren(
    summary,
    h('dt', {}, 'Endpoint'),
    h('dd', { class: 'url', id: 'summary-url' }, subscription.url),
    h('dt', {}, 'Status'),
    h(
      'dd',
      { id: 'summary-status' },
      statusBadge(subscription),
      subscription.heldDeliveryCount > 0 ? ` ${subscription.heldDeliveryCount} held` : null,
      subscription.failingSince ? [' failing since ', time(subscription.failingSince)] : null,
    ),
    h('dt', {}, 'Id'),
    h('dd', { class: 'id' }, subscription.id),
    subscription.description ? [h('dt', {}, 'Description'), h('dd', {}, subscription.description)] : null,
    h('dt', {}, 'Event types'),
    h('dd', {}, subscription.eventTypes.map((name) => h('span', { class: 'chip' }, name))),
    h('dt', {}, 'Created'),
    h('dd', {}, time(subscription.createdAt), ' · updated ', time(subscription.updatedAt)),
  );
}

/** URL, event types, channels, description, enabled. */
function endpointSection(page: SubscriptionPage, types: readonly EventType[]): HTMLElement {
  const element = sectionCard('subscription-endpoint', 'Endpoint');
  const form = h('form', { novalidate: true, 'data-mutates': true });
  const render = (subscription: WebhookSubscription) => {
    const errors = new FieldErrors();
    const url = h('input', { id: 'sub-url', name: 'url', type: 'url', required: true, autocomplete: 'off', value: subscription.url });
    const description = h('input', { id: 'sub-description', name: 'description', type: 'text', autocomplete: 'off', value: subscription.description ?? '' });
    const channels = h('input', { id: 'sub-channels', name: 'channels', type: 'text', autocomplete: 'off', placeholder: 'eu, priority', value: (subscription.channels ?? []).join(', ') });
    const picker = eventTypePicker(types, subscription.eventTypes);
    picker.element.id = 'sub-event-types';
    const enabled = checkbox('sub-enabled', 'Enabled (when off, new deliveries are held until it is enabled again)', subscription.enabled);
    const submit = h('button', { type: 'submit', class: 'primary', 'data-mutates': true }, 'Save endpoint');
    replaceChildren(
      form,
      labelled('Endpoint URL', url),
      errors.slot('url', url),
      picker.element,
      errors.slot('eventTypes', picker.element),
      labelled('Channels (comma-separated)', channels, 'Receive only events published on one of these channels. Empty: every channel, and events on none.'),
      errors.slot('channels', channels),
      labelled('Description', description),
      errors.slot('description', description),
      enabled.element,
      h('div', { class: 'actions' }, submit),
    );
    form.onsubmit = (event) => {
      event.preventDefault();
      const listed = commaList(channels.value);
      thenRender(page.save(
        'Saving the endpoint',
        {
          url: url.value.trim(),
          eventTypes: picker.value(),
          channels: listed.length > 0 ? listed : null,
          description: description.value.trim() || null,
          enabled: enabled.input.checked,
        },
        { control: submit, errors, done: 'Endpoint saved.' },
      ), render);
    };
  };
  render(page.current());
  element.append(form);
  return element;
}

/** Retry schedule, rate limit, max in flight, ordering, payload mode. */
function deliverySection(page: SubscriptionPage): HTMLElement {
  const element = sectionCard('subscription-delivery', 'Delivery');
  const form = h('form', { novalidate: true, 'data-mutates': true });
  const render = (subscription: WebhookSubscription) => {
    const errors = new FieldErrors();
    const schedule = h('input', {
      id: 'sub-retry-schedule',
      name: 'retrySchedule',
      type: 'text',
      autocomplete: 'off',
      placeholder: subscription.hasCustomRetrySchedule ? '' : subscription.retrySchedule.join(', '),
      value: subscription.hasCustomRetrySchedule ? subscription.retrySchedule.join(', ') : '',
    });
    const rateLimit = h('input', { id: 'sub-rate-limit', name: 'rateLimit', type: 'number', min: 1, max: 10000, step: 1, placeholder: 'no limit', value: subscription.rateLimit ?? '' });
    const maxInFlight = h('input', { id: 'sub-max-in-flight', name: 'maxInFlight', type: 'number', min: 1, max: 1000, step: 1, placeholder: 'no limit', value: subscription.maxInFlight ?? '' });
    const ordered = checkbox('sub-ordered', 'Ordered: deliver in publish order, one at a time per ordering key', subscription.ordered);
    const payloadMode = h(
      'select',
      { id: 'sub-payload-mode', name: 'payloadMode' },
      h('option', { value: 'FULL', selected: subscription.payloadMode === 'FULL' }, 'Full: the body carries the payload'),
      h('option', { value: 'THIN', selected: subscription.payloadMode === 'THIN' }, 'Thin: only the event id; the receiver fetches the event'),
    );
    const submit = h('button', { type: 'submit', class: 'primary', 'data-mutates': true }, 'Save delivery settings');
    replaceChildren(
      form,
      h('p', { class: 'hint', id: 'sub-retry-in-force' }, 'Retries in force: ', subscription.retrySchedule.join(', ') || 'none', subscription.hasCustomRetrySchedule ? ' (this subscription’s own)' : ' (the deployment’s default)'),
      labelled('Retry schedule (comma-separated delays)', schedule, ['Delays before each retry, e.g. ', h('code', {}, '5s, 5m, 30m'), '. Empty: the deployment’s default.']),
      errors.slot('retrySchedule', schedule),
      labelled('Rate limit (deliveries started per second)', rateLimit, '1 to 10,000. Empty: no limit.'),
      errors.slot('rateLimit', rateLimit),
      labelled('Max in flight (deliveries at once)', maxInFlight, '1 to 1,000. Empty: no limit.'),
      errors.slot('maxInFlight', maxInFlight),
      labelled('Payload mode', payloadMode),
      errors.slot('payloadMode', payloadMode),
      ordered.element,
      errors.slot('ordered', ordered.input),
      h(
        'p',
        { class: 'hint' },
        'Proxy: deliveries go through the deployment’s outbound proxy (',
        h('code', {}, 'DELIVERY_PROXY_URL'),
        ') when it has one; a subscription has no proxy setting of its own.',
      ),
      h('div', { class: 'actions' }, submit),
    );
    form.onsubmit = (event) => {
      event.preventDefault();
      thenRender(page.save(
        'Saving the delivery settings',
        (): SubscriptionChanges => {
          const delays = commaList(schedule.value);
          return {
            retrySchedule: delays.length > 0 ? delays : null,
            rateLimit: optionalInteger(rateLimit.value, 'rateLimit'),
            maxInFlight: optionalInteger(maxInFlight.value, 'maxInFlight'),
            ordered: ordered.input.checked,
            payloadMode: payloadMode.value as PayloadMode,
          };
        },
        { control: submit, errors, done: 'Delivery settings saved.' },
      ), render);
    };
  };
  render(page.current());
  element.append(form);
  return element;
}

/** Ed25519 signing and the signing secret's rotation. */
function signingSection(page: SubscriptionPage): HTMLElement {
  const { client, feedback } = page.view;
  const element = sectionCard('subscription-signing', 'Signing');
  const body = h('div');
  const secretSlot = h('div', { class: 'secret-slot' });
  let signing: Signing | undefined;

  const loadSigning = async () => {
    const data = await feedback.run('Loading the signing keys', () => client.request<{ subscription: Signing | null }, { id: string }>(SIGNING_QUERY, { id: page.current().id }), {
      quiet: true,
    });
    if (!data?.subscription || !page.view.isCurrent()) return;
    signing = data.subscription;
    render();
  };

  const render = () => {
    const errors = new FieldErrors();
    const ed25519 = checkbox('sub-ed25519', 'Also sign with Ed25519 (a v1a signature beside v1)', Boolean(signing?.ed25519PublicKey));
    const save = h('button', { type: 'submit', class: 'primary', 'data-mutates': true }, 'Save signing');
    const form = h(
      'form',
      { novalidate: true, 'data-mutates': true },
      ed25519.element,
      errors.slot('ed25519Signing', ed25519.input),
      h(
        'p',
        { class: 'hint' },
        'Public key: ',
        signing?.ed25519PublicKey ? h('code', { id: 'sub-ed25519-key' }, signing.ed25519PublicKey) : h('span', { id: 'sub-ed25519-key' }, signing ? 'none (HMAC only)' : '…'),
        '. Receivers verify v1a signatures with it and need no shared secret; turning it on again makes a new key pair.',
      ),
      h('div', { class: 'actions' }, save),
    );
    form.onsubmit = async (event) => {
      event.preventDefault();
      const saved = await page.save('Saving the signing settings', { ed25519Signing: ed25519.input.checked }, { control: save, errors, done: 'Signing saved.' });
      if (saved) await loadSigning();
    };

    const overlap = h('input', { id: 'sub-rotate-overlap', name: 'overlap', type: 'text', autocomplete: 'off', placeholder: '24h' });
    const rotateErrors = new FieldErrors();
    const rotate = h('button', { type: 'submit', 'data-mutates': true }, 'Rotate secret');
    const rotateForm = h(
      'form',
      { novalidate: true, 'data-mutates': true, class: 'rotate' },
      h('h4', {}, 'Signing secret'),
      signing?.previousSecretExpiresAt ? h('p', { class: 'hint' }, 'The previous secret signs too until ', time(signing.previousSecretExpiresAt), '.') : null,
      labelled('Overlap', overlap, ['How long the current secret keeps signing beside the new one: ', h('code', {}, '24h'), ' when empty, at most ', h('code', {}, '7d'), '; ', h('code', {}, '0s'), ' drops it at once.']),
      rotateErrors.slot('overlap', overlap),
      h('div', { class: 'actions' }, rotate),
    );
    rotateForm.onsubmit = async (event) => {
      event.preventDefault();
      rotateErrors.clear();
      const current = page.current();
      if (!window.confirm(`Rotate the signing secret of ${current.url}?`)) return;
      const payload = await feedback.run(
        'Rotating the secret',
        () => client.rotateSubscriptionSecret({ id: current.id, overlap: overlap.value.trim() || undefined }),
        { control: rotate, onError: (error) => rotateErrors.show(error) },
      );
      if (!payload || !page.view.isCurrent()) return;
      replaceChildren(secretSlot, secretPanel({ title: `New secret for ${payload.subscription.url}`, secret: payload.secret, onClose: () => secretSlot.replaceChildren() }));
      feedback.say('Secret rotated.');
      await loadSigning();
    };
    replaceChildren(body, form, rotateForm, secretSlot);
  };

  render();
  element.append(body);
  void loadSigning();
  return element;
}

/** Delete the subscription. */
function dangerSection(page: SubscriptionPage): HTMLElement {
  const { client, feedback, store } = page.view;
  const remove = h('button', { type: 'button', class: 'danger', 'data-mutates': true }, 'Delete subscription');
  remove.onclick = async () => {
    const current = page.current();
    if (!window.confirm(`Delete the subscription to ${current.url}, its deliveries and their attempts?`)) return;
    const payload = await feedback.run('Deleting the subscription', () => client.deleteSubscription({ id: current.id }), { control: remove });
    if (!payload) return;
    store.invalidateSubscriptions();
    location.hash = '#/subscriptions';
  };
  return sectionCard('subscription-danger', 'Delete', h('p', { class: 'hint' }, 'Deletes the subscription, its deliveries and their attempts.'), h('div', { class: 'actions' }, remove));
}
