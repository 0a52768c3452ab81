import http from 'node:http';
import type { Hooklane } from '../../src/app.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, createSubscription, gqlData, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, testWorker, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver, type ReceivedRequest } from '../support/receiver.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const PUBLISH = 'mutation Publish($input: PublishEventInput!) { publishEvent(input: $input) { event { id deliveries { id } } } }';

function randomHex(bytes: number): string {
  return Buffer.from(Array.from({ length: bytes }, () => Math.floor(Math.random() * 256))).toString('hex');
}

/** Publishes with the request headers given (the test helpers send none of their own). */
async function publishWithHeaders(
  hooklane: TestHooklane,
  token: string,
  headers: Record<string, string>,
): Promise<{ id: string; deliveries: { id: string }[] }> {
  const response = await fetch(hooklane.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query: PUBLISH, variables: { input: { eventType: 'order.created', payload: { n: 1 } } } }),
  });
  const body = (await response.json()) as { data?: { publishEvent: { event: { id: string; deliveries: { id: string }[] } } }; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data!.publishEvent.event;
}

function traceparentOf(request: ReceivedRequest): { traceId: string; spanId: string; flags: string } {
  const header = request.headers.traceparent;
  expect(header, 'the attempt carries a traceparent').toMatch(TRACEPARENT);
  const [, traceId, spanId, flags] = TRACEPARENT.exec(header as string)!;
  return { traceId: traceId!, spanId: spanId!, flags: flags! };
}

async function setUpTenant(hooklane: TestHooklane, receiver: TestReceiver) {
  const tenant = await hooklane.createTenant();
  await createEventType(hooklane, tenant.token, { name: 'order.created' });
  await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
  return tenant;
}

describe('trace context without an OTLP endpoint (API and worker in separate processes)', () => {
  let hooklane: TestHooklane;
  let worker: Hooklane;
  let receiver: TestReceiver;

  beforeAll(async () => {
    hooklane = await startTestHooklane({ ROLE: 'api' });
    worker = await testWorker(hooklane.databaseUrl, { DELIVERY_RETRY_SCHEDULE: '50ms,100ms', DELIVERY_TIMEOUT: '1s' })();
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await worker?.stop();
    await hooklane?.stop();
    await receiver?.close();
  });
  afterEach(() => {
    receiver.requests.length = 0;
  });

  it('every attempt, retry and re-send carries the publish trace id with a span id of its own', async () => {
    const tenant = await setUpTenant(hooklane, receiver);
    receiver.replyWith({ status: 500 }, { status: 200 });
    const traceId = randomHex(16);
    const callerSpanId = randomHex(8);
    const event = await publishWithHeaders(hooklane, tenant.token, { traceparent: `00-${traceId}-${callerSpanId}-01` });

    const [first, retry] = await receiver.waitForRequests(2);
    const sent = [traceparentOf(first!), traceparentOf(retry!)];
    for (const attempt of sent) {
      expect(attempt.traceId).toBe(traceId);
      expect(attempt.flags).toBe('01');
      expect(attempt.spanId).not.toBe(callerSpanId);
    }
    expect(sent[0]!.spanId).not.toBe(sent[1]!.spanId);
    await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');

    // A manual re-send is in the same trace.
    await gqlData(hooklane, tenant.token, 'mutation($input: RetryDeliveryInput!) { retryDelivery(input: $input) { delivery { id } } }', {
      input: { id: event.deliveries[0]!.id },
    });
    const [, , resent] = await receiver.waitForRequests(3);
    expect(traceparentOf(resent!).traceId).toBe(traceId);
    expect(new Set([...sent.map((attempt) => attempt.spanId), traceparentOf(resent!).spanId]).size).toBe(3);
  });

  it('a malformed traceparent is ignored, not an error, and no traceparent is made up', async () => {
    const tenant = await setUpTenant(hooklane, receiver);
    receiver.replyWith({ status: 200 });
    for (const traceparent of ['garbage', `00-${'0'.repeat(32)}-${randomHex(8)}-01`, `00-${randomHex(16).toUpperCase()}-${randomHex(8)}-01`, 'x'.repeat(4000)]) {
      const event = await publishWithHeaders(hooklane, tenant.token, { traceparent });
      await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');
    }
    const requests = await receiver.waitForRequests(4);
    for (const request of requests) expect(request.headers.traceparent).toBeUndefined();
  });
});

interface OtlpExport {
  contentType: string;
  body: Buffer;
}

