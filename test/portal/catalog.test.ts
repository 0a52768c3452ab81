import { readFile } from 'node:fs/promises';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { launchPortalBrowser, type PortalBrowser } from '../support/portal-browser.js';

// The Event catalog page (#/catalog) driven in Chromium: list (built-in and archived types too),
// create, edit (a new schema raises the version), deprecate, archive, restore, download the OpenAPI document.

interface EventTypeFromApi {
  name: string;
  description: string | null;
  schema: unknown;
  version: number;
  deprecated: boolean;
  archivedAt: string | null;
  builtIn: boolean;
}

describe('portal: the event catalog', () => {
  let hooklane: TestHooklane;
  let tenant: { id: string; token: string };
  let portal: PortalBrowser;
  let page: Page;

  const alert = () => page.getByRole('alert');
  const row = (name: string): Locator => page.locator(`tr[data-event-type="${name}"]`);

  async function gql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const result = await hooklane.gql<T>(tenant.token, query, variables);
    expect(result.errors).toBeUndefined();
    return result.data!;
  }

  async function eventTypesFromApi(includeArchived: boolean): Promise<EventTypeFromApi[]> {
    const data = await gql<{ eventTypes: { edges: { node: EventTypeFromApi }[] } }>(
      'query($includeArchived: Boolean) { eventTypes(first: 100, includeArchived: $includeArchived) { edges { node { name description schema version deprecated archivedAt builtIn } } } }',
      { includeArchived },
    );
    return data.eventTypes.edges.map((edge) => edge.node);
  }

  async function eventTypeFromApi(name: string): Promise<EventTypeFromApi | undefined> {
    return (await eventTypesFromApi(true)).find((type) => type.name === name);
  }

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    tenant = await hooklane.createTenant('Acme Catalog');
    await gql('mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id } } }', {
      input: {
        name: 'order.shipped',
        description: 'An order left the warehouse',
        schema: { type: 'object', properties: { orderId: { type: 'string' } }, examples: [{ orderId: 'ord_1' }] },
      },
    });
    const portalUrl = hooklane.graphqlUrl.replace(/\/graphql$/, '/portal/');
    portal = await launchPortalBrowser(portalUrl);
    page = portal.page;
    await portal.signIn(tenant.token, 'Acme Catalog');
    await portal.idle();
    await page.getByRole('link', { name: 'Event catalog' }).click();
    await row('order.shipped').waitFor();
    await portal.idle();
  });

  afterAll(async () => {
    await portal?.close();
    await hooklane?.stop();
  });

  it('lists the tenant’s event types with version, schema and examples, and the built-in ones', async () => {
    const shipped = row('order.shipped');
    expect(await shipped.locator('.version').textContent()).toBe('v1');
    expect(await shipped.locator('.description').textContent()).toBe('An order left the warehouse');
    await shipped.getByText('Example', { exact: true }).click();
    expect(await shipped.locator('details.examples pre').textContent()).toBe(JSON.stringify({ orderId: 'ord_1' }, null, 2));
    await shipped.getByText('Schema', { exact: true }).click();
    expect(await shipped.locator('details.schema pre').textContent()).toContain('"orderId"');

    const builtIns = (await eventTypesFromApi(false)).filter((type) => type.builtIn);
    expect(builtIns.length).toBeGreaterThan(0);
    for (const builtIn of builtIns) {
      const builtInRow = row(builtIn.name);
      expect(await builtInRow.locator('.badge', { hasText: 'Built-in' }).count()).toBe(1);
      expect(await builtInRow.getByRole('button').count()).toBe(0);
    }
    expect(await page.locator('main [data-mutates]').count()).toBeGreaterThan(0);
    await portal.shot('20-catalog');
  });

  it('creates an event type, with the API’s errors next to the field', async () => {
    await page.getByLabel('Name', { exact: true }).fill('hooklane.mine');
    await page.getByRole('button', { name: 'Create event type' }).click();
    await page.locator('.field-error[data-field="name"]', { hasText: 'reserved' }).waitFor();
    expect(await alert().textContent()).toContain('BAD_USER_INPUT');

    await page.getByLabel('Name', { exact: true }).fill('order.cancelled');
    await page.getByLabel('Description (optional)').fill('The customer cancelled');
    await page.getByLabel('JSON Schema (optional)').fill('{"type": "object", "required": ["orderId"]}');
    await page.getByRole('button', { name: 'Create event type' }).click();
    await row('order.cancelled').waitFor();
    expect(await eventTypeFromApi('order.cancelled')).toMatchObject({ description: 'The customer cancelled', schema: { type: 'object', required: ['orderId'] }, version: 1 });
  });

  it('edits the description, schema and deprecation: a new schema raises the version', async () => {
    const shipped = row('order.shipped');
    await shipped.getByRole('button', { name: 'Edit' }).click();
    const editor = page.getByRole('form', { name: 'Edit order.shipped' });
    await editor.getByLabel('JSON Schema').fill('{"type": 12}');
    await editor.getByRole('button', { name: 'Save event type' }).click();
    await editor.locator('.field-error[data-field="schema"]').waitFor();
    expect(await alert().textContent()).toContain('BAD_USER_INPUT');
    expect((await eventTypeFromApi('order.shipped'))!.version).toBe(1);

    const schema = { type: 'object', properties: { orderId: { type: 'string' }, carrier: { type: 'string' } }, required: ['orderId'], examples: [{ orderId: 'ord_2', carrier: 'DHL' }] };
    await editor.getByLabel('Description').fill('Left the warehouse with a carrier');
    await editor.getByLabel('JSON Schema').fill(JSON.stringify(schema));
    await editor.getByRole('checkbox', { name: /Deprecated/ }).check();
    await editor.getByRole('button', { name: 'Save event type' }).click();
    await page.locator('#notice', { hasText: 'order.shipped saved as version 2.' }).waitFor();
    expect(await eventTypeFromApi('order.shipped')).toMatchObject({ description: 'Left the warehouse with a carrier', schema, version: 2, deprecated: true });
    expect(await shipped.locator('.version').textContent()).toBe('v2');
    expect(await shipped.locator('.badge', { hasText: 'Deprecated' }).count()).toBe(1);
    await portal.shot('21-catalog-edited');
  });

  it('archives an event type (publishing it is refused) and restores it', async () => {
    page.once('dialog', (dialog) => void dialog.accept());
    await row('order.cancelled').getByRole('button', { name: 'Archive' }).click();
    await row('order.cancelled').waitFor({ state: 'detached' });
    expect((await eventTypeFromApi('order.cancelled'))!.archivedAt).not.toBeNull();
    expect((await eventTypesFromApi(false)).map((type) => type.name)).not.toContain('order.cancelled');
    const refused = await hooklane.gql(tenant.token, 'mutation { publishEvent(input: {eventType: "order.cancelled", payload: {orderId: "o"}}) { event { id } } }');
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toContain('is archived');

    await page.getByRole('checkbox', { name: 'Show archived event types' }).check();
    const archived = row('order.cancelled');
    await archived.locator('.badge', { hasText: 'Archived' }).waitFor();
    await portal.shot('22-catalog-archived');
    await archived.getByRole('button', { name: 'Restore' }).click();
    await archived.getByRole('button', { name: 'Archive' }).waitFor();
    expect((await eventTypeFromApi('order.cancelled'))!.archivedAt).toBeNull();
    await gql('mutation { publishEvent(input: {eventType: "order.cancelled", payload: {orderId: "o"}}) { event { id } } }');
  });

  it('downloads the OpenAPI event catalog; no error was thrown and the CSP held', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download OpenAPI document' }).click()]);
    expect(download.suggestedFilename()).toBe('hooklane-event-catalog.openapi.json');
    const document = JSON.parse(await readFile((await download.path())!, 'utf8')) as { openapi: string; webhooks: Record<string, unknown> };
    expect(document.openapi).toMatch(/^3\.1\./);
    expect(document).toEqual((await gql<{ eventCatalog: unknown }>('{ eventCatalog }')).eventCatalog);
    expect(Object.keys(document.webhooks)).toEqual(expect.arrayContaining(['order.shipped', 'order.cancelled']));
    expect(portal.pageErrors).toEqual([]);
    expect(portal.cspViolations).toEqual([]);
  });
});
