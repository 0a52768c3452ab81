/**
 * Time for the benchmark: one monotonic clock (process.hrtime, shared by every thread of the
 * process, so the receiver thread's arrival times compare with the main thread's send times),
 * sleeps, and waits that always end with a clear error instead of hanging.
 */

/** Milliseconds on the monotonic clock (fractional, nanosecond source). */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class BenchTimeoutError extends Error {
  override readonly name = 'BenchTimeoutError';
}

/**
 * Polls `check` until it returns a value other than undefined/false. `describe` says what was
 * awaited and how far it got, for the timeout message.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs: number; intervalMs?: number; progress?: () => Promise<string> | string },
): Promise<T> {
  const deadline = nowMs() + options.timeoutMs;
  const interval = options.intervalMs ?? 50;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (nowMs() > deadline) {
      const progress = options.progress ? ` (${await options.progress()})` : '';
      throw new BenchTimeoutError(`timed out after ${Math.round(options.timeoutMs / 1000)}s waiting for ${what}${progress}`);
    }
    await sleep(interval);
  }
}

/** Rejects if `promise` has not settled within `timeoutMs`. */
export async function withTimeout<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new BenchTimeoutError(`timed out after ${Math.round(timeoutMs / 1000)}s: ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Nearest-rank percentile of an unsorted list; undefined for an empty one. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function round(value: number | undefined, digits = 1): number | undefined {
  if (value === undefined || !Number.isFinite(value)) return undefined;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
