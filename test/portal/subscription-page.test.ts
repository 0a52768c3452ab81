import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, TlsReceiver, type TestPki } from '../support/certificates.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { launchPortalBrowser, type PortalBrowser } from '../support/portal-browser.js';
import { TestReceiver } from '../support/receiver.js';
import { TokenEndpoint } from '../support/token-endpoint.js';

// The subscription page (#/subscriptions/<id>) driven in Chromium: every setting edited through
// the UI and read back from the API; headers, auth, TLS and test sends checked at real receivers.

const SUBSCRIPTION_FIELDS = `id url eventTypes description enabled channels filter retrySchedule hasCustomRetrySchedule ordered payloadMode
  rateLimit maxInFlight ed25519PublicKey headerNames authType tls { clientCertificateExpiresAt caConfigured }`;

interface SubscriptionFromApi {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  enabled: boolean;
  channels: string[] | null;
  filter: unknown;
  retrySchedule: string[];
  hasCustomRetrySchedule: boolean;
  ordered: boolean;
  payloadMode: string;
  rateLimit: number | null;
  maxInFlight: number | null;
  ed25519PublicKey: string | null;
  headerNames: string[];
  authType: string;
  tls: { clientCertificateExpiresAt: string | null; caConfigured: boolean };
}

describe('portal: the subscription page', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;
  let otherReceiver: TestReceiver;
  let tokenEndpoint: TokenEndpoint;
  let pki: TestPki;
  let tlsReceiver: TlsReceiver;
  let tenant: { id: string; token: string };
  let portal: PortalBrowser;
  let page: Page;
  let portalUrl: string;
  let subscriptionId: string;

  const alert = () => page.getByRole('alert');
  const section = (id: string): Locator => page.locator(`#${id}`);

  async function gql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const result = await hooklane.gql<T>(tenant.token, query, variables);
    expect(result.errors).toBeUndefined();
    return result.data!;
  }

  async function fromApi(id = subscriptionId): Promise<SubscriptionFromApi> {
    return (await gql<{ subscription: SubscriptionFromApi }>(`query($id: ID!) { subscription(id: $id) { ${SUBSCRIPTION_FIELDS} } }`, { id })).subscription;
  }

  async function createSubscription(input: Record<string, unknown>): Promise<string> {
    const data = await gql<{ createSubscription: { subscription: { id: string } } }>(
      'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }',
      { input },
    );
    return data.createSubscription.subscription.id;
  }

  async function publish(payload: Record<string, unknown>, eventType = 'invoice.paid'): Promise<{ id: string; deliveries: { id: string }[] }> {
    const data = await gql<{ publishEvent: { event: { id: string; deliveries: { id: string }[] } } }>(
      'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id deliveries { id } } } }',
      { input: { eventType, payload } },
    );
    return data.publishEvent.event;
  }

  async function openPage(id = subscriptionId): Promise<void> {
    await page.goto(`${portalUrl}#/subscriptions/${id}`);
    await section('subscription-test').waitFor();
    await portal.idle();
  }

  /** Sends a test event from the page and waits for its result there; returns the delivery's status text. */
  async function testSendFromPage(eventType = ''): Promise<{ status: string; attempt: string }> {
    const test = section('subscription-test');
    await test.getByLabel('Event type', { exact: true }).selectOption(eventType);
    await test.getByRole('button', { name: 'Send test event' }).click();
    await page.locator('#test-send-status .badge:not(.badge-pending)').waitFor();
    return {
      status: (await page.locator('#test-send-status').textContent()) ?? '',
      attempt: (await page.locator('#test-send-attempt').textContent()) ?? '',
    };
  }

  /** Saves a section with its primary button and waits for the success notice. */
  async function saveAndWait(button: Locator, notice: string): Promise<void> {
    await button.click();
    await page.locator('#notice', { hasText: notice }).waitFor();
    await portal.idle();
  }

  beforeAll(async () => {
    pki = makeTestPki();
    [hooklane, receiver, otherReceiver, tokenEndpoint, tlsReceiver] = await Promise.all([
      startTestHooklane(),
      TestReceiver.start(),
      TestReceiver.start(),
      TokenEndpoint.start(),
      TlsReceiver.start(pki),
    ]);
    tenant = await hooklane.createTenant('Acme Settings');
    const schema = {
      type: 'object',
      properties: { amount: { type: 'integer' }, currency: { type: 'string' } },
      required: ['amount'],
      examples: [{ amount: 4200, currency: 'EUR' }],
    };
    await gql('mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id } } }', { input: { name: 'invoice.paid', schema } });
    await gql('mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id } } }', { input: { name: 'invoice.voided' } });
    subscriptionId = await createSubscription({ url: receiver.url, eventTypes: ['invoice.paid'], description: 'Billing' });
    portalUrl = hooklane.graphqlUrl.replace(/\/graphql$/, '/portal/');
    portal = await launchPortalBrowser(portalUrl);
    page = portal.page;
    await portal.signIn(tenant.token, 'Acme Settings');
    await portal.idle();
  });

  afterAll(async () => {
    await portal?.close();
    await Promise.all([receiver?.close(), otherReceiver?.close(), tokenEndpoint?.close(), tlsReceiver?.close()]);
    await hooklane?.stop();
  });

  it('links each row of the list to its page, which shows every setting and the two panels’ sections', async () => {
    const row = page.locator(`tr[data-subscription-id="${subscriptionId}"]`);
    await row.waitFor();
    await row.getByRole('link', { name: receiver.url }).click();
    await section('subscription-test').waitFor();
    await portal.idle();
    expect(page.url()).toContain(`#/subscriptions/${subscriptionId}`);
    expect(await page.locator('#summary-url').textContent()).toBe(receiver.url);
    expect(await page.locator('#summary-status').textContent()).toContain('Enabled');

    for (const id of ['subscription-endpoint', 'subscription-delivery', 'subscription-signing', 'subscription-filter', 'subscription-headers', 'subscription-auth', 'subscription-tls', 'subscription-test']) {
      expect(await section(id).isVisible(), id).toBe(true);
    }
    // The subscription's own delivery stats, with their charts.
    const stats = page.locator('#subscription-stats').getByRole('region', { name: 'Delivery stats', exact: true });
    await stats.locator('svg.chart').first().waitFor();
    expect(await stats.locator('svg.chart').count()).toBe(2);
    // Its deliveries, from the server's deliveries(filter: {subscriptionId}).
    await section('subscription-deliveries').locator('.deliveries-summary', { hasText: /deliver(y|ies)/ }).waitFor();

    // Current values are shown in the forms.
    expect(await page.getByLabel('Endpoint URL').inputValue()).toBe(receiver.url);
    expect(await page.getByLabel('Description', { exact: true }).inputValue()).toBe('Billing');
    expect(await page.getByRole('checkbox', { name: 'invoice.paid' }).isChecked()).toBe(true);
    expect(await page.getByLabel('Payload mode').inputValue()).toBe('FULL');
    expect(await page.locator('#auth-type').textContent()).toBe('NONE');
    expect(await page.locator('#header-names').textContent()).toBe('none');
    expect(await page.locator('#tls-ca-configured').textContent()).toContain('none');

    // Every button that calls a mutation, and every form, is marked for read-only sessions.
    const unmarked = await page.locator('main').evaluate((main) => {
      const mutating = /^(Save|Remove|Send|Rotate|Preview|Delete)/;
      return Array.from(main.querySelectorAll('button'))
        .filter((button) => mutating.test(button.textContent ?? '') && !button.hasAttribute('data-mutates'))
        .map((button) => button.textContent);
    });
    expect(unmarked).toEqual([]);
    expect(await page.locator('main form:not([data-mutates])').count()).toBe(0);
    await portal.shot('10-subscription-page');
  });

  it('edits the URL, event types, channels, description and enabled flag', async () => {
    const endpoint = section('subscription-endpoint');
    await endpoint.getByLabel('Endpoint URL').fill(otherReceiver.url);
    await endpoint.getByRole('checkbox', { name: 'invoice.voided' }).check();
    await endpoint.getByLabel('Channels (comma-separated)').fill('eu, priority');
    await endpoint.getByLabel('Description', { exact: true }).fill('Billing, EU');
    await endpoint.getByRole('checkbox', { name: /^Enabled/ }).uncheck();
    await saveAndWait(endpoint.getByRole('button', { name: 'Save endpoint' }), 'Endpoint saved.');
    let saved = await fromApi();
    expect(saved).toMatchObject({ url: otherReceiver.url, channels: ['eu', 'priority'], description: 'Billing, EU', enabled: false });
    expect(saved.eventTypes.sort()).toEqual(['invoice.paid', 'invoice.voided']);
    expect(await page.locator('#summary-status').textContent()).toContain('Disabled');

    // A bad URL: the API's error in the alert region and next to the field; nothing changes.
    await endpoint.getByLabel('Endpoint URL').fill('ftp://nowhere');
    await endpoint.getByRole('button', { name: 'Save endpoint' }).click();
    await alert().waitFor();
    expect(await alert().textContent()).toContain('BAD_USER_INPUT');
    const fieldError = endpoint.locator('.field-error[data-field="url"]');
    expect(await fieldError.textContent()).toMatch(/^BAD_USER_INPUT: url is not accepted/);
    expect(await endpoint.getByLabel('Endpoint URL').getAttribute('aria-invalid')).toBe('true');
    expect((await fromApi()).url).toBe(otherReceiver.url);

    await endpoint.getByLabel('Endpoint URL').fill(receiver.url);
    await endpoint.getByRole('checkbox', { name: 'invoice.voided' }).uncheck();
    await endpoint.getByLabel('Channels (comma-separated)').fill('');
    await endpoint.getByRole('checkbox', { name: /^Enabled/ }).check();
    await saveAndWait(endpoint.getByRole('button', { name: 'Save endpoint' }), 'Endpoint saved.');
    saved = await fromApi();
    expect(saved).toMatchObject({ url: receiver.url, eventTypes: ['invoice.paid'], channels: null, enabled: true });
    expect(await fieldError.isVisible()).toBe(false);
  });

  it('edits the retry schedule, rate limit, max in flight, ordering and payload mode', async () => {
    const delivery = section('subscription-delivery');
    await delivery.getByLabel('Retry schedule (comma-separated delays)').fill('1s, 2m');
    await delivery.getByLabel('Rate limit (deliveries started per second)').fill('50');
    await delivery.getByLabel('Max in flight (deliveries at once)').fill('5');
    await delivery.getByRole('checkbox', { name: /^Ordered/ }).check();
    await delivery.getByLabel('Payload mode').selectOption('THIN');
    await saveAndWait(delivery.getByRole('button', { name: 'Save delivery settings' }), 'Delivery settings saved.');
    expect(await fromApi()).toMatchObject({ retrySchedule: ['1s', '2m'], hasCustomRetrySchedule: true, rateLimit: 50, maxInFlight: 5, ordered: true, payloadMode: 'THIN' });
    expect(await page.locator('#sub-retry-in-force').textContent()).toContain('1s, 2m');

    await delivery.getByLabel('Retry schedule (comma-separated delays)').fill('1s, 2 weeks');
    await delivery.getByRole('button', { name: 'Save delivery settings' }).click();
    await delivery.locator('.field-error[data-field="retrySchedule"]').waitFor();
    expect(await delivery.locator('.field-error[data-field="retrySchedule"]').textContent()).toContain('BAD_USER_INPUT: retrySchedule');
    expect((await fromApi()).retrySchedule).toEqual(['1s', '2m']);

    // Empty returns to the defaults.
    await delivery.getByLabel('Retry schedule (comma-separated delays)').fill('');
    await delivery.getByLabel('Rate limit (deliveries started per second)').fill('');
    await delivery.getByLabel('Max in flight (deliveries at once)').fill('');
    await delivery.getByRole('checkbox', { name: /^Ordered/ }).uncheck();
    await delivery.getByLabel('Payload mode').selectOption('FULL');
    await saveAndWait(delivery.getByRole('button', { name: 'Save delivery settings' }), 'Delivery settings saved.');
    expect(await fromApi()).toMatchObject({ hasCustomRetrySchedule: false, rateLimit: null, maxInFlight: null, ordered: false, payloadMode: 'FULL' });
  });

  it('turns Ed25519 signing on and off, and rotates the secret with an overlap', async () => {
    const signing = section('subscription-signing');
    await signing.getByRole('checkbox', { name: /^Also sign with Ed25519/ }).check();
    await saveAndWait(signing.getByRole('button', { name: 'Save signing' }), 'Signing saved.');
    const publicKey = (await fromApi()).ed25519PublicKey;
    expect(publicKey).toMatch(/^whpk_/);
    await page.locator('code#sub-ed25519-key', { hasText: publicKey! }).waitFor();

    // A delivery now carries a v1a signature beside v1.
    const before = receiver.requests.length;
    expect((await testSendFromPage('invoice.paid')).status).toBe('SUCCEEDED');
    const [request] = (await receiver.waitForRequests(before + 1)).slice(before);
    expect(String(request!.headers['webhook-signature'])).toMatch(/v1,\S+ v1a,\S+/);

    await signing.getByRole('checkbox', { name: /^Also sign with Ed25519/ }).uncheck();
    await saveAndWait(signing.getByRole('button', { name: 'Save signing' }), 'Signing saved.');
    expect((await fromApi()).ed25519PublicKey).toBeNull();

    await signing.getByLabel('Overlap').fill('1h');
    page.once('dialog', (dialog) => void dialog.accept());
    await signing.getByRole('button', { name: 'Rotate secret' }).click();
    const secret = signing.getByTestId('secret-value');
    await secret.waitFor();
    expect(await secret.textContent()).toMatch(/^whsec_/);
    await signing.getByText('The previous secret signs too until').waitFor();
  });

  it('previews a payload filter against published events, shows errors at their path, and saves it', async () => {
    for (const amount of [500, 1500, 2500]) await publish({ amount, currency: 'EUR' });
    const filterSection = section('subscription-filter');
    const filter = filterSection.getByLabel('Filter (JSON)');

    await filter.fill('{"data.amount": {"$gte": 1000}}');
    // The three just published (an earlier test send published one more).
    await filterSection.getByLabel('Preview over the last … events').fill('3');
    await filterSection.getByRole('button', { name: 'Preview' }).click();
    const result = page.locator('#filter-preview');
    await result.filter({ hasText: 'Matches' }).waitFor();
    expect(await result.getAttribute('data-examined')).toBe('3');
    expect(await result.getAttribute('data-matched')).toBe('2');
    expect(await result.textContent()).toBe('Matches 2 of the 3 newest events of its types.');
    expect((await fromApi()).filter).toBeNull(); // a preview writes nothing
    await portal.shot('11-filter-preview');

    // An unknown operator: BAD_USER_INPUT naming the path, next to the field.
    await filter.fill('{"data.amount": {"$bogus": 1}}');
    await filterSection.getByRole('button', { name: 'Preview' }).click();
    const fieldError = filterSection.locator('.field-error[data-field="filter"]');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toMatch(/^BAD_USER_INPUT: .*\(at data\.amount\)$/);
    expect(await alert().textContent()).toContain('BAD_USER_INPUT');
    // A filter the schema rules out (amount is an integer).
    await filter.fill('{"data.amount": "lots"}');
    await filterSection.getByRole('button', { name: 'Save filter' }).click();
    await alert().waitFor();
    await fieldError.filter({ hasText: 'data.amount' }).waitFor();
    expect((await fromApi()).filter).toBeNull();
    // Bad JSON is refused before asking the API.
    await filter.fill('{"data.amount": ');
    await filterSection.getByRole('button', { name: 'Save filter' }).click();
    await fieldError.filter({ hasText: 'filter is not valid JSON' }).waitFor();

    await filter.fill('{"data.amount": {"$gte": 1000}}');
    await saveAndWait(filterSection.getByRole('button', { name: 'Save filter' }), 'Filter saved.');
    expect((await fromApi()).filter).toEqual({ 'data.amount': { $gte: 1000 } });
    expect((await publish({ amount: 10 })).deliveries).toHaveLength(0);
    expect((await publish({ amount: 5000 })).deliveries).toHaveLength(1);

    await saveAndWait(filterSection.getByRole('button', { name: 'Remove filter' }), 'Filter removed.');
    expect((await fromApi()).filter).toBeNull();
    expect(await filter.inputValue()).toBe('');
  });

  it('adds, replaces and removes custom headers; the receiver gets them', async () => {
    const headers = section('subscription-headers');
    await headers.getByRole('button', { name: 'Add header' }).click();
    await headers.getByRole('button', { name: 'Add header' }).click();
    await headers.getByLabel('Header 1 name').fill('X-Api-Key');
    await headers.getByLabel('Header 1 value').fill('key-one');
    await headers.getByLabel('Header 2 name').fill('X-Team');
    await headers.getByLabel('Header 2 value').fill('billing');
    await saveAndWait(headers.getByRole('button', { name: 'Save headers' }), 'Headers saved.');
    expect((await fromApi()).headerNames).toEqual(['X-Api-Key', 'X-Team']);
    expect(await page.locator('#header-names').textContent()).toBe('X-Api-KeyX-Team');

    let before = receiver.requests.length;
    expect((await testSendFromPage()).status).toBe('SUCCEEDED');
    let [request] = (await receiver.waitForRequests(before + 1)).slice(before);
    expect(request!.headers['x-api-key']).toBe('key-one');
    expect(request!.headers['x-team']).toBe('billing');

    // Values are never shown: a kept header is typed again; a removed row drops its header.
    expect(await headers.getByLabel('Header 1 value').inputValue()).toBe('');
    await headers.getByRole('button', { name: 'Remove header 2' }).click();
    await headers.getByRole('button', { name: 'Save headers' }).click();
    await headers.locator('.field-error[data-field="headers"]', { hasText: 'give the value of X-Api-Key' }).waitFor();
    await headers.getByLabel('Header 1 value').fill('key-two');
    await saveAndWait(headers.getByRole('button', { name: 'Save headers' }), 'Headers saved.');
    expect((await fromApi()).headerNames).toEqual(['X-Api-Key']);
    before = receiver.requests.length;
    await testSendFromPage();
    [request] = (await receiver.waitForRequests(before + 1)).slice(before);
    expect(request!.headers['x-api-key']).toBe('key-two');
    expect(request!.headers['x-team']).toBeUndefined();

    // A reserved header: the API's error next to the rows.
    await headers.getByRole('button', { name: 'Add header' }).click();
    const last = headers.locator('.header-row').last();
    await last.locator('.header-name').fill('Content-Type');
    await last.locator('.header-value').fill('text/plain');
    await headers.getByLabel('Header 1 value').fill('key-two');
    await headers.getByRole('button', { name: 'Save headers' }).click();
    await headers.locator('.field-error[data-field="headers"]', { hasText: 'reserved' }).waitFor();
    expect((await fromApi()).headerNames).toEqual(['X-Api-Key']);

    await saveAndWait(headers.getByRole('button', { name: 'Remove all headers' }), 'Headers removed.');
    expect((await fromApi()).headerNames).toEqual([]);
  });

  it('sets bearer, basic and OAuth 2.0 endpoint authentication and removes it; the receiver gets the Authorization', async () => {
    const auth = section('subscription-auth');
    const sendAndRead = async () => {
      const before = receiver.requests.length;
      expect((await testSendFromPage()).status).toBe('SUCCEEDED');
      return (await receiver.waitForRequests(before + 1))[before]!.headers.authorization;
    };

    await auth.getByLabel('Authentication').selectOption('BEARER');
    await auth.getByLabel('Token', { exact: true }).fill('sekrit-token');
    await saveAndWait(auth.getByRole('button', { name: 'Save authentication' }), 'Authentication saved.');
    expect((await fromApi()).authType).toBe('BEARER');
    expect(await page.locator('#auth-type').textContent()).toBe('BEARER');
    expect(await sendAndRead()).toBe('Bearer sekrit-token');

    await auth.getByLabel('Authentication').selectOption('BASIC');
    await auth.getByLabel('Username').fill('a:b');
    await auth.getByLabel('Password').fill('pw');
    await auth.getByRole('button', { name: 'Save authentication' }).click();
    await auth.locator('.field-error[data-field="auth.basic.username"]').waitFor();
    expect((await fromApi()).authType).toBe('BEARER');
    await auth.getByLabel('Username').fill('shop');
    await saveAndWait(auth.getByRole('button', { name: 'Save authentication' }), 'Authentication saved.');
    expect((await fromApi()).authType).toBe('BASIC');
    expect(await sendAndRead()).toBe(`Basic ${Buffer.from('shop:pw').toString('base64')}`);

    await auth.getByLabel('Authentication').selectOption('OAUTH2');
    await auth.getByLabel('Token URL').fill(tokenEndpoint.url);
    await auth.getByLabel('Client id').fill('hooklane');
    await auth.getByLabel('Client secret').fill('client-secret');
    await auth.getByLabel('Scope').fill('webhooks');
    await saveAndWait(auth.getByRole('button', { name: 'Save authentication' }), 'Authentication saved.');
    expect((await fromApi()).authType).toBe('OAUTH2');
    const authorization = await sendAndRead();
    expect(authorization).toMatch(/^Bearer tok-\d+$/);
    expect(tokenEndpoint.requests.at(-1)!.form.get('scope')).toBe('webhooks');
    expect(tokenEndpoint.requests.at(-1)!.authorization).toBe(`Basic ${Buffer.from('hooklane:client-secret').toString('base64')}`);
    await portal.shot('12-endpoint-auth');

    await auth.getByLabel('Authentication').selectOption('NONE');
    await saveAndWait(auth.getByRole('button', { name: 'Save authentication' }), 'Authentication removed.');
    expect((await fromApi()).authType).toBe('NONE');
    expect(await sendAndRead()).toBeUndefined();
  });

  it('sets a client certificate and a private CA from files and text; a TLS receiver with its own CA gets the delivery', async () => {
    const tlsId = await createSubscription({ url: tlsReceiver.url('127.0.0.1'), eventTypes: ['invoice.paid'] });
    await openPage(tlsId);
    const tls = section('subscription-tls');

    // Without the CA the receiver's certificate is not trusted.
    let outcome = await testSendFromPage();
    expect(outcome.status).toBe('FAILED');

    // Bad PEM: the API names the field.
    await tls.getByLabel('Trusted CA certificates (PEM)', { exact: true }).fill('not a certificate');
    await tls.getByRole('button', { name: 'Save TLS settings' }).click();
    await tls.locator('.field-error[data-field="tls.caCertificate"]', { hasText: 'no PEM certificate' }).waitFor();
    expect(await alert().textContent()).toContain('BAD_USER_INPUT');

    await tls.getByLabel('Client certificate (PEM) from a file').setInputFiles({ name: 'client.crt', mimeType: 'application/x-pem-file', buffer: Buffer.from(pki.client.certificate) });
    await expect.poll(() => tls.getByLabel('Client certificate (PEM)', { exact: true }).inputValue()).toBe(pki.client.certificate);
    await tls.getByLabel('Client key (PEM, unencrypted)', { exact: true }).fill(pki.client.key);
    await tls.getByLabel('Trusted CA certificates (PEM)', { exact: true }).fill(pki.ca);
    await saveAndWait(tls.getByRole('button', { name: 'Save TLS settings' }), 'TLS settings saved.');
    const saved = await fromApi(tlsId);
    expect(saved.tls.caConfigured).toBe(true);
    expect(saved.tls.clientCertificateExpiresAt).not.toBeNull();
    expect(await page.locator('#tls-ca-configured').textContent()).toBe('configured');
    expect(await page.locator('#tls-client-expires time').getAttribute('datetime')).toBe(saved.tls.clientCertificateExpiresAt);
    // The key is write-only: the text areas are empty again.
    expect(await tls.getByLabel('Client key (PEM, unencrypted)', { exact: true }).inputValue()).toBe('');

    const before = tlsReceiver.requests.length;
    outcome = await testSendFromPage();
    expect(outcome.status).toBe('SUCCEEDED');
    expect(tlsReceiver.requests.slice(before)).toHaveLength(1);
    expect(tlsReceiver.requests.at(-1)!.clientCommonName).toBe('hooklane-client');
    await portal.shot('13-tls');

    await saveAndWait(tls.getByRole('button', { name: 'Remove TLS settings' }), 'TLS settings removed.');
    expect((await fromApi(tlsId)).tls).toEqual({ clientCertificateExpiresAt: null, caConfigured: false });
  });

  it('sends a test event of a chosen type and shows the delivery’s result and attempt', async () => {
    await openPage();
    const before = receiver.requests.length;
    const outcome = await testSendFromPage('invoice.paid');
    expect(outcome.status).toBe('SUCCEEDED');
    expect(outcome.attempt).toMatch(/^SUCCESS HTTP 200 · \d+ ms · /);
    const [request] = (await receiver.waitForRequests(before + 1)).slice(before);
    const body = JSON.parse(request!.rawBody) as { type: string; data: unknown };
    expect(body).toMatchObject({ type: 'invoice.paid', data: { amount: 4200, currency: 'EUR' } }); // the schema's example
    const deliveryLink = page.locator('#test-send-result a');
    const deliveryId = (await deliveryLink.textContent())!;
    const delivery = await gql<{ delivery: { event: { id: string; test: boolean } } }>('query($id: ID!) { delivery(id: $id) { event { id test } } }', { id: deliveryId });
    expect(delivery.delivery.event.test).toBe(true);
    expect(request!.headers['webhook-id']).toBe(delivery.delivery.event.id);

    // A failing receiver: the attempt's outcome, status code and body; test sends are not retried.
    receiver.replyWith({ status: 500, body: 'receiver exploded' });
    const failed = await testSendFromPage('invoice.paid');
    expect(failed.status).toBe('FAILED');
    expect(failed.attempt).toMatch(/^HTTP_ERROR HTTP 500/);
    expect(failed.attempt).toContain('receiver exploded');
    receiver.replyWith({ status: 200, body: 'ok' });
    await portal.shot('14-test-send');

    // An event type the subscription does not receive (a list gone stale): the API's error next to the picker.
    await page.locator('#test-event-type').evaluate((select) => {
      select.append(new Option('invoice.voided', 'invoice.voided'));
    });
    await section('subscription-test').getByLabel('Event type', { exact: true }).selectOption('invoice.voided');
    await section('subscription-test').getByRole('button', { name: 'Send test event' }).click();
    await alert().waitFor();
    expect(await alert().textContent()).toContain('BAD_USER_INPUT');
    await section('subscription-test').locator('.field-error[data-field="eventType"]').waitFor();
  });

  it('deletes the subscription and returns to the list; no error was thrown and the CSP held', async () => {
    const doomed = await createSubscription({ url: receiver.url, eventTypes: ['invoice.paid'], description: 'Doomed' });
    await openPage(doomed);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete subscription' }).click();
    await page.getByRole('heading', { name: 'Subscriptions', exact: true }).waitFor();
    await eventually(async () => ((await hooklane.gql(tenant.token, 'query($id: ID!) { subscription(id: $id) { id } }', { id: doomed })).data?.subscription === null ? true : undefined));
    await portal.idle();
    expect(await page.locator(`tr[data-subscription-id="${doomed}"]`).count()).toBe(0);

    // An unknown id: NOT_FOUND in the alert region.
    await page.goto(`${portalUrl}#/subscriptions/sub_does_not_exist`);
    await alert().waitFor();
    expect(await alert().textContent()).toContain('NOT_FOUND');
    expect(portal.pageErrors).toEqual([]);
    expect(portal.cspViolations).toEqual([]);
  });
});
