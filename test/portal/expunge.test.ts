import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, createSubscriptionWith, gqlData, publish } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { launchPortalBrowser, type PortalBrowser } from '../support/portal-browser.js';
import { TestReceiver } from '../support/receiver.js';

// The portal's Erase payload action on a delivery's page, in Chromium: a confirmation first (a
// cancelled one changes nothing), then the event shows "Payload erased" there and in the events list.

describe('portal: erasing an event payload', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;
  let tenant: { id: string; token: string };
  let portal: PortalBrowser;
  let page: Page;
  let portalUrl: string;

  const eventState = async (id: string) =>
    (
      await gqlData<{ event: { payload: unknown; payloadExpunged: boolean; deliveries: { id: string; status: string; attemptCount: number }[] } }>(
        hooklane,
        tenant.token,
        'query($id: ID!) { event(id: $id) { payload payloadExpunged deliveries { id status attemptCount } } }',
        { id },
      )
    ).event;

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    receiver = await TestReceiver.start();
    receiver.replyWith({ status: 500, body: 'not now' });
    tenant = await hooklane.createTenant('Erasure Co');
    await createEventType(hooklane, tenant.token, { name: 'customer.updated' });
    await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['customer.updated'], retrySchedule: ['1h'] }, 'id');
    portalUrl = hooklane.graphqlUrl.replace(/\/graphql$/, '/portal/');
    portal = await launchPortalBrowser(portalUrl);
    page = portal.page;
  });

  afterAll(async () => {
    await portal?.close();
    await receiver?.close();
    await hooklane?.stop();
  });

  it('erases the payload after a confirmation, and shows the event as erased', async () => {
    const event = await publish(hooklane, tenant.token, { eventType: 'customer.updated', payload: { name: 'Jane Doe' } });
    const delivery = await eventually(async () => {
      const [first] = (await eventState(event.id)).deliveries;
      return first?.attemptCount === 1 ? first : undefined;
    }, 10_000, 'the first attempt');
    expect(delivery.status).toBe('PENDING');

    await portal.signIn(tenant.token, 'Erasure Co');
    await page.goto(`${portalUrl}#/deliveries/${encodeURIComponent(delivery.id)}`);
    const erase = page.getByRole('button', { name: 'Erase payload' });
    await erase.waitFor();
    await portal.idle();
    expect(await erase.getAttribute('data-mutates')).not.toBeNull();
    expect(await page.locator('#event-payload').textContent()).toContain('Jane Doe');

    // Cancelled: nothing changes.
    let question = '';
    page.once('dialog', (dialog) => {
      question = dialog.message();
      void dialog.dismiss();
    });
    await erase.click();
    await portal.idle();
    expect(question).toMatch(/Erase the payload/);
    expect(await eventState(event.id)).toMatchObject({ payload: { name: 'Jane Doe' }, payloadExpunged: false });

    page.once('dialog', (dialog) => void dialog.accept());
    await erase.click();
    await page.locator('#event-payload', { hasText: 'Payload erased' }).waitFor();
    await page.locator('#delivery-status', { hasText: 'FAILED' }).waitFor();
    await portal.idle();
    expect(await page.getByRole('button', { name: 'Erase payload' }).isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Retry delivery' }).isDisabled()).toBe(true);
    expect(await page.locator('body').textContent()).not.toContain('Jane Doe');
    expect(await eventState(event.id)).toMatchObject({ payload: null, payloadExpunged: true, deliveries: [{ status: 'FAILED' }] });
    await portal.shot('expunge-01-delivery-erased');

    await page.getByRole('link', { name: '← Events & deliveries' }).click();
    const row = page.locator(`tr[data-event-id="${event.id}"]`);
    await row.waitFor();
    await portal.idle();
    expect(await row.locator('.payload-erased').textContent()).toBe('Payload erased');
    expect(portal.pageErrors).toEqual([]);
    expect(portal.cspViolations).toEqual([]);
  });
});
