import { describe, expect, it } from 'vitest';
import { classifyStatus, decideNextStep, type AttemptOutcome } from '../../src/delivery/retry-policy.js';

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
    expect(decideNextStep({ attemptNumber: 3, outcome: { kind: 'network_error', message: 'ECONNRESET' }, scheduleMs: schedule, random: mid })).toEqual({ action: 'retry', delayMs: 60_000 });
    expect(decideNextStep({ attemptNumber: 4, outcome: failure, scheduleMs: schedule, random: mid })).toEqual({ action: 'fail' });
  });

  it('fails right away with an empty schedule', () => {
    expect(decideNextStep({ attemptNumber: 1, outcome: failure, scheduleMs: [] })).toEqual({ action: 'fail' });
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
