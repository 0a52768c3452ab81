import { randomBytes } from 'node:crypto';
import type { Context } from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';

/** The W3C Trace Context request header a publish may carry and every delivery attempt sends. */
export const TRACEPARENT_HEADER = 'traceparent';

/**
 * A longer header is not looked at: version 00 is 55 characters, and later versions may only
 * append fields (W3C Trace Context §3.2.4), which this bound leaves ample room for.
 */
const MAX_TRACEPARENT_LENGTH = 512;

/** The trace a delivery attempt continues: its `traceparent` header value and its trace flags. */
export interface StoredTraceContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

/**
 * A caller's `traceparent` header, checked (W3C Trace Context: version not `ff`, lowercase hex
 * ids that are not all zeros) and written back as version 00; anything else is null, never an
 * error: a malformed header is ignored, as the specification asks.
 */
export function acceptedTraceparent(header: string | string[] | undefined): string | null {
  // Sent twice, the header is ambiguous: ignored.
  if (typeof header !== 'string' || header.length > MAX_TRACEPARENT_LENGTH) return null;
  const parsed = parseTraceParent(header);
  return parsed ? formatTraceparent(parsed) : null;
}

/** `00-{trace id}-{span id}-{flags}`: the form stored with an event and sent with an attempt. */
export function formatTraceparent(context: StoredTraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The parts of a stored (version 00, already checked) traceparent. */
export function parseStoredTraceparent(stored: string): StoredTraceContext {
  return { traceId: stored.slice(3, 35), spanId: stored.slice(36, 52), traceFlags: Number.parseInt(stored.slice(53, 55), 16) };
}

const ZERO_SPAN_ID = '0000000000000000';

/**
 * With tracing off: the `traceparent` an attempt sends for an event stored with `stored`: the same
 * trace id and flags, and a fresh span id (the attempt is a span of its own, even unrecorded).
 */
export function attemptTraceparent(stored: string): string {
  let spanId = randomBytes(8).toString('hex');
  while (spanId === ZERO_SPAN_ID) spanId = randomBytes(8).toString('hex');
  return `${stored.slice(0, 36)}${spanId}${stored.slice(52)}`;
}

/** Where a publish's events take their trace from; a GraphQL request's context is one. */
export interface PublishTrace {
  /** The caller's `traceparent`, checked (acceptedTraceparent): stored as it is while tracing is off. */
  readonly traceparent: string | null;
  /** While tracing is on: the GraphQL operation's span, parent of the publish's write span. */
  readonly traceOperation?: Context;
}
