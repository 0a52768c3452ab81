/** What one attempt came to, as the retry policy sees it. */
export type AttemptOutcome =
  | { kind: 'success'; statusCode: number }
  /** Any non-2xx answer; `retryAfterMs` is the receiver's Retry-After on a 429 or 503. */
  | { kind: 'http_error'; statusCode: number; retryAfterMs?: number }
  | { kind: 'timeout' }
  | { kind: 'network_error'; cause: NetworkFailure; message: string }
  /** The destination address is not allowed by the network policy. */
  | { kind: 'refused'; message: string }
  /** The outbound proxy failed (refused, 407, its own 502/504): the endpoint may never have been reached. */
  | { kind: 'proxy_error'; message: string }
  /** The subscription's OAuth2 token endpoint gave no token: nothing was sent to the endpoint. */
  | { kind: 'oauth2_error'; message: string };

export type NetworkFailure = 'dns' | 'connection' | 'tls';

export type RetryDecision =
  | { action: 'succeed' }
  | { action: 'retry'; delayMs: number }
  /** `gone`: the receiver answered 410 and its subscription is to be disabled at once. */
  | { action: 'fail'; reason: 'schedule_spent' | 'gone' };

const JITTER = 0.2;
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * The whole retry policy: pure, so that every rule is unit-tested without a clock or a network.
 * Timeouts, DNS, connection, TLS, proxy and token endpoint errors are retried like a 5xx; a 410
 * stops at once.
 */
export function decideNextStep(input: {
  /** 1-based number of the attempt just made. */
  attemptNumber: number;
  outcome: AttemptOutcome;
  /** Delays before each retry; its length is the number of retries after the first attempt. */
  scheduleMs: readonly number[];
  random?: () => number;
}): RetryDecision {
  const { outcome } = input;
  if (outcome.kind === 'success') return { action: 'succeed' };
  if (outcome.kind === 'http_error' && outcome.statusCode === 410) return { action: 'fail', reason: 'gone' };
  const base = input.scheduleMs[input.attemptNumber - 1];
  if (input.attemptNumber < 1 || base === undefined) return { action: 'fail', reason: 'schedule_spent' };
  // Jitter spreads retries so a receiver that failed for many deliveries at
  // once is not hit by all of them again at the same instant.
  const random = input.random ?? Math.random;
  const backoff = Math.max(0, Math.round(base * (1 - JITTER + 2 * JITTER * random())));
  const retryAfter = outcome.kind === 'http_error' ? outcome.retryAfterMs : undefined;
  if (retryAfter === undefined) return { action: 'retry', delayMs: backoff };
  return { action: 'retry', delayMs: Math.max(backoff, Math.min(retryAfter, MAX_RETRY_AFTER_MS)) };
}

export function classifyStatus(statusCode: number, retryAfterHeader?: string | string[]): AttemptOutcome {
  // Redirects are deliberately not followed (a redirect could point the
  // signed payload at an address the network policy would refuse), so a 3xx
  // is a failure like any other non-2xx.
  if (statusCode >= 200 && statusCode < 300) return { kind: 'success', statusCode };
  if (statusCode === 429 || statusCode === 503) {
    const retryAfterMs = parseRetryAfter(retryAfterHeader);
    if (retryAfterMs !== undefined) return { kind: 'http_error', statusCode, retryAfterMs };
  }
  return { kind: 'http_error', statusCode };
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when unusable. */
export function parseRetryAfter(header: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** The name an attempt record gives its outcome (the `outcome` field of DeliveryAttempt). */
export type AttemptOutcomeLabel =
  | 'SUCCESS'
  | 'HTTP_ERROR'
  | 'RATE_LIMITED'
  | 'GONE'
  | 'TIMEOUT'
  | 'DNS_ERROR'
  | 'CONNECTION_ERROR'
  | 'TLS_ERROR'
  | 'REFUSED'
  | 'PROXY_ERROR'
  | 'OAUTH2_ERROR';

export function outcomeLabel(outcome: AttemptOutcome): AttemptOutcomeLabel {
  switch (outcome.kind) {
    case 'success':
      return 'SUCCESS';
    case 'http_error':
      if (outcome.statusCode === 410) return 'GONE';
      return outcome.retryAfterMs !== undefined ? 'RATE_LIMITED' : 'HTTP_ERROR';
    case 'timeout':
      return 'TIMEOUT';
    case 'network_error':
      return outcome.cause === 'dns' ? 'DNS_ERROR' : outcome.cause === 'tls' ? 'TLS_ERROR' : 'CONNECTION_ERROR';
    case 'refused':
      return 'REFUSED';
    case 'proxy_error':
      return 'PROXY_ERROR';
    case 'oauth2_error':
      return 'OAUTH2_ERROR';
  }
}
