import { describe, expect, it } from 'vitest';
import {
  classifyStatus,
  decideNextStep,
  MAX_RETRY_AFTER_MS,
  outcomeLabel,
  parseRetryAfter,
  type AttemptOutcome,
} from '../../src/delivery/retry-policy.js';

const schedule = [1_000, 10_000, 60_000] as const;
const failure: AttemptOutcome = { kind: 'http_error', statusCode: 500 };

describe('decideNextStep', () => {
  it('succeeds on success regardless of attempt number', () => {
    expect(decideNextStep({ attemptNumber: 1, outcome: { kind: 'success', statusCode: 204 }, scheduleMs: schedule })).toEqual({ action: 'succeed' });
    expect(decideNextStep({ attemptNumber: 99, outcome: { kind: 'success', statusCode: 200 }, scheduleMs: schedule })).toEqual({ action: 'succeed' });
  });

  it('walks the schedule then fails once it is spent', () => {
    const mid = (): number => 0.5;
    expect(decideNextStep({ attemptNumber: 1, outcome: failure, scheduleMs: schedule, random: mid })).toEqual({ action: 'retry', delayMs: 1_000 });
    expect(decideNextStep({ attemptNumber: 2, outcome: { kind: 'timeout' }, scheduleMs: schedule, random: mid })).toEqual({ action: 'retry', delayMs: 10_000 });
    expect(decideNextStep({ attemptNumber: 3, outcome: { kind: 'network_error', cause: 'connection', message: 'ECONNRESET' }, scheduleMs: schedule, random: mid })).toEqual({ action: 'retry', delayMs: 60_000 });
    expect(decideNextStep({ attemptNumber: 4, outcome: failure, scheduleMs: schedule, random: mid })).toEqual({ action: 'fail', reason: 'schedule_spent' });
  });

  it('fails right away with an empty schedule', () => {
    expect(decideNextStep({ attemptNumber: 1, outcome: failure, scheduleMs: [] })).toEqual({ action: 'fail', reason: 'schedule_spent' });
  });

  it('retries refused attempts like other failures', () => {
    expect(decideNextStep({ attemptNumber: 1, outcome: { kind: 'refused', message: 'x' }, scheduleMs: schedule, random: () => 0.5 })).toEqual({ action: 'retry', delayMs: 1_000 });
  });

  it('keeps jitter within ±20%', () => {
    expect(decideNextStep({ attemptNumber: 2, outcome: failure, scheduleMs: schedule, random: () => 0 })).toEqual({ action: 'retry', delayMs: 8_000 });
    expect(decideNextStep({ attemptNumber: 2, outcome: failure, scheduleMs: schedule, random: () => 1 })).toEqual({ action: 'retry', delayMs: 12_000 });
    for (let i = 0; i < 200; i++) {
      const decision = decideNextStep({ attemptNumber: 1, outcome: failure, scheduleMs: [333] });
      if (decision.action !== 'retry') throw new Error('expected a retry');
      expect(decision.delayMs).toBeGreaterThanOrEqual(266);
      expect(decision.delayMs).toBeLessThanOrEqual(400);
      expect(Number.isInteger(decision.delayMs)).toBe(true);
    }
  });

  it('never yields a negative delay', () => {
    expect(decideNextStep({ attemptNumber: 1, outcome: failure, scheduleMs: [0], random: () => 0 })).toEqual({ action: 'retry', delayMs: 0 });
  });
});

describe('classifyStatus', () => {
  it('treats only 2xx as success', () => {
    expect(classifyStatus(200)).toEqual({ kind: 'success', statusCode: 200 });
    expect(classifyStatus(204)).toEqual({ kind: 'success', statusCode: 204 });
    expect(classifyStatus(299)).toEqual({ kind: 'success', statusCode: 299 });
    expect(classifyStatus(199)).toEqual({ kind: 'http_error', statusCode: 199 });
    expect(classifyStatus(404)).toEqual({ kind: 'http_error', statusCode: 404 });
    expect(classifyStatus(503)).toEqual({ kind: 'http_error', statusCode: 503 });
  });

  it('counts a 3xx as a failure that is retried', () => {
    const outcome = classifyStatus(302);
    expect(outcome).toEqual({ kind: 'http_error', statusCode: 302 });
    expect(classifyStatus(301).kind).toBe('http_error');
    expect(classifyStatus(307).kind).toBe('http_error');
    expect(decideNextStep({ attemptNumber: 1, outcome, scheduleMs: schedule, random: () => 0.5 })).toEqual({ action: 'retry', delayMs: 1_000 });
  });
});

describe('Retry-After and 410', () => {
  const mid = (): number => 0.5;

  it('honours Retry-After on 429 and 503 as max(backoff, Retry-After)', () => {
    const rateLimited = classifyStatus(429, '30');
    expect(rateLimited).toEqual({ kind: 'http_error', statusCode: 429, retryAfterMs: 30_000 });
    expect(decideNextStep({ attemptNumber: 1, outcome: rateLimited, scheduleMs: schedule, random: mid })).toEqual({ action: 'retry', delayMs: 30_000 });
    // A Retry-After shorter than the backoff does not shorten it.
    expect(decideNextStep({ attemptNumber: 2, outcome: classifyStatus(503, '1'), scheduleMs: schedule, random: mid })).toEqual({ action: 'retry', delayMs: 10_000 });
  });

  it('caps Retry-After at one day', () => {
    const outcome = classifyStatus(503, String(7 * 24 * 3600));
    expect(decideNextStep({ attemptNumber: 1, outcome, scheduleMs: schedule, random: mid })).toEqual({ action: 'retry', delayMs: MAX_RETRY_AFTER_MS });
  });

  it('reads Retry-After as seconds or as an HTTP date, and ignores garbage', () => {
    const now = Date.parse('2026-11-26T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 26 Nov 2026 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Thu, 26 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(classifyStatus(500, '30')).toEqual({ kind: 'http_error', statusCode: 500 });
  });

  it('stops at once on 410 Gone, even with retries left', () => {
    expect(decideNextStep({ attemptNumber: 1, outcome: classifyStatus(410), scheduleMs: schedule })).toEqual({ action: 'fail', reason: 'gone' });
  });

  it('labels each outcome for the attempt record', () => {
    expect(outcomeLabel(classifyStatus(200))).toBe('SUCCESS');
    expect(outcomeLabel(classifyStatus(500))).toBe('HTTP_ERROR');
    expect(outcomeLabel(classifyStatus(429, '5'))).toBe('RATE_LIMITED');
    expect(outcomeLabel(classifyStatus(410))).toBe('GONE');
    expect(outcomeLabel({ kind: 'timeout' })).toBe('TIMEOUT');
    expect(outcomeLabel({ kind: 'network_error', cause: 'dns', message: 'ENOTFOUND' })).toBe('DNS_ERROR');
    expect(outcomeLabel({ kind: 'network_error', cause: 'tls', message: 'cert' })).toBe('TLS_ERROR');
    expect(outcomeLabel({ kind: 'network_error', cause: 'connection', message: 'ECONNRESET' })).toBe('CONNECTION_ERROR');
    expect(outcomeLabel({ kind: 'refused', message: 'x' })).toBe('REFUSED');
  });
});
