/// <reference lib="dom" />
// The Subscriptions page: list, create, edit event types, disable/enable, rotate the secret.
import type { EventType, WebhookSubscription } from '@hooklane/sdk';
import { PAGE_SIZE, type ViewContext } from './context.js';
import { badge, h, replaceChildren, time } from './dom.js';
import { secretPanel } from './feedback.js';
import { parseEventTypeList, unique } from './filters.js';

let pickerCount = 0;

/** Checkboxes for the tenant's event types plus a text field for wildcards and other names. */
function eventTypePicker(types: readonly EventType[], selected: readonly string[] = []) {
  const id = `picker-${pickerCount++}`;
  const known = new Set(types.map((type) => type.name));
  const boxes = types.map((type) =>
    h('input', { type: 'checkbox', name: 'eventType', value: type.name, checked: selected.includes(type.name) }),
  );
  const wildcard = h('input', {
    type: 'text',
    id: `${id}-wildcards`,
    name: 'wildcards',
    placeholder: 'invoice.*, *',
    autocomplete: 'off',
    value: selected.filter((name) => !known.has(name)).join(', '),
  });
  const element = h(
    'fieldset',
    { class: 'event-type-picker' },
    h('legend', {}, 'Event types'),
    types.length === 0
      ? h('p', { class: 'hint' }, 'No event types yet: declare them with createEventType, or type names or wildcards below.')
      : h(
          'div',
          { class: 'checkbox-list', role: 'group', 'aria-label': 'Known event types' },
          types.map((type, index) =>
            h('label', { class: 'checkbox' }, boxes[index]!, ' ', type.name, type.description ? h('span', { class: 'hint' }, ` — ${type.description}`) : null),
          ),
        ),
    h('label', { for: `${id}-wildcards` }, 'Wildcards or other event types (comma-separated)'),
    wildcard,
    h('p', { class: 'hint' }, h('code', {}, 'invoice.*'), ' matches invoice.paid and invoice.paid.late; ', h('code', {}, '*'), ' matches every event type.'),
  );
  return {
    element,
    value: (): string[] => unique([...boxes.filter((box) => box.checked).map((box) => box.value), ...parseEventTypeList(wildcard.value)]),
  };
}

function statusBadge(subscription: WebhookSubscription): HTMLElement {
  if (subscription.enabled) {
    return subscription.failingSince ? badge('Failing', 'failed') : badge('Enabled', 'succeeded');
  }
  return badge(`Disabled${subscription.disabledReason ? ` (${subscription.disabledReason.toLowerCase()})` : ''}`, 'held');
}

