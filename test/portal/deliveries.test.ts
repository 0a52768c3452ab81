import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, createSubscriptionWith, gqlData, publishBatch } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, tenantIdle, type TestHooklane } from '../support/hooklane.js';
import { launchPortalBrowser, type PortalBrowser } from '../support/portal-browser.js';
import { receiverPool } from '../support/fixtures.js';
import type { TestReceiver } from '../support/receiver.js';

// The portal's server-side search: the events page filtered by `events(filter)`, the Deliveries
// page by `deliveries(filter)` with attempt logs, cursor paging, and a bulk retry with its dry run,
// in Chromium against a whole Hooklane and real receivers on 127.0.0.1.

describe('portal: searching events and deliveries, retrying in bulk', () => {
  let hooklane: TestHooklane;
  let tenant: { id: string; token: string };
  let portal: PortalBrowser;
  let page: Page;
  let failing: TestReceiver;
  let working: TestReceiver;
  let failingSubscription: string;
  const receivers = receiverPool();
  /** The bulk events, oldest first. */
  let bulkEvents: string[] = [];

  const idle = () => portal.idle();
  const rows = (selector: string) => page.locator(selector);

  const statuses = async (filter: Record<string, unknown>) =>
    (
      await gqlData<{ deliveries: { edges: { node: { id: string; status: string } }[] } }>(
        hooklane,
        tenant.token,
        'query($filter: DeliveryFilter) { deliveries(first: 100, filter: $filter) { edges { node { id status } } } }',
        { filter },
      )
    ).deliveries.edges.map((edge) => edge.node.status);

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    tenant = await hooklane.createTenant('Acme Search');
    for (const name of ['order.created', 'order.paid', 'bulk.thing']) await createEventType(hooklane, tenant.token, { name });
    failing = await receivers.start();
    working = await receivers.start();
    failing.replyWith({ status: 500, body: 'down for maintenance' });
    failingSubscription = (
      await createSubscriptionWith(hooklane, tenant.token, { url: failing.url, eventTypes: ['order.*'], description: 'Orders' }, 'id')
    ).subscription.id;
    await createSubscriptionWith(hooklane, tenant.token, { url: working.url, eventTypes: ['order.created', 'bulk.thing'] }, 'id');

    // 45 bulk events: more than a page of events (40) and of deliveries (25).
    const bulk = await publishBatch(
      hooklane,
      tenant.token,
      Array.from({ length: 45 }, (_, n) => ({ eventType: 'bulk.thing', payload: { n }, idempotencyKey: `bulk-${n}` })),
      'id',
    );
    expect(bulk.errors).toBeUndefined();
    bulkEvents = bulk.data!.publishEvents.events.map((event) => event.id);
    const orders = Array.from({ length: 5 }, (_, n) => ({ eventType: n < 3 ? 'order.paid' : 'order.created', payload: { n } }));
    expect((await publishBatch(hooklane, tenant.token, orders, 'id')).errors).toBeUndefined();
    await tenantIdle(hooklane, tenant.id, 20_000);

    portal = await launchPortalBrowser(hooklane.graphqlUrl.replace(/\/graphql$/, '/portal/'));
    page = portal.page;
    await portal.signIn(tenant.token, 'Acme Search');
  });

  afterAll(async () => {
    await portal?.close();
    await receivers.closeAll();
    await hooklane?.stop();
  });

  it('filters events on the server, beyond the pages loaded, and pages them with Load more', async () => {
    await page.getByRole('link', { name: 'Events & deliveries' }).click();
    await rows('tr[data-event-id]').first().waitFor();
    await idle();
    // The oldest event is not on the first page, but the server finds it by its idempotency key.
    expect(await rows(`tr[data-event-id="${bulkEvents[0]}"]`).count()).toBe(0);
    const searched = page.waitForRequest((request) => request.url().endsWith('/graphql') && (request.postData() ?? '').includes('"idempotencyKey":"bulk-0"'));
    await page.getByLabel('Idempotency key').fill('bulk-0');
    await searched;
    await rows(`tr[data-event-id="${bulkEvents[0]}"]`).waitFor();
    await idle();
    expect(await rows('tr[data-event-id]').count()).toBe(1);
    expect(await page.locator('#events-summary').textContent()).toBe('1 event matches the filters.');
    await page.getByLabel('Idempotency key').fill('no-such-key');
    await page.getByText('No event matches the filters.').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await idle();

    await page.getByLabel('Event type').selectOption('bulk.thing');
    await page.getByText('40 events match the filters so far: Load more for older ones.', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.getByText('45 events match the filters.', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Load more' }).isVisible()).toBe(false);
    expect(await rows(`tr[data-event-id="${bulkEvents[0]}"]`).count()).toBe(1);

    await page.getByLabel('Event type').selectOption('');
    await page.getByLabel('Delivery status').selectOption('FAILED');
    await page.getByText('5 events match the filters.', { exact: true }).waitFor();
    // Every control that calls a mutation is marked for read-only sessions.
    expect(await page.locator('button', { hasText: 'Replay event' }).count()).toBe(5);
    expect(await page.locator('button[data-mutates]', { hasText: 'Replay event' }).count()).toBe(5);
    await portal.shot('deliveries-01-events-filtered-on-the-server');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await idle();
  });

  it('lists deliveries with server-side filters, cursor paging and attempt logs', async () => {
    await page.getByRole('link', { name: 'Deliveries', exact: true }).click();
    await rows('tr[data-delivery-id]').first().waitFor();
    await idle();
    expect(await page.locator('.deliveries-summary').textContent()).toBe('25 deliveries loaded so far: Load more for older ones.');
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.getByText('50 deliveries loaded so far: Load more for older ones.', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.getByText('52 deliveries loaded.', { exact: true }).waitFor();

    await page.getByLabel('Subscription').selectOption({ label: `${failing.url} — Orders` });
    await page.getByLabel('Status').selectOption('FAILED');
    await page.getByText('5 deliveries match the filters.', { exact: true }).waitFor();
    await page.getByLabel('Event types').fill('order.paid');
    await page.getByText('3 deliveries match the filters.', { exact: true }).waitFor();
    const first = rows('tbody.delivery-entry').first();
    expect(await first.locator('.delivery-status').textContent()).toBe('FAILED');
    await first.getByRole('button', { name: '3 attempts' }).click();
    const attempts = first.locator('table.attempts tbody tr');
    await attempts.first().waitFor();
    expect(await attempts.count()).toBe(3);
    expect(await attempts.first().locator('.status-code').textContent()).toBe('500');
    expect(await attempts.first().textContent()).toContain('down for maintenance');
    await portal.shot('deliveries-02-failed-with-attempts');
  });

  it('retries the filtered deliveries in bulk after a dry run that says how many', async () => {
    failing.replyWith({ status: 200, body: 'back' });
    const before = failing.requests.length;
    const start = page.getByRole('button', { name: 'Retry…' });
    expect(await start.getAttribute('data-mutates')).not.toBeNull();
    await start.click();
    await page.locator('#retry-preview', { hasText: '3 deliveries will be re-sent.' }).waitFor();
    await idle();
    // The dry run sent nothing and changed nothing.
    expect(failing.requests.length).toBe(before);
    expect(await statuses({ subscriptionId: failingSubscription, eventTypes: ['order.paid'] })).toEqual(['FAILED', 'FAILED', 'FAILED']);

    const confirm = page.getByRole('button', { name: 'Re-send 3 deliveries' });
    expect(await confirm.getAttribute('data-mutates')).not.toBeNull();
    await confirm.click();
    await page.locator('#retry-result', { hasText: '3 deliveries are being re-sent' }).waitFor();
    await eventually(async () => {
      const now = await statuses({ subscriptionId: failingSubscription, eventTypes: ['order.paid'] });
      return now.every((status) => status === 'SUCCEEDED') ? now : undefined;
    }, 15_000);
    expect(failing.requests.length).toBe(before + 3);
    // The two order.created deliveries were not in the filter: still FAILED.
    expect(await statuses({ subscriptionId: failingSubscription, eventTypes: ['order.created'] })).toEqual(['FAILED', 'FAILED']);

    await page.getByLabel('Status').selectOption('SUCCEEDED');
    await page.getByText('3 deliveries match the filters.', { exact: true }).waitFor();
    await portal.shot('deliveries-03-retried');
    expect(portal.pageErrors).toEqual([]);
    expect(portal.cspViolations).toEqual([]);
  });
});
