import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  HooklaneError,
  SubscriptionStatsDocument,
  TenantsDocument,
  TenantStatsDocument,
  verifyWebhook,
  WebhookVerificationError,
  type HooklaneClient,
} from '../../sdk/src/node.js'; // what Node loads from @hooklane/sdk (test/sdk/package.test.ts checks the built package)
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

async function caught(promise: Promise<unknown>): Promise<HooklaneError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HooklaneError);
    return error as HooklaneError;
  }
  throw new Error('expected a HooklaneError');
}

/** A fetch that answers from a script, then hands over to the real fetch. */
function scriptedFetch(...answers: Array<() => Response>) {
  const calls: RequestInit[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    calls.push(init ?? {});
    const next = answers.shift();
    return next ? next() : fetch(input, init);
  };
  return { fetchImpl, calls };
}

const quotaExceeded = (retryAfter?: number) => () =>
  Response.json({
    errors: [{ message: 'Too many events', path: ['publishEvent'], extensions: { code: 'QUOTA_EXCEEDED', ...(retryAfter === undefined ? {} : { retryAfter }) } }],
    data: null,
  });

describe('@hooklane/sdk client', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;
  let admin: HooklaneClient;

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    receiver = await TestReceiver.start();
    admin = createClient({ url: hooklane.graphqlUrl, token: hooklane.adminToken });
  });
  afterAll(async () => {
    await receiver?.close();
    await hooklane?.stop();
  });

  it('runs the walkthrough: tenant, event type, subscription, publish, a verified delivery, read back', async () => {
    const { tenant } = await admin.createTenant({ name: 'SDK Co' });
    expect(tenant).toMatchObject({ name: 'SDK Co' });
    expect((await admin.tenants({ first: 50 })).edges.map((edge) => edge.node.id)).toContain(tenant.id);

    const client = createClient({ url: hooklane.graphqlUrl, token: () => hooklane.tenantToken(tenant.id) });

    const { eventType } = await client.createEventType({ name: 'invoice.paid', description: 'An invoice was paid' });
    expect(eventType).toMatchObject({ name: 'invoice.paid', description: 'An invoice was paid', schema: null });
    const ownTypes = (await client.eventTypes()).edges.filter((edge) => !edge.node.builtIn);
    expect(ownTypes.map((edge) => [edge.node.name, edge.node.version])).toEqual([['invoice.paid', 1]]);

    const { subscription, secret } = await client.createSubscription({ url: receiver.url, eventTypes: ['invoice.paid'] });
    expect(secret).toMatch(/^whsec_/);
    expect(subscription).toMatchObject({ url: receiver.url, eventTypes: ['invoice.paid'], enabled: true, payloadMode: 'FULL' });
    expect(await client.subscription({ id: subscription.id })).toEqual(subscription);
    expect((await client.subscriptions({ first: 10 })).edges).toHaveLength(1);

    const { event } = await client.publishEvent({ eventType: 'invoice.paid', payload: { amount: 4200 }, idempotencyKey: 'inv-1' });
    expect(event).toMatchObject({ eventType: 'invoice.paid', idempotencyKey: 'inv-1' });
    expect(event.deliveries).toHaveLength(1);

    const [request] = await receiver.waitForRequests(1);
    const received = await verifyWebhook<{ amount: number }>(request!.rawBody, request!.headers, secret);
    expect(received).toEqual({ type: 'invoice.paid', timestamp: event.createdAt, data: { amount: 4200 } });
    expect(request!.headers['webhook-id']).toBe(event.id);
    await expect(verifyWebhook(request!.rawBody, request!.headers, `whsec_${Buffer.alloc(32).toString('base64')}`)).rejects.toThrow(
      WebhookVerificationError,
    );

    const delivery = await eventually(async () => {
      const found = await client.delivery({ id: event.deliveries[0]!.id });
      return found?.status === 'SUCCEEDED' ? found : undefined;
    });
    expect(delivery.subscription.id).toBe(subscription.id);
    expect(delivery.event.id).toBe(event.id);
    expect(delivery.attempts).toMatchObject([{ statusCode: 200, outcome: 'SUCCESS', error: null }]);
    expect((await client.event({ id: event.id }))?.deliveries[0]?.status).toBe('SUCCEEDED');
    expect((await client.events({ first: 5 })).edges.map((edge) => edge.node.id)).toEqual([event.id]);


    const { events } = await client.publishEvents({ events: [{ eventType: 'invoice.paid', payload: { amount: 1 } }] });
    expect(events).toHaveLength(1);
    const { deliveries } = await client.replayEvent({ id: event.id });
    expect(deliveries).toHaveLength(1);
    expect((await client.retryDelivery({ id: delivery.id })).delivery.id).toBe(delivery.id);

    const { subscription: disabled } = await client.updateSubscription({ id: subscription.id, enabled: false });
    expect(disabled).toMatchObject({ enabled: false, disabledReason: 'MANUAL' });
    expect((await client.discardHeldDeliveries({ subscriptionId: subscription.id })).discardedCount).toBeGreaterThanOrEqual(0);
    const recovered = await client.recoverSubscription({ id: subscription.id, since: new Date(0).toISOString() });
    expect(recovered.deliveryCount).toBe(0);
    const rotated = await client.rotateSubscriptionSecret({ id: subscription.id });
    expect(rotated.secret).not.toBe(secret);
    expect(await client.deleteSubscription({ id: subscription.id })).toEqual({ id: subscription.id });
    expect(await client.subscription({ id: subscription.id })).toBeNull();
  });

  it('sends a test event, evolves an event type and reads the catalog', async () => {
    const { tenant } = await admin.createTenant({ name: 'Catalog Co' });
    const client = createClient({ url: hooklane.graphqlUrl, token: () => hooklane.tenantToken(tenant.id) });
    await client.createEventType({ name: 'user.created', schema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } });
    const testReceiver = await TestReceiver.start();
    try {
      const { subscription, secret } = await client.createSubscription({ url: testReceiver.url, eventTypes: ['user.created'] });
      const { delivery } = await client.sendTestEvent({ subscriptionId: subscription.id });
      expect(delivery.event).toMatchObject({ eventType: 'user.created', payload: { id: 'string' }, test: true });
      const [request] = await testReceiver.waitForRequests(1);
      expect(await verifyWebhook(request!.rawBody, request!.headers, secret)).toMatchObject({ type: 'user.created', data: { id: 'string' } });
    } finally {
      await testReceiver.close();
    }
    const { eventType } = await client.updateEventType({ name: 'user.created', deprecated: true, schema: { type: 'object' } });
    expect(eventType).toMatchObject({ version: 2, deprecated: true, builtIn: false, archivedAt: null });
    expect((await client.archiveEventType({ name: 'user.created' })).eventType.archivedAt).not.toBeNull();
    expect((await client.eventTypes({ includeArchived: true })).edges.map((edge) => edge.node.name)).toContain('user.created');
    const catalog = (await client.eventCatalog()) as { openapi: string; webhooks: Record<string, unknown> };
    expect(catalog.openapi).toBe('3.1.0');
    expect(Object.keys(catalog.webhooks)).not.toContain('user.created');
  });

  it("reads the caller's tenant with its quotas and usage", async () => {
    const { tenant } = await admin.createTenant({ name: 'Own view' });
    expect(tenant.status).toBe('ACTIVE');
    const client = createClient({ url: hooklane.graphqlUrl, token: await hooklane.tenantToken(tenant.id) });
    const own = await client.tenant();
    expect(own).toMatchObject(tenant);
    expect(own!.quotas.publishRate).toBeGreaterThan(0);
    expect(own!.usage).toMatchObject({ subscriptions: 0, eventTypes: 0 });
    expect(await admin.tenant()).toBeNull(); // an admin token that names no tenant
  });

  it('throws HooklaneError with the contract code: NOT_FOUND, BAD_USER_INPUT, UNAUTHENTICATED', async () => {
    const tenant = await hooklane.createTenant('Errors');
    const client = createClient({ url: hooklane.graphqlUrl, token: tenant.token });

    const notFound = await caught(client.retryDelivery({ id: '00000000-0000-0000-0000-000000000000' }));
    expect(notFound.code).toBe('NOT_FOUND');
    expect(notFound.path).toEqual(['retryDelivery']);
    expect(notFound.status).toBe(200);

    const badInput = await caught(client.createEventType({ name: 'not a valid name!' }));
    expect(badInput).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
    expect(badInput.message).toBeTruthy();

    const anonymous = createClient({ url: hooklane.graphqlUrl });
    const unauthenticated = await caught(anonymous.tenant());
    expect(unauthenticated).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    const forged = await caught(createClient({ url: hooklane.graphqlUrl, token: 'not.a.jwt' }).events());
    expect(forged.code).toBe('UNAUTHENTICATED');
  });

  it('reports an unreachable API as NETWORK_ERROR and a non-GraphQL answer as BAD_RESPONSE', async () => {
    const offline = await caught(createClient({ url: 'http://127.0.0.1:1/graphql', token: 'x' }).tenant());
    expect(offline.code).toBe('NETWORK_ERROR');
    expect(offline.status).toBeUndefined();

    const { fetchImpl } = scriptedFetch(() => new Response('<html>Bad gateway</html>', { status: 502 }));
    const proxy = await caught(createClient({ url: hooklane.graphqlUrl, token: hooklane.adminToken, fetch: fetchImpl }).tenant());
    expect(proxy).toMatchObject({ code: 'BAD_RESPONSE', status: 502 });
  });

  it('retries QUOTA_EXCEEDED after retryAfter when asked to, and only then', async () => {
    const tenant = await hooklane.createTenant('Quota');
    await createClient({ url: hooklane.graphqlUrl, token: tenant.token }).createEventType({ name: 'quota.test' });

    const off = scriptedFetch(quotaExceeded(0.05));
    const refused = await caught(createClient({ url: hooklane.graphqlUrl, token: tenant.token, fetch: off.fetchImpl }).publishEvent({ eventType: 'quota.test', payload: {} }));
    expect(refused).toMatchObject({ code: 'QUOTA_EXCEEDED', retryAfter: 0.05, path: ['publishEvent'] });
    expect(off.calls).toHaveLength(1);

    const on = scriptedFetch(quotaExceeded(0.05), quotaExceeded(0.05));
    const started = Date.now();
    const retried = createClient({ url: hooklane.graphqlUrl, token: tenant.token, fetch: on.fetchImpl, retryQuotaExceeded: true });
    const { event } = await retried.publishEvent({ eventType: 'quota.test', payload: { n: 1 } });
    expect(event.eventType).toBe('quota.test');
    expect(on.calls).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);

    const bounded = scriptedFetch(quotaExceeded(0), quotaExceeded(0), quotaExceeded(0));
    const limited = createClient({ url: hooklane.graphqlUrl, token: tenant.token, fetch: bounded.fetchImpl, retryQuotaExceeded: { maxRetries: 1 } });
    expect((await caught(limited.tenant())).code).toBe('QUOTA_EXCEEDED');
    expect(bounded.calls).toHaveLength(2);

    const tooLong = scriptedFetch(quotaExceeded(3600));
    const patient = createClient({ url: hooklane.graphqlUrl, token: tenant.token, fetch: tooLong.fetchImpl, retryQuotaExceeded: { maxRetries: 5, maxWaitSeconds: 10 } });
    expect((await caught(patient.tenant())).retryAfter).toBe(3600);
    expect(tooLong.calls).toHaveLength(1);
  });

  it('reads delivery stats with SubscriptionStatsDocument and TenantStatsDocument', async () => {
    const { tenant } = await admin.createTenant({ name: 'SDK Stats' });
    const client = createClient({ url: hooklane.graphqlUrl, token: await hooklane.tenantToken(tenant.id) });
    await client.createEventType({ name: 'stats.sdk' });
    const { subscription } = await client.createSubscription({ url: receiver.url, eventTypes: ['stats.sdk'] });
    const { event } = await client.publishEvent({ eventType: 'stats.sdk', payload: {} });
    await eventually(async () => ((await client.delivery({ id: event.deliveries[0]!.id }))?.status === 'SUCCEEDED' ? true : undefined));

    const { subscription: found } = await client.request(SubscriptionStatsDocument, { id: subscription.id, interval: '1h' });
    expect(found?.stats).toMatchObject({ deliveries: 1, succeeded: 1, failed: 0, attempts: 1, successRate: 1, pending: 0, held: 0 });
    expect(found!.stats.buckets.reduce((sum, bucket) => sum + bucket.succeeded, 0)).toBe(1);
    const { tenant: own } = await client.request(TenantStatsDocument, { since: new Date(Date.now() - 3_600_000).toISOString() });
    expect(own?.stats).toMatchObject({ deliveries: 1, succeeded: 1 });
  });

  it('runs a custom document through request(): its text, a typed document string or a parsed document', async () => {
    const data = await admin.request<{ tenants: { pageInfo: { hasNextPage: boolean } } }>('{ tenants(first: 1) { pageInfo { hasNextPage } } }');
    expect(typeof data.tenants.pageInfo.hasNextPage).toBe('boolean');

    const typed = await admin.request(TenantsDocument, { first: 1 });
    expect(typed.tenants.edges.length).toBeLessThanOrEqual(1);

    const parsed = await admin.request<{ tenants: { edges: unknown[] } }>(parse('query Two { tenants(first: 2) { edges { cursor } } }'));
    expect(parsed.tenants.edges.length).toBeLessThanOrEqual(2);
    await expect(admin.request(parse('{ tenant { id } }', { noLocation: true }))).rejects.toThrow(/no source text/);
  });
});
