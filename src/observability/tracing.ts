import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Context, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler } from '@opentelemetry/sdk-trace-base';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_OPERATION_BATCH_SIZE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  DB_SYSTEM_NAME_VALUE_POSTGRESQL,
} from '@opentelemetry/semantic-conventions';
import type { TracingSettings } from '../config.js';
import type { DeliveryWork } from '../db/scoped/deliveries.js';
import type { SendResult } from '../delivery/http-sender.js';
import { formatTraceparent, parseStoredTraceparent } from './trace-context.js';

/** Reads request headers held in a Map (Apollo's HeaderMap) for the W3C propagator. */
const mapGetter: TextMapGetter<ReadonlyMap<string, string>> = {
  get: (carrier, key) => carrier.get(key),
  keys: (carrier) => [...carrier.keys()],
};

/**
 * Spans of the GraphQL operations, the publishes' database writes and every delivery attempt,
 * exported over OTLP/HTTP by the OpenTelemetry SDK. Exists only when an OTLP endpoint is
 * configured (startHooklane creates it, and shuts it down last, which exports what is left); with
 * none, nothing of this module is even loaded. No global provider or context manager is set:
 * spans get their parents explicitly, so nothing else in the process is traced by accident.
 */
export class Tracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(settings: TracingSettings) {
    const exporter =
      settings.protocol === 'http/json' ? new OtlpJsonExporter({ url: settings.tracesUrl }) : new OtlpProtobufExporter({ url: settings.tracesUrl });
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }),
      // A caller that did not sample its trace is not sampled here either; the rest are.
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    this.tracer = this.provider.getTracer('hooklane');
  }

  /** A GraphQL operation's span, a child of the caller's `traceparent` when it sent a valid one. */
  startOperation(headers: ReadonlyMap<string, string> | undefined): { span: Span; context: Context } {
    const parent = headers ? this.propagator.extract(ROOT_CONTEXT, headers, mapGetter) : ROOT_CONTEXT;
    const span = this.tracer.startSpan('graphql', { kind: SpanKind.SERVER }, parent);
    return { span, context: trace.setSpan(parent, span) };
  }

  /** The span of a publish's database write (events, deliveries and jobs in one statement). */
  startEventWrite(parent: Context | undefined, tenantId: string, eventCount: number): Span {
    return this.tracer.startSpan(
      'INSERT events',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
          [ATTR_DB_OPERATION_NAME]: 'INSERT',
          [ATTR_DB_COLLECTION_NAME]: 'events',
          [ATTR_DB_OPERATION_BATCH_SIZE]: eventCount,
          'hooklane.tenant.id': tenantId,
        },
      },
      parent ?? ROOT_CONTEXT,
    );
  }

  /**
   * A delivery attempt's span: a child of the span stored with its event (the publish's write),
   * so every attempt, whichever process makes it, is in the publish's trace.
   */
  startAttempt(tenantId: string, work: DeliveryWork): Span {
    const parent =
      work.traceContext === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, { ...parseStoredTraceparent(work.traceContext), isRemote: true });
    // Host and port only: the URL's path and query may carry credentials.
    let address: string | undefined;
    let port: number | undefined;
    try {
      const url = new URL(work.url);
      address = url.hostname;
      port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    } catch {
      // A URL the sender refuses: the attempt says why.
    }
    return this.tracer.startSpan(
      'POST',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: 'POST',
          ...(address === undefined ? {} : { [ATTR_SERVER_ADDRESS]: address, [ATTR_SERVER_PORT]: port }),
          'hooklane.tenant.id': tenantId,
          'hooklane.event.id': work.eventId,
          'hooklane.event.type': work.eventType,
          'hooklane.delivery.id': work.id,
          'hooklane.subscription.id': work.subscriptionId,
          'hooklane.attempt.number': work.attemptCount + 1,
        },
      },
      parent,
    );
  }

  /** Ends an attempt's span with its result: an error when it was not a 2xx. */
  endAttempt(span: Span, result: SendResult): void {
    if (result.statusCode !== null) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, result.statusCode);
    span.setAttribute('hooklane.attempt.outcome', result.outcome.kind);
    if (result.outcome.kind !== 'success') {
      span.setAttribute(ATTR_ERROR_TYPE, result.statusCode === null ? result.outcome.kind : String(result.statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  /** Ends a span whose work threw. */
  endFailed(span: Span, error: unknown): void {
    span.setAttribute(ATTR_ERROR_TYPE, error instanceof Error ? error.name : 'Error');
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }

  /** The `traceparent` of `span`: stored with a publish's events, or sent with an attempt. */
  traceparentOf(span: Span): string {
    const context = span.spanContext();
    return formatTraceparent({ traceId: context.traceId, spanId: context.spanId, traceFlags: context.traceFlags ?? TraceFlags.NONE });
  }

  /** Exports the spans still buffered, then stops exporting. */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
