import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHooklane } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase } from '../support/database.js';
import { HooklaneMetrics, OTHER_TENANTS, TenantLabels } from '../../src/observability/metrics.js';
import { quotaOf } from '../../src/observability/graphql-plugin.js';
import { createEventType, createSubscription, gqlData, publish, waitForDelivery } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';
import { parseSamples, sampleValue, type Sample } from './prometheus-text.js';

const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';
const UPDATE_QUOTAS = 'mutation($input: UpdateTenantQuotasInput!) { updateTenantQuotas(input: $input) { __typename } }';

describe('GET /metrics on the API port, with METRICS_TENANT_LABELS=true', () => {
  let hooklane: TestHooklane;
  let metricsUrl: string;
  const receivers: TestReceiver[] = [];

  const scrape = async (): Promise<{ response: Response; samples: Sample[]; text: string }> => {
    const response = await fetch(metricsUrl);
    const text = await response.text();
    return { response, samples: parseSamples(text), text };
  };

  const subscribedTenant = async (reply: { status: number }) => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'invoice.paid' });
    const receiver = await TestReceiver.start();
    receivers.push(receiver);
    receiver.replyWith(reply);
    await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['invoice.paid'] });
    return tenant;
  };

  beforeAll(async () => {
    hooklane = await startTestHooklane({ METRICS_TENANT_LABELS: 'true' });
    metricsUrl = hooklane.graphqlUrl.replace(/\/graphql$/, '/metrics');
  });
  afterAll(async () => {
    await hooklane?.stop();
    await Promise.all(receivers.map((receiver) => receiver.close()));
  });

  it('counts deliveries by outcome and tenant, publishes, quota refusals and GraphQL requests', async () => {
    const good = await subscribedTenant({ status: 200 });
    const bad = await subscribedTenant({ status: 500 });

    const succeeded = await publish(hooklane, good.token, { eventType: 'invoice.paid', payload: { n: 1 } });
    const failed = await publish(hooklane, bad.token, { eventType: 'invoice.paid', payload: { n: 2 } });
    await waitForDelivery(hooklane, good.token, succeeded.deliveries[0]!.id, 'SUCCEEDED');
    // DELIVERY_RETRY_SCHEDULE is 50ms,100ms in the tests: three attempts, then FAILED.
    const failedDelivery = await waitForDelivery(hooklane, bad.token, failed.deliveries[0]!.id, 'FAILED');
    expect(failedDelivery.attemptCount).toBe(3);

    // A quota refusal: one event a month, published twice.
    const limited = await hooklane.createTenant();
    await createEventType(hooklane, limited.token, { name: 'invoice.paid' });
    await gqlData(hooklane, hooklane.adminToken, UPDATE_QUOTAS, { input: { tenantId: limited.id, eventsPerMonth: 1 } });
    const first = await hooklane.gql(limited.token, PUBLISH, { input: { eventType: 'invoice.paid', payload: {} } });
    expect(first.errors).toBeUndefined();
    const second = await hooklane.gql(limited.token, PUBLISH, { input: { eventType: 'invoice.paid', payload: {} } });
    expect(second.errors?.[0]?.extensions?.code).toBe('QUOTA_EXCEEDED');

    // The failed delivery's attempts are recorded before its job completes: wait until all three are counted.
    const { response, samples, text } = await eventually(async () => {
      const result = await scrape();
      return sampleValue(result.samples, 'hooklane_deliveries_total', { outcome: 'HTTP_ERROR', tenant: bad.id }) === 3 ? result : undefined;
    }, 5_000, 'three HTTP_ERROR attempts in the metrics');

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);

    expect(sampleValue(samples, 'hooklane_deliveries_total', { outcome: 'SUCCESS', tenant: good.id })).toBe(1);
    expect(sampleValue(samples, 'hooklane_deliveries_total', { outcome: 'SUCCESS', tenant: bad.id })).toBeUndefined();
    expect(sampleValue(samples, 'hooklane_attempt_duration_seconds_count', { outcome: 'SUCCESS' })).toBe(1);
    expect(sampleValue(samples, 'hooklane_attempt_duration_seconds_count', { outcome: 'HTTP_ERROR' })).toBe(3);
    expect(sampleValue(samples, 'hooklane_attempt_duration_seconds_bucket', { outcome: 'SUCCESS', le: '+Inf' })).toBe(1);

    expect(sampleValue(samples, 'hooklane_events_published_total', { tenant: good.id })).toBe(1);
    expect(sampleValue(samples, 'hooklane_events_published_total', { tenant: bad.id })).toBe(1);
    expect(sampleValue(samples, 'hooklane_events_published_total', { tenant: limited.id })).toBe(1);
    expect(sampleValue(samples, 'hooklane_quota_refusals_total', { quota: 'eventsPerMonth' })).toBe(1);

    expect(sampleValue(samples, 'hooklane_graphql_requests_total', { operation_type: 'mutation', outcome: 'error' })).toBe(1);
    expect(sampleValue(samples, 'hooklane_graphql_requests_total', { operation_type: 'mutation', outcome: 'success' })).toBeGreaterThanOrEqual(10);
    expect(sampleValue(samples, 'hooklane_graphql_requests_total', { operation_type: 'query', outcome: 'success' })).toBeGreaterThanOrEqual(2);

    expect(sampleValue(samples, 'hooklane_queue_depth')).toBeGreaterThanOrEqual(0);
    expect(sampleValue(samples, 'hooklane_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(0);
    // prom-client's default process and Node.js metrics.
    expect(sampleValue(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sampleValue(samples, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE hooklane_deliveries_total counter');
  });

  it('counts publishEvents batches by their size, also for an admin naming the tenant', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'order.created' });
    await gqlData(
      hooklane,
      hooklane.adminToken,
      `mutation { batch: publishEvents(input: { tenantId: "${tenant.id}", events: [
        { eventType: "order.created", payload: {} }, { eventType: "order.created", payload: {} } ] }) { __typename } }`,
    );
    const { samples } = await scrape();
    expect(sampleValue(samples, 'hooklane_events_published_total', { tenant: tenant.id })).toBe(2);
  });

  it('reads the queue gauges from due, unlocked jobs', async () => {
    // A job no worker has a task for stays due and unlocked; it was due a minute ago.
    await hooklane.sql`select graphile_worker.add_job('observability_probe', '{}'::json, run_at := now() - interval '60 seconds')`;
    const { samples } = await scrape();
    expect(sampleValue(samples, 'hooklane_queue_depth')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'hooklane_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(59);
    await hooklane.sql`delete from graphile_worker._private_jobs where task_id = (select id from graphile_worker._private_tasks where identifier = 'observability_probe')`;
  });

  it('answers every response with a request id, echoing a given one', async () => {
    const given = await fetch(hooklane.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-123.abc' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(given.headers.get('x-request-id')).toBe('req-123.abc');
    const made = await fetch(hooklane.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'not acceptable <script>' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('METRICS_PORT and the defaults', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;
  beforeAll(async () => {
    hooklane = await startTestHooklane({ METRICS_PORT: '0' });
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await hooklane?.stop();
    await receiver?.close();
  });

  it('serves /metrics on its own listener only: the API port answers 404', async () => {
    expect(hooklane.app.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(hooklane.app.metricsUrl!).port).not.toBe(new URL(hooklane.graphqlUrl).port);
    const own = await fetch(hooklane.app.metricsUrl!);
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sampleValue(parseSamples(await own.text()), 'process_resident_memory_bytes')).toBeGreaterThan(0);
    const onApi = await fetch(hooklane.graphqlUrl.replace(/\/graphql$/, '/metrics'));
    expect(onApi.status).toBe(404);
    await onApi.body?.cancel();
  });

  it('without METRICS_TENANT_LABELS counts deliveries and publishes with no tenant label, and names no tenant', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'invoice.paid' });
    await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['invoice.paid'] });
    const event = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { n: 1 } });
    await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');

    const { samples, text } = await eventually(async () => {
      const text = await (await fetch(hooklane.app.metricsUrl!)).text();
      const samples = parseSamples(text);
      return sampleValue(samples, 'hooklane_deliveries_total', { outcome: 'SUCCESS' }) === 1 ? { samples, text } : undefined;
    }, 5_000, 'the delivery in the metrics');
    const counted = samples.filter((sample) => sample.name === 'hooklane_deliveries_total' || sample.name === 'hooklane_events_published_total');
    expect(counted.map((sample) => sample.name).sort()).toEqual(['hooklane_deliveries_total', 'hooklane_events_published_total']);
    for (const sample of counted) expect(Object.keys(sample.labels)).not.toContain('tenant');
    expect(sampleValue(samples, 'hooklane_events_published_total')).toBe(1);
    expect(text).not.toContain(tenant.id);
    expect(text).not.toContain('tenant=');
    // The GraphQL counters carry on as before (the mutations above succeeded).
    expect(sampleValue(samples, 'hooklane_graphql_requests_total', { operation_type: 'mutation', outcome: 'success' })).toBeGreaterThanOrEqual(4);
  });
});

