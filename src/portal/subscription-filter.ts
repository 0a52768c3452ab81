/// <reference lib="dom" />
// The subscription page's payload filter: JSON typed or pasted, previewed against the tenant's
// recent events (previewSubscriptionFilter: examined / matched) before it is saved.
import type { WebhookSubscription } from '@hooklane/sdk';
import { h, json, replaceChildren } from './dom.js';
import { FieldErrors, FieldInputError, labelled, optionalInteger, parseJsonField } from './fields.js';
import { sectionCard, thenRender, type SubscriptionPage } from './subscription-settings.js';

const EXAMPLE = '{"data.amount": {"$gte": 1000}, "data.currency": {"$in": ["EUR", "USD"]}}';

export function filterSection(page: SubscriptionPage): HTMLElement {
  const { client, feedback } = page.view;
  const element = sectionCard('subscription-filter', 'Payload filter');
  const form = h('form', { novalidate: true, 'data-mutates': true });

  const render = (subscription: WebhookSubscription) => {
    const errors = new FieldErrors();
    const filter = h('textarea', { id: 'sub-filter', name: 'filter', rows: 6, spellcheck: 'false', autocomplete: 'off', placeholder: EXAMPLE });
    filter.value = subscription.filter === null || subscription.filter === undefined ? '' : json(subscription.filter);
    const last = h('input', { id: 'sub-filter-last', name: 'last', type: 'number', min: 1, max: 1000, step: 1, placeholder: '100' });
    const result = h('p', { id: 'filter-preview', class: 'preview-result', role: 'status', 'aria-live': 'polite' });
    const preview = h('button', { type: 'button', 'data-mutates': true }, 'Preview');
    const save = h('button', { type: 'submit', class: 'primary', 'data-mutates': true }, 'Save filter');
    const remove = h('button', { type: 'button', 'data-mutates': true, disabled: subscription.filter === null || subscription.filter === undefined }, 'Remove filter');

    replaceChildren(
      form,
      h('p', { class: 'hint', id: 'sub-filter-state' }, subscription.filter === null || subscription.filter === undefined ? 'No filter: the subscription receives every event of its types.' : 'The subscription receives only the events this filter matches.'),
      labelled('Filter (JSON)', filter, [
        'Keys are dotted paths into ',
        h('code', {}, '{type, timestamp, data}'),
        ' (or ',
        h('code', {}, '$and'),
        ', ',
        h('code', {}, '$or'),
        ', ',
        h('code', {}, '$not'),
        '); a value is a literal or operators: ',
        h('code', {}, '$eq $ne $gt $gte $lt $lte $in $nin $exists $contains'),
        '. Empty: no filter.',
      ]),
      errors.slot('filter', filter),
      labelled('Preview over the last … events', last, '1 to 1,000 of the newest events of the subscription’s event types; 100 when empty. The preview writes nothing.'),
      errors.slot('last', last),
      errors.slot('eventTypes', last),
      result,
      h('div', { class: 'actions' }, preview, save, remove),
    );

    preview.onclick = async () => {
      errors.clear();
      result.textContent = '';
      const outcome = await feedback.run(
        'Previewing the filter',
        () => {
          const parsed = parseJsonField(filter.value, 'filter');
          if (parsed === null) throw new FieldInputError('filter', 'filter is empty: type a filter to preview it');
          return client.previewSubscriptionFilter({
            filter: parsed,
            eventTypes: page.current().eventTypes,
            last: optionalInteger(last.value, 'last') ?? undefined,
          });
        },
        { control: preview, onError: (error) => errors.show(error) },
      );
      if (!outcome || !page.view.isCurrent()) return;
      result.dataset.examined = String(outcome.examined);
      result.dataset.matched = String(outcome.matched);
      result.textContent =
        outcome.examined === 0
          ? 'No events of these types yet: nothing to preview against.'
          : `Matches ${outcome.matched} of the ${outcome.examined} newest events of its types.`;
    };
    form.onsubmit = (event) => {
      event.preventDefault();
      thenRender(page.save('Saving the filter', () => ({ filter: parseJsonField(filter.value, 'filter') }), { control: save, errors, done: 'Filter saved.' }), render);
    };
    remove.onclick = () => thenRender(page.save('Removing the filter', { filter: null }, { control: remove, errors, done: 'Filter removed.' }), render);
  };

  render(page.current());
  element.append(form);
  return element;
}
