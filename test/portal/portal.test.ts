import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '@hooklane/sdk';
import { PORTAL_CSP } from '../../src/portal/server.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { launchPortalBrowser, type PortalBrowser } from '../support/portal-browser.js';
import { TestReceiver } from '../support/receiver.js';


describe('portal', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;
  let tenant: { id: string; token: string };
  let portal: PortalBrowser;
  let page: Page;
  let portalUrl: string;
  let pageErrors: string[];
  let cspViolations: string[];

  const shot = (name: string) => portal.shot(name);
  const idle = () => portal.idle();
  const alert = () => page.getByRole('alert');

  async function publish(payload: Record<string, unknown>): Promise<string> {
    const result = await hooklane.gql<{ publishEvent: { event: { id: string } } }>(
      tenant.token,
      'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
      { input: { eventType: 'invoice.paid', payload } },
    );
    expect(result.errors).toBeUndefined();
    return result.data!.publishEvent.event.id;
  }

  async function deliveryStatusOf(eventId: string): Promise<string | undefined> {
    const result = await hooklane.gql<{ event: { deliveries: { status: string }[] } }>(
      tenant.token,
      'query($id: ID!) { event(id: $id) { deliveries { status } } }',
      { id: eventId },
    );
    return result.data?.event.deliveries[0]?.status;
  }

  async function subscriptionFromApi(): Promise<{ enabled: boolean; eventTypes: string[] }> {
    const result = await hooklane.gql<{ subscriptions: { edges: { node: { enabled: boolean; eventTypes: string[] } }[] } }>(
      tenant.token,
      '{ subscriptions(first: 10) { edges { node { enabled eventTypes } } } }',
    );
    return result.data!.subscriptions.edges[0]!.node;
  }

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    receiver = await TestReceiver.start();
    tenant = await hooklane.createTenant('Acme Portal');
    portalUrl = hooklane.graphqlUrl.replace(/\/graphql$/, '/portal/');
    portal = await launchPortalBrowser(portalUrl);
    ({ page, pageErrors, cspViolations } = portal);
  });

  afterAll(async () => {
    await portal?.close();
    await receiver?.close();
    await hooklane?.stop();
  });

  it('serves the page, stylesheet and bundled script with a same-origin CSP', async () => {
    const bare = await fetch(portalUrl.replace(/\/$/, ''), { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/portal/');

    const html = await fetch(portalUrl);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('content-security-policy')).toBe(PORTAL_CSP);
    expect(PORTAL_CSP).toContain("default-src 'self'");
    expect(PORTAL_CSP).not.toContain('unsafe');

    const script = await fetch(new URL('app.js', portalUrl));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const code = await script.text();
    expect(code).not.toMatch(/node:crypto|require\(/);
    expect((await fetch(new URL('portal.css', portalUrl))).headers.get('content-type')).toMatch(/^text\/css/);
    expect((await fetch(new URL('nope', portalUrl))).status).toBe(404);

    // The header links to the receiving guide, which the portal serves as text.
    expect(await (await fetch(portalUrl)).text()).toContain('href="./receiving"');
    const guide = await fetch(new URL('receiving', portalUrl));
    expect(guide.status).toBe(200);
    expect(guide.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await guide.text()).toMatch(/^# Receiving webhooks\n/);
  });

  it('refuses a bad token with the API error in the alert region', async () => {
    await page.goto(portalUrl);
    await page.getByLabel('Token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await alert().waitFor();
    expect(await alert().textContent()).toContain('UNAUTHENTICATED');
    expect(await page.evaluate(() => sessionStorage.getItem('hooklane.portal.token'))).toBeNull();
  });

  it('signs in with a tenant token kept in sessionStorage', async () => {
    const created = await hooklane.gql(tenant.token, 'mutation { createEventType(input: {name: "invoice.paid", description: "An invoice was paid"}) { eventType { id } } }');
    expect(created.errors).toBeUndefined();

    await page.getByLabel('Token').fill(tenant.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#who .tenant-name', { hasText: 'Acme Portal' }).waitFor();
    await idle();
    expect(await alert().isVisible()).toBe(false);
    expect(await page.evaluate(() => sessionStorage.getItem('hooklane.portal.token'))).toBe(tenant.token);
    // The event type picker lists the tenant's event types.
    await page.getByRole('checkbox', { name: 'invoice.paid' }).waitFor();
    // A reload stays signed in (same tab).
    await page.reload();
    await page.locator('#who .tenant-name', { hasText: 'Acme Portal' }).waitFor();
    await idle();
  });

  let firstSecret = '';

  it('creates a subscription and shows its secret once, with a working Copy button', async () => {
    await page.getByLabel('Endpoint URL').fill(receiver.url);
    await page.getByRole('checkbox', { name: 'invoice.paid' }).check();
    await page.getByLabel('Description (optional)').fill('Billing receiver');
    await page.getByRole('button', { name: 'Create subscription' }).click();
    const secret = page.getByTestId('secret-value');
    await secret.waitFor();
    firstSecret = (await secret.textContent()) ?? '';
    expect(firstSecret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(firstSecret);
    const row = page.locator('tr[data-subscription-id]', { hasText: receiver.url });
    await row.waitFor();
    expect(await row.textContent()).toContain('Enabled');
    await shot('01-subscription-created');
  });

  it('lists events, filters them by status and shows a delivery’s attempts', async () => {
    const eventId = await publish({ amount: 4200 });
    const [request] = await receiver.waitForRequests(1);
    // The secret the portal showed is the one deliveries are signed with.
    expect((await verifyWebhook(request!.rawBody, request!.headers, firstSecret)).data).toEqual({ amount: 4200 });
    await eventually(async () => ((await deliveryStatusOf(eventId)) === 'SUCCEEDED' ? true : undefined));

    await page.getByRole('link', { name: 'Events & deliveries' }).click();
    const eventRow = page.locator(`tr[data-event-id="${eventId}"]`);
    await eventRow.waitFor();
    await idle();

    await page.getByLabel('Delivery status').selectOption('FAILED');
    await page.getByText('No event matches the filters.').waitFor();
    await page.getByLabel('Delivery status').selectOption('SUCCEEDED');
    await eventRow.waitFor();
    await page.getByLabel('Event type').selectOption('invoice.paid');
    await eventRow.waitFor();
    await page.getByLabel('Subscription').selectOption({ label: `${receiver.url} — Billing receiver` });
    await eventRow.waitFor();
    // Time range: nothing was published after 2099.
    await page.getByLabel('From').fill('2099-01-01T00:00:00');
    await page.getByText('No event matches the filters.').waitFor();
    await page.getByLabel('From').fill('');
    await eventRow.waitFor();
    expect(await page.locator('#events-summary').textContent()).toBe('1 event matches the filters.');
    await shot('02-events-filtered');

    await eventRow.getByRole('link', { name: receiver.url }).click();
    const attempt = page.locator('table.attempts tbody tr').first();
    await attempt.waitFor();
    await idle();
    expect(await page.locator('#delivery-status').textContent()).toBe('SUCCEEDED');
    expect(await attempt.locator('.outcome').textContent()).toBe('SUCCESS');
    expect(await attempt.locator('.status-code').textContent()).toBe('200');
    expect(await attempt.locator('.duration').textContent()).toMatch(/^\d+ ms$/);
    expect(await attempt.textContent()).toContain('ok'); // the response body
    await shot('03-delivery-succeeded');
  });

  it('retries a failed delivery from the UI once the receiver is fixed', async () => {
    receiver.replyWith({ status: 500, body: 'receiver exploded' });
    const eventId = await publish({ amount: 13 });
    await eventually(async () => ((await deliveryStatusOf(eventId)) === 'FAILED' ? true : undefined), 15_000, 'the delivery to fail');

    await page.getByRole('link', { name: '← Events & deliveries' }).click();
    await idle();
    // The filters survived the navigation; FAILED shows only the new event.
    await page.getByLabel('Delivery status').selectOption('FAILED');
    const eventRow = page.locator(`tr[data-event-id="${eventId}"]`);
    await eventRow.waitFor();
    expect(await page.locator('tr[data-event-id]').count()).toBe(1);
    await eventRow.getByRole('link', { name: receiver.url }).click();
    await page.locator('table.attempts tbody tr').first().waitFor();
    await idle();
    expect(await page.locator('#delivery-status').textContent()).toBe('FAILED');
    const attempts = page.locator('table.attempts tbody tr');
    expect(await attempts.count()).toBe(3);
    expect(await attempts.first().locator('.status-code').textContent()).toBe('500');
    expect(await attempts.first().locator('.outcome').textContent()).toBe('HTTP_ERROR');
    expect(await attempts.first().textContent()).toContain('receiver exploded');
    await shot('04-delivery-failed');

    receiver.replyWith({ status: 200, body: 'fixed' });
    await page.getByRole('button', { name: 'Retry delivery' }).click();
    await page.locator('#delivery-status', { hasText: 'SUCCEEDED' }).waitFor();
    await page.locator('table.attempts tbody tr', { hasText: 'fixed' }).waitFor();
    expect(await attempts.count()).toBe(4);
    expect(await alert().isVisible()).toBe(false);
    await shot('05-delivery-retried');

    const before = receiver.requests.length;
    await page.getByRole('button', { name: 'Replay event' }).click();
    await page.getByText('Event replayed as a new delivery').waitFor();
    await receiver.waitForRequests(before + 1);
  });

  it('disables and enables the subscription, edits its event types and rotates its secret', async () => {
    await page.getByRole('link', { name: 'Subscriptions' }).click();
    const row = page.locator('tr[data-subscription-id]', { hasText: receiver.url });
    await row.waitFor();
    await idle();

    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByRole('button', { name: 'Enable' }).waitFor();
    expect(await row.textContent()).toContain('Disabled (manual)');
    expect((await subscriptionFromApi()).enabled).toBe(false);
    await row.getByRole('button', { name: 'Enable' }).click();
    await row.getByRole('button', { name: 'Disable' }).waitFor();
    expect((await subscriptionFromApi()).enabled).toBe(true);

    await row.getByRole('button', { name: 'Edit event types' }).click();
    await row.getByLabel('Wildcards or other event types (comma-separated)').fill('billing.*');
    await row.getByRole('button', { name: 'Save event types' }).click();
    await row.locator('.chip', { hasText: 'billing.*' }).waitFor();
    expect((await subscriptionFromApi()).eventTypes.sort()).toEqual(['billing.*', 'invoice.paid']);

    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('heading', { name: /New secret for/ }).waitFor();
    const rotated = (await page.getByTestId('secret-value').textContent()) ?? '';
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(firstSecret);
    await shot('06-secret-rotated');
  });

  it('shows an API error with its code in the alert region', async () => {
    await page.getByLabel('Endpoint URL').fill('not a url');
    await page.getByRole('checkbox', { name: 'invoice.paid' }).check();
    await page.getByRole('button', { name: 'Create subscription' }).click();
    await alert().waitFor();
    await idle();
    const text = (await alert().textContent()) ?? '';
    expect(text).toContain('BAD_USER_INPUT');
    expect(text).toContain('Creating the subscription');
    await shot('07-error-alert');
    await alert().getByRole('button', { name: 'Dismiss the error' }).click();
    await alert().waitFor({ state: 'hidden' });
  });

  it('signs out, and loaded no script or style against the CSP', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('hooklane.portal.token'))).toBeNull();
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
