import { describe, expect, it } from 'vitest';
import { acceptedTraceparent, attemptTraceparent, formatTraceparent, parseStoredTraceparent } from '../../src/observability/trace-context.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe('acceptedTraceparent', () => {
  it('accepts a W3C traceparent as it is', () => {
    expect(acceptedTraceparent(VALID)).toBe(VALID);
    expect(acceptedTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`)).toBe(`00-${TRACE_ID}-${SPAN_ID}-00`);
  });

  it('reads a later version as version 00, its extra fields dropped', () => {
    expect(acceptedTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01-what-comes-next`)).toBe(VALID);
  });

  it('ignores anything malformed or hostile', () => {
    const refused: (string | string[] | undefined)[] = [
      undefined,
      '',
      'garbage',
      VALID.toUpperCase(),
      `ff-${TRACE_ID}-${SPAN_ID}-01`,
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      `00-${TRACE_ID}-${SPAN_ID}-01-extra`,
      `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`,
      `01-${TRACE_ID}-${SPAN_ID}-01-${'x'.repeat(600)}`,
      [VALID, VALID],
    ];
    for (const header of refused) expect(acceptedTraceparent(header)).toBeNull();
  });
});

describe('attemptTraceparent', () => {
  it('keeps the trace id and flags, with a fresh span id each time', () => {
    const first = attemptTraceparent(VALID);
    const second = attemptTraceparent(VALID);
    for (const sent of [first, second]) {
      const parsed = parseStoredTraceparent(sent);
      expect(parsed.traceId).toBe(TRACE_ID);
      expect(parsed.traceFlags).toBe(1);
      expect(parsed.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(parsed.spanId).not.toBe(SPAN_ID);
      expect(acceptedTraceparent(sent)).toBe(sent);
    }
    expect(first).not.toBe(second);
  });

  it('formats what it parses', () => {
    expect(formatTraceparent(parseStoredTraceparent(VALID))).toBe(VALID);
  });
});
