export type AttemptOutcome =
  | { kind: 'success'; statusCode: number }
  | { kind: 'http_error'; statusCode: number }
  | { kind: 'timeout' }
  | { kind: 'network_error'; message: string }
  // The destination address is not allowed by the network policy.
  | { kind: 'refused'; message: string };

export type RetryDecision =
  | { action: 'succeed' }
  | { action: 'retry'; delayMs: number }
  | { action: 'fail' };

const JITTER = 0.2;

export function decideNextStep(input: {
  /** 1-based number of the attempt just made. */
  attemptNumber: number;
  outcome: AttemptOutcome;
  /** Delays before each retry; its length is the number of retries after the first attempt. */
  scheduleMs: readonly number[];
  random?: () => number;
}): RetryDecision {
  if (input.outcome.kind === 'success') return { action: 'succeed' };
  const base = input.scheduleMs[input.attemptNumber - 1];
  if (input.attemptNumber < 1 || base === undefined) return { action: 'fail' };
  // Jitter spreads retries so a receiver that failed for many deliveries at
  // once is not hit by all of them again at the same instant.
  const random = input.random ?? Math.random;
  const factor = 1 - JITTER + 2 * JITTER * random();
  return { action: 'retry', delayMs: Math.max(0, Math.round(base * factor)) };
}

export function classifyStatus(statusCode: number): AttemptOutcome {
  // Redirects are deliberately not followed (a redirect could point the
  // signed payload at an address the network policy would refuse), so a 3xx
  // is a failure like any other non-2xx.
  if (statusCode >= 200 && statusCode < 300) return { kind: 'success', statusCode };
  return { kind: 'http_error', statusCode };
}
