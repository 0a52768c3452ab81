import { STATS_INTERVALS, type StatsInterval, type StatsRange } from '../db/scoped/delivery-stats.js';
import { BadUserInputError } from '../errors.js';

/** `since` when omitted: this long before now. */
export const DEFAULT_STATS_WINDOW_MS = 24 * 3_600_000;
/**
 * How far back `since` may go: delivery_stats rows are kept this long (the default `p_keep` of
 * hooklane_sweep_delivery_stats).
 */
export const STATS_RETENTION_DAYS = 400;
/** The most buckets `buckets(interval)` returns; an interval that would give more is refused. */
export const MAX_STATS_BUCKETS = 1_440;
/** Without `interval`, the finest one that gives at most this many buckets (a chart's worth). */
export const DEFAULT_STATS_BUCKETS = 720;

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

/** How many buckets of `seconds` cover the window: from the one holding `since` to the one holding `until`. */
export function bucketCount(window: StatsWindow, seconds: number): number {
  const widthMs = seconds * 1000;
  return Math.floor(window.until.getTime() / widthMs) - Math.floor(window.since.getTime() / widthMs) + 1;
}

/** The bucket width in seconds: `interval` when given (one of STATS_INTERVALS), else chosen by the window's length. */
export function bucketSeconds(interval: string | null | undefined, window: StatsWindow): number {
  const names = Object.keys(STATS_INTERVALS) as StatsInterval[];
  if (interval === null || interval === undefined) {
    const fitting = names.find((name) => bucketCount(window, STATS_INTERVALS[name]) <= DEFAULT_STATS_BUCKETS);
    return STATS_INTERVALS[fitting ?? '1d'];
  }
  if (!(names as string[]).includes(interval)) {
    throw new BadUserInputError(`interval must be one of ${names.join(', ')}`, 'interval');
  }
  const seconds = STATS_INTERVALS[interval as StatsInterval];
  const count = bucketCount(window, seconds);
  if (count > MAX_STATS_BUCKETS) {
    const coarser = names.find((name) => bucketCount(window, STATS_INTERVALS[name]) <= MAX_STATS_BUCKETS);
    throw new BadUserInputError(
      `interval ${interval} gives ${count} buckets over this window, more than ${MAX_STATS_BUCKETS}: use ${coarser ?? '1d'} or a later since`,
      'interval',
    );
  }
  return seconds;
}
