/** What `settleWithin` reports: whether the work finished before the deadline. */
export type Settled = 'done' | 'timed_out';

/**
 * Waits for `work` until `deadline` (epoch ms). A rejection counts as done (it is reported through
 * `onError`); after the deadline the work is left running and 'timed_out' is returned.
 */
export async function settleWithin(work: Promise<unknown>, deadline: number, onError?: (error: unknown) => void): Promise<Settled> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settled>((resolve) => {
    timer = setTimeout(() => resolve('timed_out'), Math.max(0, deadline - Date.now()));
    timer.unref();
  });
  const finished = work.then(
    (): Settled => 'done',
    (error: unknown): Settled => {
      onError?.(error);
      return 'done';
    },
  );
  try {
    return await Promise.race([finished, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
