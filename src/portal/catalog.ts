/// <reference lib="dom" />
// The Event catalog page (`#/catalog`): the tenant's event types (built-in and, on request,
// archived ones) with their versions, schemas and examples; create, edit, deprecate, archive and
// restore them; download the OpenAPI document (`eventCatalog`) receivers generate types from.
import type { EventType } from '@hooklane/sdk';
import type { ViewContext } from './context.js';
import { badge, h, json, replaceChildren, time } from './dom.js';
import { checkbox, FieldErrors, labelled, parseJsonField } from './fields.js';

/** Event types are read whole, up to this many pages of 100. */
const MAX_PAGES = 10;

async function loadAll(view: ViewContext, includeArchived: boolean): Promise<EventType[]> {
  const all: EventType[] = [];
  let after: string | null | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const connection = await view.client.eventTypes({ first: 100, after, includeArchived });
    all.push(...connection.edges.map((edge) => edge.node));
    if (!connection.pageInfo.hasNextPage) break;
    after = connection.pageInfo.endCursor;
  }
  return all;
}

function examplesOf(schema: unknown): unknown[] {
  const examples = schema && typeof schema === 'object' ? (schema as { examples?: unknown }).examples : undefined;
  return Array.isArray(examples) ? examples : [];
}

export async function showCatalog(view: ViewContext): Promise<void> {
  const { client, feedback, store } = view;
  const rows = h('tbody');
  const showArchived = checkbox('catalog-show-archived', 'Show archived event types', false);
  const download = h('button', { type: 'button' }, 'Download OpenAPI document');
  const downloadStatus = h('span', { class: 'hint', role: 'status' });
  const createForm = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'catalog-create-heading', 'data-mutates': true });

  const changed = () => {
    store.eventTypes = undefined; // the pickers read them again
  };

  const renderCreate = () => {
    const errors = new FieldErrors();
    const name = h('input', { id: 'new-event-type-name', name: 'name', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'invoice.paid' });
    const description = h('input', { id: 'new-event-type-description', name: 'description', type: 'text', autocomplete: 'off' });
    const schema = h('textarea', { id: 'new-event-type-schema', name: 'schema', rows: 4, spellcheck: 'false', placeholder: '{"type": "object", "properties": {"amount": {"type": "integer"}}, "examples": [{"amount": 4200}]}' });
    const submit = h('button', { type: 'submit', class: 'primary', 'data-mutates': true }, 'Create event type');
    replaceChildren(
      createForm,
      h('h3', { id: 'catalog-create-heading' }, 'New event type'),
      labelled('Name', name, ['Dotted, such as ', h('code', {}, 'invoice.paid'), '.']),
      errors.slot('name', name),
      labelled('Description (optional)', description),
      errors.slot('description', description),
      labelled('JSON Schema (optional)', schema, ['Every published payload must pass it; its ', h('code', {}, 'examples'), ' are what test sends and the catalog show.']),
      errors.slot('schema', schema),
      h('div', { class: 'actions' }, submit),
    );
    createForm.onsubmit = async (event) => {
      event.preventDefault();
      errors.clear();
      const payload = await feedback.run(
        'Creating the event type',
        () =>
          client.createEventType({
            name: name.value.trim(),
            description: description.value.trim() || undefined,
            schema: parseJsonField(schema.value, 'schema') ?? undefined,
          }),
        { control: submit, onError: (error) => errors.show(error) },
      );
      if (!payload || !view.isCurrent()) return;
      changed();
      feedback.say(`Event type ${payload.eventType.name} created.`);
      renderCreate();
      await reload();
    };
  };

  const row = (initial: EventType): HTMLTableRowElement => {
    const tr = h('tr', { 'data-event-type': initial.name });
    const render = (type: EventType) => {
      const examples = examplesOf(type.schema);
      const actions: HTMLElement[] = [];
      if (!type.builtIn) {
        const edit = h('button', { type: 'button', 'data-mutates': true }, 'Edit');
        edit.onclick = () => renderEditor(type);
        actions.push(edit);
        if (type.archivedAt) {
          const restore = h('button', { type: 'button', 'data-mutates': true }, 'Restore');
          restore.onclick = async () => {
            const payload = await feedback.run(`Restoring ${type.name}`, () => client.updateEventType({ name: type.name, archived: false }), { control: restore });
            if (!payload || !view.isCurrent()) return;
            changed();
            render(payload.eventType);
            feedback.say(`${type.name} restored: it can be published again.`);
          };
          actions.push(restore);
        } else {
          const archive = h('button', { type: 'button', 'data-mutates': true }, 'Archive');
          archive.onclick = async () => {
            if (!window.confirm(`Archive ${type.name}? Publishing it is refused until it is restored; its events and deliveries stay.`)) return;
            const payload = await feedback.run(`Archiving ${type.name}`, () => client.archiveEventType({ name: type.name }), { control: archive });
            if (!payload || !view.isCurrent()) return;
            changed();
            if (showArchived.input.checked) render(payload.eventType);
            else tr.remove();
            feedback.say(`${type.name} archived.`);
          };
          actions.push(archive);
        }
      }
      replaceChildren(
        tr,
        h(
          'td',
          {},
          h('div', { class: 'event-type' }, type.name),
          h(
            'div',
            { class: 'badges' },
            type.builtIn ? badge('Built-in', 'pending') : null,
            type.deprecated ? badge('Deprecated', 'held') : null,
            type.archivedAt ? [badge('Archived', 'failed'), ' ', h('span', { class: 'hint' }, 'since ', time(type.archivedAt))] : null,
          ),
          type.description ? h('div', { class: 'hint description' }, type.description) : null,
        ),
        h('td', { class: 'version' }, `v${type.version}`),
        h(
          'td',
          {},
          type.schema === null || type.schema === undefined
            ? h('span', { class: 'hint' }, 'No schema: any payload')
            : h('details', { class: 'schema' }, h('summary', {}, 'Schema'), h('pre', {}, json(type.schema))),
          examples.length > 0
            ? h('details', { class: 'examples' }, h('summary', {}, examples.length === 1 ? 'Example' : `${examples.length} examples`), examples.map((example) => h('pre', {}, json(example))))
            : null,
        ),
        h('td', {}, time(type.createdAt)),
        h('td', { class: 'row-actions' }, actions.length > 0 ? actions : h('span', { class: 'hint' }, 'Hooklane’s own')),
      );
    };
    const renderEditor = (type: EventType) => {
      const errors = new FieldErrors();
      const key = type.name.replace(/[^A-Za-z0-9]+/g, '-');
      const description = h('input', { id: `edit-${key}-description`, type: 'text', autocomplete: 'off', value: type.description ?? '' });
      const schema = h('textarea', { id: `edit-${key}-schema`, rows: 8, spellcheck: 'false' });
      schema.value = type.schema === null || type.schema === undefined ? '' : json(type.schema);
      const deprecated = checkbox(`edit-${key}-deprecated`, 'Deprecated: still published and delivered, flagged in the catalog', type.deprecated);
      const save = h('button', { type: 'submit', class: 'primary', 'data-mutates': true }, 'Save event type');
      const cancel = h('button', { type: 'button', class: 'link', onclick: () => render(type) }, 'Cancel');
      const form = h(
        'form',
        { novalidate: true, 'data-mutates': true, class: 'event-type-editor', 'aria-label': `Edit ${type.name}` },
        labelled('Description', description),
        errors.slot('description', description),
        labelled('JSON Schema', schema, 'Empty removes the schema. A different schema raises the version; publishes from then on are checked against it.'),
        errors.slot('schema', schema),
        deprecated.element,
        h('div', { class: 'actions' }, save, cancel),
      );
      form.onsubmit = async (event) => {
        event.preventDefault();
        errors.clear();
        const payload = await feedback.run(
          `Saving ${type.name}`,
          () =>
            client.updateEventType({
              name: type.name,
              description: description.value.trim() || null,
              schema: parseJsonField(schema.value, 'schema'),
              deprecated: deprecated.input.checked,
            }),
          { control: save, onError: (error) => errors.show(error) },
        );
        if (!payload || !view.isCurrent()) return;
        changed();
        render(payload.eventType);
        feedback.say(payload.eventType.version > type.version ? `${type.name} saved as version ${payload.eventType.version}.` : `${type.name} saved.`);
      };
      replaceChildren(tr, h('td', { colspan: 5 }, h('div', { class: 'event-type' }, type.name, ` (v${type.version})`), form));
    };
    render(initial);
    return tr;
  };

  const reload = async () => {
    const types = await feedback.run('Loading the event catalog', () => loadAll(view, showArchived.input.checked), { keepAlert: true });
    if (!types || !view.isCurrent()) return;
    replaceChildren(rows, types.length === 0 ? h('tr', { class: 'empty' }, h('td', { colspan: 5 }, 'No event types.')) : types.map(row));
  };
  showArchived.input.onchange = () => void reload();

  download.onclick = async () => {
    downloadStatus.textContent = '';
    const catalog = await feedback.run('Reading the event catalog', () => client.eventCatalog(), { control: download });
    if (catalog === undefined || !view.isCurrent()) return;
    const url = URL.createObjectURL(new Blob([JSON.stringify(catalog, null, 2)], { type: 'application/json' }));
    const link = h('a', { href: url, download: 'hooklane-event-catalog.openapi.json', hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    downloadStatus.textContent = 'Downloaded hooklane-event-catalog.openapi.json (OpenAPI 3.1, one webhooks entry per event type that is not archived).';
  };

  renderCreate();
  replaceChildren(
    view.main,
    h('div', { class: 'title-row' }, h('h2', {}, 'Event catalog'), download),
    h('p', { class: 'hint' }, 'The event types this tenant publishes, and the ', h('code', {}, 'hooklane.*'), ' ones Hooklane publishes about its subscriptions and deliveries. ', downloadStatus),
    createForm,
    h('div', { class: 'actions' }, showArchived.element),
    h(
      'table',
      { class: 'list catalog', 'aria-label': 'Event types' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Event type'), h('th', {}, 'Version'), h('th', {}, 'Schema and examples'), h('th', {}, 'Created'), h('th', {}, 'Actions'))),
      rows,
    ),
  );
  await reload();
}
