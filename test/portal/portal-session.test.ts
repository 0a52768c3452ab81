import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortalSessionSigner } from '../../src/auth/portal-session.js';
import { portalCsp, portalRouter, PORTAL_CSP } from '../../src/portal/server.js';
import { eventually, startTestHooklane, TEST_JWT_SECRET, type TestHooklane } from '../support/hooklane.js';
import { launchPortalBrowser, UI_TIMEOUT, type PortalBrowser } from '../support/portal-browser.js';
import { TestReceiver } from '../support/receiver.js';

const TOKEN_KEY = 'hooklane.portal.token';

/** A page on a port of its own that frames the URL in its `src` query parameter. */
async function startFramingPage(): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const src = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams.get('src') ?? 'about:blank';
    const attribute = src.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Embedding app</title><h1>Embedding app</h1><iframe id="portal" width="1100" height="700" src="${attribute}"></iframe>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('portal sessions', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;
  let tenant: { id: string; token: string };
  let portal: PortalBrowser;
  let page: Page;
  let portalUrl: string;
  let allowedParent: Awaited<ReturnType<typeof startFramingPage>>;
  let otherParent: Awaited<ReturnType<typeof startFramingPage>>;
  let unframable: http.Server;
  let unframableUrl: string;
  let subscriptionId: string;

  async function createSession(input: Record<string, unknown>): Promise<{ url: string; token: string; expiresAt: string }> {
    const result = await hooklane.gql<{ createPortalSession: { url: string; token: string; expiresAt: string } }>(
      hooklane.adminToken,
      'mutation($input: CreatePortalSessionInput!) { createPortalSession(input: $input) { url token expiresAt } }',
      { input: { tenantId: tenant.id, ...input } },
    );
    expect(result.errors).toBeUndefined();
    return result.data!.createPortalSession;
  }

  async function publish(payload: Record<string, unknown>): Promise<string> {
    const result = await hooklane.gql<{ publishEvent: { event: { id: string } } }>(
      tenant.token,
      'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
      { input: { eventType: 'order.placed', payload } },
    );
    expect(result.errors).toBeUndefined();
    return result.data!.publishEvent.event.id;
  }

  /** Whether the iframe of the framing page shows the portal, once it has loaded (the portal or Chromium's refusal). */
  async function framedPortalShown(parentUrl: string): Promise<boolean> {
    await page.goto(parentUrl);
    const frameElement = await page.waitForSelector('#portal');
    const frame = await eventually(async () => (await frameElement.contentFrame()) ?? undefined, UI_TIMEOUT, 'the iframe');
    await frame.waitForLoadState('load');
    return (await frame.locator('#main').count()) > 0;
  }

  beforeAll(async () => {
    allowedParent = await startFramingPage();
    otherParent = await startFramingPage();
    // PORTAL_FRAME_ANCESTORS names one of the two framing pages only.
    hooklane = await startTestHooklane({ PORTAL_FRAME_ANCESTORS: allowedParent.origin });
    receiver = await TestReceiver.start();
    // Events whose payload asks for it fail (their retries too): the success rate is not 100%.
    receiver.replyWith((request) => (request.rawBody.includes('"fail":true') ? { status: 500, body: 'no' } : { status: 200, body: 'ok' }));
    tenant = await hooklane.createTenant('Embedded Co');
    portalUrl = hooklane.graphqlUrl.replace(/\/graphql$/, '/portal/');
    const eventType = await hooklane.gql(tenant.token, 'mutation { createEventType(input: { name: "order.placed" }) { eventType { id } } }');
    expect(eventType.errors).toBeUndefined();
    const subscription = await hooklane.gql<{ createSubscription: { subscription: { id: string } } }>(
      tenant.token,
      'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }',
      { input: { url: receiver.url, eventTypes: ['order.placed'], description: 'Orders' } },
    );
    expect(subscription.errors).toBeUndefined();
    subscriptionId = subscription.data!.createSubscription.subscription.id;

    // The portal as it is served without PORTAL_FRAME_ANCESTORS.
    const app = express();
    app.use('/portal', portalRouter());
    unframable = http.createServer(app);
    await new Promise<void>((resolve) => unframable.listen(0, '127.0.0.1', resolve));
    unframableUrl = `http://127.0.0.1:${(unframable.address() as AddressInfo).port}/portal/`;

    portal = await launchPortalBrowser(portalUrl);
    page = portal.page;
  });

  afterAll(async () => {
    await portal?.close();
    await new Promise<void>((resolve) => (unframable ? unframable.close(() => resolve()) : resolve()));
    await allowedParent?.close();
    await otherParent?.close();
    await receiver?.close();
    await hooklane?.stop();
  });

  it('names the allowed frame ancestors in the CSP, and refuses framing without them', async () => {
    const framable = await fetch(portalUrl);
    expect(framable.headers.get('content-security-policy')).toBe(portalCsp([allowedParent.origin]));
    expect(framable.headers.get('content-security-policy')).toContain(`frame-ancestors ${allowedParent.origin}`);
    expect(framable.headers.get('x-frame-options')).toBeNull();

    const refused = await fetch(unframableUrl);
    expect(refused.headers.get('content-security-policy')).toBe(PORTAL_CSP);
    expect(PORTAL_CSP).toContain("frame-ancestors 'none'");
    expect(refused.headers.get('x-frame-options')).toBe('DENY');
  });

  it('signs in from the session URL without pasting a token, and takes the token out of the address at once', async () => {
    const session = await createSession({ expiresIn: '2h' });
    expect(session.url).toBe(`${portalUrl}#session=${session.token}`);
    await page.goto(session.url);
    await page.locator('#who .tenant-name', { hasText: 'Embedded Co' }).waitFor();
    await portal.idle();
    expect(page.url()).toBe(portalUrl);
    expect(page.url()).not.toContain(session.token);
    const state = await page.evaluate((key) => ({ hash: location.hash, stored: sessionStorage.getItem(key), length: history.length }), TOKEN_KEY);
    expect(state.hash).toBe('');
    expect(state.stored).toBe(session.token);
    // No history entry holds the token: going back leaves the portal altogether.
    await page.goBack();
    expect(page.url()).not.toContain(session.token);
    expect(await page.locator('.read-only, .badge-read-only').count()).toBe(0);
    await portal.shot('portal-session-signed-in');
  });

  it('hides every control that changes something in a read-only session, and the API refuses a forced mutation', async () => {
    const session = await createSession({ readOnly: true });
    await page.goto(session.url);
    await page.locator('#who .tenant-name', { hasText: 'Embedded Co' }).waitFor();
    await page.locator('#who .badge-read-only', { hasText: 'read-only' }).waitFor();
    expect(await page.evaluate(() => document.body.classList.contains('read-only'))).toBe(true);
    await page.locator(`tr[data-subscription-id="${subscriptionId}"]`).waitFor();
    await portal.idle();
    const mutating = page.locator('[data-mutates]');
    expect(await mutating.count()).toBeGreaterThan(3);
    for (const control of await mutating.all()) expect(await control.isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Create subscription' }).isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Rotate secret' }).isVisible()).toBe(false);
    await portal.shot('portal-session-read-only');

    // The session's own token, from the page, straight to the API.
    const forced = await page.evaluate(
      async ({ key, id }) => {
        const response = await fetch('/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${sessionStorage.getItem(key)}` },
          body: JSON.stringify({ query: `mutation { updateSubscription(input: { id: "${id}", enabled: false }) { subscription { enabled } } }` }),
        });
        return { status: response.status, body: (await response.json()) as { errors?: { extensions?: { code?: string } }[] } };
      },
      { key: TOKEN_KEY, id: subscriptionId },
    );
    expect(forced.status).toBe(403);
    expect(forced.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const still = await hooklane.gql<{ subscription: { enabled: boolean } }>(tenant.token, `{ subscription(id: "${subscriptionId}") { enabled } }`);
    expect(still.data?.subscription.enabled).toBe(true);
    expect(portal.pageErrors).toEqual([]);
  });

  it('can be framed by a PORTAL_FRAME_ANCESTORS origin, and by no other page', async () => {
    const session = await createSession({ readOnly: true });
    expect(await framedPortalShown(`${allowedParent.origin}/?src=${encodeURIComponent(session.url)}`)).toBe(true);
    const framed = page.frameLocator('#portal');
    await framed.locator('#who .tenant-name', { hasText: 'Embedded Co' }).waitFor();
    await framed.locator('#who .badge-read-only').waitFor();
    await portal.shot('portal-session-framed');

    const another = await createSession({ readOnly: true });
    expect(await framedPortalShown(`${otherParent.origin}/?src=${encodeURIComponent(another.url)}`)).toBe(false);
    // Without PORTAL_FRAME_ANCESTORS no page may frame it, not even one it would otherwise allow.
    expect(await framedPortalShown(`${allowedParent.origin}/?src=${encodeURIComponent(unframableUrl)}`)).toBe(false);
    // Chromium says why: the frame-ancestors directive.
    expect(portal.cspViolations.length).toBeGreaterThan(0);
    for (const violation of portal.cspViolations) expect(violation).toMatch(/frame-ancestors/);
    portal.cspViolations.length = 0;
  });

  it('charts the tenant’s success rate and latency from real deliveries on the overview page', async () => {
    const events = [await publish({ n: 1 }), await publish({ n: 2 }), await publish({ n: 3 }), await publish({ n: 4, fail: true })];
    expect(events).toHaveLength(4);
    // The rollups the stats read from are written as deliveries settle.
    await eventually(
      async () => {
        const stats = await hooklane.gql<{ tenant: { stats: { succeeded: number; failed: number; latencyP50Ms: number | null } } }>(
          tenant.token,
          '{ tenant { stats { succeeded failed latencyP50Ms } } }',
        );
        const totals = stats.data?.tenant.stats;
        return totals && totals.succeeded === 3 && totals.failed === 1 && totals.latencyP50Ms !== null ? totals : undefined;
      },
      UI_TIMEOUT,
      'the stats of three successes and one failure',
    );

    const session = await createSession({ readOnly: true });
    await page.goto(session.url);
    await page.locator('#who .tenant-name', { hasText: 'Embedded Co' }).waitFor();
    await page.getByRole('link', { name: 'Overview' }).click();
    const panel = page.getByTestId('stats-panel');
    await panel.locator('[data-stat="deliveries"] dd').waitFor();
    await portal.idle();
    expect(await panel.locator('[data-stat="succeeded"] dd').textContent()).toBe('3');
    expect(await panel.locator('[data-stat="failed"] dd').textContent()).toBe('1');
    expect(await panel.locator('[data-stat="success-rate"] dd').textContent()).toBe('75%');
    expect(await panel.locator('[data-stat="latency-p50"] dd').textContent()).toMatch(/^\d+ ms$/);

    const rateChart = panel.locator('[data-chart="success-rate"] svg.chart');
    const latencyChart = panel.locator('[data-chart="latency"] svg.chart');
    expect(await rateChart.getAttribute('role')).toBe('img');
    expect(await rateChart.locator('title').textContent()).toBe('Success rate, last 24 hours');
    expect(await latencyChart.locator('title').textContent()).toBe('Latency p50, last 24 hours');
    // Real data drawn: a line or a dot in each series.
    expect(await rateChart.locator('.chart-series path, .chart-series circle').count()).toBeGreaterThan(0);
    expect(await latencyChart.locator('.chart-series path, .chart-series circle').count()).toBeGreaterThan(0);
    expect(await panel.locator('[data-chart="success-rate"] .chart-summary').textContent()).toMatch(/intervals had data.*75%/);
    await portal.shot('portal-session-overview-stats');

    // Another window draws again, with buckets of its own.
    await panel.getByLabel('Window').selectOption('1h');
    await eventually(async () => ((await rateChart.locator('title').textContent()) === 'Success rate, last hour' ? true : undefined), UI_TIMEOUT, 'the hour chart');
    expect(await rateChart.locator('.chart-series path, .chart-series circle').count()).toBeGreaterThan(0);
    expect(portal.cspViolations).toEqual([]);
    expect(portal.pageErrors).toEqual([]);
  });

  it('says so on the sign-in screen when a session link has expired, and keeps no trace of it', async () => {
    // Signed two hours ago for one hour: past its expiry and the minute of clock skew allowed.
    const signer = new PortalSessionSigner(TEST_JWT_SECRET, { issuer: undefined, audience: undefined, tenantClaim: 'tenant_id' });
    const expired = await signer.sign({ tenantId: tenant.id, scopes: ['events:read'], readOnly: true, lifetimeMs: 3_600_000, createdBy: 'test' }, Date.now() - 7_200_000);
    await page.goto(`${portalUrl}#session=${expired.token}`);
    await page.locator('.signed-out-reason', { hasText: 'did not sign you in' }).waitFor();
    expect(await page.getByRole('alert').filter({ hasText: 'UNAUTHENTICATED' }).textContent()).toMatch(/expired/);
    expect(page.url()).toBe(portalUrl);
    expect(await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY)).toBeNull();
    expect(await page.locator('#who').textContent()).toBe('');
  });

  it('returns to the sign-in screen with a clear message once the session is revoked', async () => {
    const session = await createSession({});
    await page.goto(session.url);
    await page.locator('#who .tenant-name', { hasText: 'Embedded Co' }).waitFor();
    await portal.idle();
    const revoked = await hooklane.gql(hooklane.adminToken, `mutation { revokeTokens(input: { tenantId: "${tenant.id}" }) { tenant { id } } }`);
    expect(revoked.errors).toBeUndefined();
    await page.getByRole('link', { name: 'Events' }).click();
    await page.locator('.signed-out-reason').waitFor();
    expect(await page.locator('.signed-out-reason').textContent()).toMatch(/session has ended: it expired or was revoked/);
    await page.getByLabel('Token').waitFor();
    expect(await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY)).toBeNull();
    expect(await page.locator('#who').textContent()).toBe('');
    await portal.shot('portal-session-ended');
  });
});