export async function showSubscriptions(view: ViewContext): Promise<void> {
  const { client, feedback, store } = view;
  const secretSlot = h('div', { class: 'secret-slot' });
  const rows = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  let endCursor: string | null | undefined;
  let types: EventType[] = [];

  const showSecret = (title: string, secret: string) => {
    replaceChildren(secretSlot, secretPanel({ title, secret, onClose: () => secretSlot.replaceChildren() }));
    secretSlot.scrollIntoView({ block: 'nearest' });
  };

  // ---- create form
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'create-heading', 'data-mutates': true });
  const renderForm = () => {
    const url = h('input', { id: 'new-url', name: 'url', type: 'url', required: true, placeholder: 'https://example.com/webhooks', autocomplete: 'off' });
    const description = h('input', { id: 'new-description', name: 'description', type: 'text', autocomplete: 'off' });
    const picker = eventTypePicker(types);
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Create subscription');
    replaceChildren(
      form,
      h('h3', { id: 'create-heading' }, 'New subscription'),
      h('label', { for: 'new-url' }, 'Endpoint URL'),
      url,
      picker.element,
      h('label', { for: 'new-description' }, 'Description (optional)'),
      description,
      h('div', { class: 'actions' }, submit),
    );
    form.onsubmit = async (event) => {
      event.preventDefault();
      const payload = await feedback.run(
        'Creating the subscription',
        () =>
          client.createSubscription({
            url: url.value.trim(),
            eventTypes: picker.value(),
            description: description.value.trim() || undefined,
          }),
        { control: submit },
      );
      if (!payload || !view.isCurrent()) return;
      store.invalidateSubscriptions();
      rows.querySelector('tr.empty')?.remove();
      rows.prepend(row(payload.subscription));
      showSecret(`Subscription created: ${payload.subscription.url}`, payload.secret);
      feedback.say('Subscription created.');
      renderForm();
    };
  };

  // ---- list
  const row = (subscription: WebhookSubscription): HTMLTableRowElement => {
    const tr = h('tr', { 'data-subscription-id': subscription.id });
    const render = (current: WebhookSubscription) => {
      const toggle = h('button', { type: 'button', 'data-mutates': true }, current.enabled ? 'Disable' : 'Enable');
      const edit = h('button', { type: 'button', 'data-mutates': true }, 'Edit event types');
      const rotate = h('button', { type: 'button', 'data-mutates': true }, 'Rotate secret');
      toggle.onclick = async () => {
        const payload = await feedback.run(
          current.enabled ? 'Disabling the subscription' : 'Enabling the subscription',
          () => client.updateSubscription({ id: current.id, enabled: !current.enabled }),
          { control: toggle },
        );
        if (!payload) return;
        store.invalidateSubscriptions();
        render(payload.subscription);
        feedback.say(payload.subscription.enabled ? 'Subscription enabled: held deliveries are being sent.' : 'Subscription disabled: new deliveries are held.');
      };
      rotate.onclick = async () => {
        if (!window.confirm(`Rotate the signing secret of ${current.url}? The current secret stops working at once.`)) return;
        const payload = await feedback.run('Rotating the secret', () => client.rotateSubscriptionSecret({ id: current.id }), { control: rotate });
        if (!payload) return;
        render(payload.subscription);
        showSecret(`New secret for ${payload.subscription.url}`, payload.secret);
        feedback.say('Secret rotated.');
      };
      edit.onclick = () => {
        const picker = eventTypePicker(types, current.eventTypes);
        const save = h('button', { type: 'button', class: 'primary', 'data-mutates': true }, 'Save event types');
        const cancel = h('button', { type: 'button', class: 'link' }, 'Cancel');
        cancel.onclick = () => render(current);
        save.onclick = async () => {
          const payload = await feedback.run('Saving the event types', () => client.updateSubscription({ id: current.id, eventTypes: picker.value() }), {
            control: save,
          });
          if (!payload) return;
          store.invalidateSubscriptions();
          render(payload.subscription);
          feedback.say('Event types saved.');
        };
        replaceChildren(tr.cells[1]!, picker.element, h('div', { class: 'actions' }, save, cancel));
      };
      replaceChildren(
        tr,
        h(
          'td',
          {},
          h('div', { class: 'url' }, current.url),
          current.description ? h('div', { class: 'hint' }, current.description) : null,
          h('div', { class: 'id' }, current.id),
        ),
        h('td', { class: 'event-types' }, current.eventTypes.map((name) => h('span', { class: 'chip' }, name))),
        h(
          'td',
          {},
          statusBadge(current),
          current.heldDeliveryCount > 0 ? h('div', { class: 'hint' }, `${current.heldDeliveryCount} held`) : null,
          current.failingSince ? h('div', { class: 'hint' }, 'failing since ', time(current.failingSince)) : null,
        ),
        h('td', {}, time(current.createdAt)),
        h('td', { class: 'row-actions' }, edit, toggle, rotate),
      );
    };
    render(subscription);
    return tr;
  };

  const loadPage = async () => {
    const connection = await feedback.run('Loading subscriptions', () => client.subscriptions({ first: PAGE_SIZE, after: endCursor }), {
      control: more,
      keepAlert: true,
    });
    if (!connection || !view.isCurrent()) return;
    for (const edge of connection.edges) rows.append(row(edge.node));
    endCursor = connection.pageInfo.endCursor;
    more.hidden = !connection.pageInfo.hasNextPage;
    if (rows.childElementCount === 0) rows.append(h('tr', { class: 'empty' }, h('td', { colspan: 5 }, 'No subscriptions yet.')));
  };
  more.onclick = loadPage;

  replaceChildren(
    view.main,
    h('h2', {}, 'Subscriptions'),
    secretSlot,
    form,
    h(
      'table',
      { class: 'list', 'aria-label': 'Subscriptions' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Endpoint'), h('th', {}, 'Event types'), h('th', {}, 'Status'), h('th', {}, 'Created'), h('th', {}, 'Actions'))),
      rows,
    ),
    h('div', { class: 'actions' }, more),
  );
  renderForm();

  const loaded = await feedback.run('Loading event types', () => store.loadEventTypes(true));
  if (!view.isCurrent()) return;
  if (loaded) {
    types = loaded;
    renderForm();
  }
  await loadPage();
}