/** An OTLP/HTTP receiver on 127.0.0.1: keeps every POST to /v1/traces. */
async function startOtlpReceiver(): Promise<{ url: string; exports: OtlpExport[]; close(): Promise<void> }> {
  const exports: OtlpExport[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') exports.push({ contentType: String(req.headers['content-type']), body: Buffer.concat(chunks) });
      res.writeHead(req.url === '/v1/traces' ? 200 : 404, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  serviceName: string | undefined;
}

/** The spans of OTLP/JSON exports (ids in hex, as OTLP/JSON writes them). */
function spansOf(exports: readonly OtlpExport[]): ExportedSpan[] {
  type Attribute = { key: string; value: { stringValue?: string } & Record<string, unknown> };
  type Request = {
    resourceSpans: { resource: { attributes: Attribute[] }; scopeSpans: { spans: Omit<ExportedSpan, 'serviceName'>[] }[] }[];
  };
  return exports.flatMap((exported) => {
    const request = JSON.parse(exported.body.toString('utf8')) as Request;
    return request.resourceSpans.flatMap((resourceSpans) => {
      const serviceName = resourceSpans.resource.attributes.find((attribute) => attribute.key === 'service.name')?.value.stringValue;
      return resourceSpans.scopeSpans.flatMap((scope) => scope.spans.map((span) => ({ ...span, serviceName })));
    });
  });
}

function attribute(span: ExportedSpan, key: string): unknown {
  const value = span.attributes.find((entry) => entry.key === key)?.value;
  return value && (value.stringValue ?? value.intValue ?? value.boolValue);
}

describe('spans exported over OTLP/HTTP', () => {
  let receiver: TestReceiver;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;

  beforeAll(async () => {
    receiver = await TestReceiver.start();
    otlp = await startOtlpReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await otlp?.close();
  });
  afterEach(() => {
    receiver.requests.length = 0;
    otlp.exports.length = 0;
  });

  it('the GraphQL operation, the event write and each attempt, in the caller’s trace, linked parent to child', async () => {
    const hooklane = await startTestHooklane({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    let stopped = false;
    try {
      const tenant = await setUpTenant(hooklane, receiver);
      receiver.replyWith({ status: 503 }, { status: 200 });
      const traceId = randomHex(16);
      const callerSpanId = randomHex(8);
      const traced = await publishWithHeaders(hooklane, tenant.token, { traceparent: `00-${traceId}-${callerSpanId}-01` });
      const attempts = await receiver.waitForRequests(2);
      await waitForDelivery(hooklane, tenant.token, traced.deliveries[0]!.id, 'SUCCEEDED');
      // Without a traceparent the publish starts a trace of its own, which its deliveries carry.
      receiver.replyWith({ status: 200 });
      const untraced = await publishWithHeaders(hooklane, tenant.token, {});
      const [, , untracedAttempt] = await receiver.waitForRequests(3);
      await waitForDelivery(hooklane, tenant.token, untraced.deliveries[0]!.id, 'SUCCEEDED');

      // Stopping exports what is buffered.
      await hooklane.stop();
      stopped = true;
      const spans = spansOf(otlp.exports);
      expect(otlp.exports.every((exported) => exported.contentType.startsWith('application/json'))).toBe(true);
      expect(new Set(spans.map((span) => span.serviceName))).toEqual(new Set(['hooklane']));

      const inTrace = spans.filter((span) => span.traceId === traceId);
      const operation = inTrace.find((span) => span.name === 'mutation Publish');
      expect(operation, 'the GraphQL operation span').toBeDefined();
      expect(operation!.parentSpanId).toBe(callerSpanId);
      expect(attribute(operation!, 'graphql.operation.type')).toBe('mutation');

      const write = inTrace.find((span) => span.name === 'INSERT events');
      expect(write, 'the event write span').toBeDefined();
      expect(write!.parentSpanId).toBe(operation!.spanId);
      expect(attribute(write!, 'db.system.name')).toBe('postgresql');

      const attemptSpans = inTrace.filter((span) => span.name === 'POST');
      expect(attemptSpans).toHaveLength(2);
      for (const span of attemptSpans) {
        expect(span.parentSpanId).toBe(write!.spanId);
        expect(attribute(span, 'hooklane.delivery.id')).toBe(traced.deliveries[0]!.id);
        expect(attribute(span, 'hooklane.event.id')).toBe(traced.id);
      }
      // Each attempt sent its own span's id.
      const sentSpanIds = attempts.map((request) => {
        const sent = traceparentOf(request);
        expect(sent.traceId).toBe(traceId);
        return sent.spanId;
      });
      expect(new Set(sentSpanIds)).toEqual(new Set(attemptSpans.map((span) => span.spanId)));
      expect(attemptSpans.map((span) => String(attribute(span, 'http.response.status_code'))).sort()).toEqual(['200', '503']);

      const ownTrace = traceparentOf(untracedAttempt!);
      expect(ownTrace.traceId).not.toBe(traceId);
      const ownSpans = spans.filter((span) => span.traceId === ownTrace.traceId);
      const ownOperation = ownSpans.find((span) => span.name === 'mutation Publish');
      expect(ownOperation?.parentSpanId ?? '').toBe('');
      expect(ownSpans.find((span) => span.name === 'POST')?.spanId).toBe(ownTrace.spanId);
    } finally {
      if (!stopped) await hooklane.stop();
    }
  });

  it('exports protobuf by default, with OTEL_SERVICE_NAME', async () => {
    const hooklane = await startTestHooklane({ OTEL_EXPORTER_OTLP_ENDPOINT: `${otlp.url}/`, OTEL_SERVICE_NAME: 'hooklane-test-service' });
    let stopped = false;
    try {
      const tenant = await setUpTenant(hooklane, receiver);
      receiver.replyWith({ status: 200 });
      const traceId = randomHex(16);
      const event = await publishWithHeaders(hooklane, tenant.token, { traceparent: `00-${traceId}-${randomHex(8)}-01` });
      await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');
      await hooklane.stop();
      stopped = true;
      expect(otlp.exports.length).toBeGreaterThan(0);
      expect(otlp.exports.every((exported) => exported.contentType === 'application/x-protobuf')).toBe(true);
      // Protobuf carries the trace id as its 16 bytes, and the service name as a string.
      const all = Buffer.concat(otlp.exports.map((exported) => exported.body));
      expect(all.includes(Buffer.from(traceId, 'hex'))).toBe(true);
      expect(all.includes(Buffer.from('hooklane-test-service'))).toBe(true);
    } finally {
      if (!stopped) await hooklane.stop();
    }
  });
});
