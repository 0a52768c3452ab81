import { STATS_INTERVALS, type StatsInterval, type StatsRange } from '../db/scoped/delivery-stats.js';
import { BadUserInputError } from '../errors.js';

/** `since` when omitted: this long before now. */
export const DEFAULT_STATS_WINDOW_MS = 24 * 3_600_000;
/**
 * How far back `since` may go: delivery_stats rows are kept this long (the default `p_keep` of
 * hooklane_sweep_delivery_stats).
 */
export const STATS_RETENTION_DAYS = 400;
/**
 * The longest window `buckets(interval)` covers, in intervals (1,440 minutes: a day at `1m`); a
 * longer one is refused. It gets one bucket more when it does not start on a bucket's start.
 */
export const MAX_STATS_INTERVALS = 1_440;
/** Without `interval`, the finest one that covers the window in at most this many intervals (a chart's worth). */
export const DEFAULT_STATS_INTERVALS = 720;

/** A stats window: from `since` (counted from the start of its minute) to `until` (when it was asked for). */
export type StatsWindow = StatsRange;

export function statsWindow(since: Date | string | null | undefined, now: Date = new Date()): StatsWindow {
  if (since === null || since === undefined) return { since: new Date(now.getTime() - DEFAULT_STATS_WINDOW_MS), until: now };
  const start = since instanceof Date ? since : new Date(since);
  if (Number.isNaN(start.getTime())) throw new BadUserInputError('since is not a date-time', 'since');
  if (start.getTime() > now.getTime()) throw new BadUserInputError('since must not be in the future', 'since');
  if (now.getTime() - start.getTime() > STATS_RETENTION_DAYS * 86_400_000) {
    throw new BadUserInputError(`since must be within the last ${STATS_RETENTION_DAYS} days: stats are kept that long`, 'since');
  }
  return { since: start, until: now };
}

/** How many intervals of `seconds` the window lasts (its buckets: one more when it starts inside one). */
export function intervalsIn(window: StatsWindow, seconds: number): number {
  return Math.ceil((window.until.getTime() - window.since.getTime()) / (seconds * 1000));
}

/** The bucket width in seconds: `interval` when given (one of STATS_INTERVALS), else chosen by the window's length. */
export function bucketSeconds(interval: string | null | undefined, window: StatsWindow): number {
  const names = Object.keys(STATS_INTERVALS) as StatsInterval[];
  if (interval === null || interval === undefined) {
    const fitting = names.find((name) => intervalsIn(window, STATS_INTERVALS[name]) <= DEFAULT_STATS_INTERVALS);
    return STATS_INTERVALS[fitting ?? '1d'];
  }
  if (!(names as string[]).includes(interval)) {
    throw new BadUserInputError(`interval must be one of ${names.join(', ')}`, 'interval');
  }
  const seconds = STATS_INTERVALS[interval as StatsInterval];
  const count = intervalsIn(window, seconds);
  if (count > MAX_STATS_INTERVALS) {
    const coarser = names.find((name) => intervalsIn(window, STATS_INTERVALS[name]) <= MAX_STATS_INTERVALS);
    throw new BadUserInputError(
      `interval ${interval} divides this window into ${count} intervals, more than ${MAX_STATS_INTERVALS}: use ${coarser ?? '1d'} or a later since`,
      'interval',
    );
  }
  return seconds;
}