describe('a worker-only process', () => {
  it('serves /metrics on METRICS_PORT, and nothing else', async () => {
    const config = loadConfig({ ROLE: 'worker', DATABASE_URL: await createTestDatabase(), METRICS_PORT: '0', LOG_LEVEL: 'silent' });
    const app = await startHooklane(config, createLogger(config.logLevel));
    try {
      expect(app.graphqlUrl).toBeUndefined();
      const response = await fetch(app.metricsUrl!);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const samples = parseSamples(await response.text());
      expect(sampleValue(samples, 'hooklane_queue_depth')).toBe(0);
      expect(sampleValue(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      expect((await fetch(app.metricsUrl!.replace(/\/metrics$/, '/graphql'))).status).toBe(404);
    } finally {
      await app.stop();
    }
  });

  it('has no metrics server without METRICS_PORT', async () => {
    const config = loadConfig({ ROLE: 'worker', DATABASE_URL: await createTestDatabase(), LOG_LEVEL: 'silent' });
    const app = await startHooklane(config, createLogger(config.logLevel));
    await app.stop();
    expect(app.metricsUrl).toBeUndefined();
  });
});

describe('metric helpers', () => {
  it('gives only the first tenants a label of their own', () => {
    const labels = new TenantLabels(2);
    expect(labels.label('a')).toBe('a');
    expect(labels.label('b')).toBe('b');
    expect(labels.label('c')).toBe(OTHER_TENANTS);
    expect(labels.label('a')).toBe('a');
    expect(labels.label(undefined)).toBe('none');
  });

  it('caps the tenant label of the delivery counter', async () => {
    const metrics = new HooklaneMetrics({ tenantLabels: true, tenantLabelLimit: 1, defaultMetrics: false });
    metrics.recordAttempt('t1', 'SUCCESS', 12);
    metrics.recordAttempt('t2', 'SUCCESS', 12);
    metrics.recordAttempt('t3', 'TIMEOUT', 1000);
    const samples = parseSamples(await metrics.render());
    expect(sampleValue(samples, 'hooklane_deliveries_total', { outcome: 'SUCCESS', tenant: 't1' })).toBe(1);
    expect(sampleValue(samples, 'hooklane_deliveries_total', { outcome: 'SUCCESS', tenant: OTHER_TENANTS })).toBe(1);
    expect(sampleValue(samples, 'hooklane_deliveries_total', { outcome: 'TIMEOUT', tenant: OTHER_TENANTS })).toBe(1);
    expect(sampleValue(samples, 'hooklane_queue_depth')).toBeUndefined();
  });

  it('has no tenant label unless asked for one', async () => {
    const metrics = new HooklaneMetrics({ defaultMetrics: false });
    metrics.recordAttempt('t1', 'SUCCESS', 12);
    metrics.recordAttempt('t2', 'SUCCESS', 12);
    metrics.recordDispatch('t1', 'held');
    metrics.recordPublished('t1', 3);
    metrics.recordPublished(undefined, 2);
    const text = await metrics.render();
    const samples = parseSamples(text);
    expect(sampleValue(samples, 'hooklane_deliveries_total', { outcome: 'SUCCESS' })).toBe(2);
    expect(sampleValue(samples, 'hooklane_deliveries_total', { outcome: 'held' })).toBe(1);
    expect(sampleValue(samples, 'hooklane_events_published_total')).toBe(5);
    expect(text).not.toMatch(/tenant=|"t1"|"t2"/);
    expect(metrics.tenants).toBeUndefined();
  });

  it('names the quota of a QUOTA_EXCEEDED error', () => {
    const of = (message: string) => quotaOf({ message, extensions: { code: 'QUOTA_EXCEEDED' } });
    expect(of('Monthly event quota exceeded (1 events)')).toBe('eventsPerMonth');
    expect(of('Publish rate quota exceeded (20 events/s, burst 100)')).toBe('publishRate');
    expect(of('Publishing 5 events at once exceeds the publish burst of 2')).toBe('publishBurst');
    expect(of('The tenant already has 3 subscriptions, its quota')).toBe('subscriptions');
    expect(of('The tenant already has 3 event types, its quota')).toBe('eventTypes');
    expect(of("Schema compilation quota exceeded: a tenant's schemas may take 100 ms of compiling per second (burst 2000 ms)")).toBe('schemaCompile');
    expect(of('something new')).toBe('other');
  });
});
