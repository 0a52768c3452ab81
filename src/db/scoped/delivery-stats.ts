import { sql, type SQL } from 'drizzle-orm';
import type { Run } from '../client.js';

/** From `since` (the start of its minute) to `until`. */
export interface StatsRange {
  since: Date;
  until: Date;
}

/** The bucket widths `buckets(interval)` accepts, in seconds. */
export const STATS_INTERVALS = { '1m': 60, '5m': 300, '1h': 3_600, '1d': 86_400 } as const;
export type StatsInterval = keyof typeof STATS_INTERVALS;

/** `pending` and `held` are counted up to this many: a count walks at most this many index entries. */
export const CURRENT_COUNT_CAP = 10_000;

/**
 * Whose stats: some subscriptions of the tenant, each on its own, or the whole tenant (all its
 * subscriptions together, under the key TENANT_SUBJECT).
 */
export type StatsSubjects = { subscriptionIds: readonly string[] } | 'tenant';
export const TENANT_SUBJECT = '';

export interface StatsTotals {
  deliveries: number;
  succeeded: number;
  failed: number;
  attempts: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
}

export interface StatsBucketRow {
  start: Date;
  succeeded: number;
  failed: number;
  latencyP50Ms: number | null;
}

export interface CurrentCounts {
  pending: number;
  held: number;
}

/** The ratio between a latency bin's bounds (hooklane_latency_histogram). */
const LATENCY_BIN_RATIO = 1.2;

/** A time in bin `bin` of hooklane_latency_histogram, within 10% of every time in it: the bin's geometric middle. */
export function latencyOfBin(bin: number): number {
  return Math.round(LATENCY_BIN_RATIO ** (bin + 0.5));
}

/** The start of the minute holding `at`: rows are per minute, so windows start on one. */
export function minuteOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 60_000) * 60_000);
}

// GraphQL's Int is 32-bit: a sum over a long window of a very large tenant is capped there.
const INT_MAX = 2_147_483_647;
const sum = (column: string) => sql.raw(`least(coalesce(sum(p.${column}), 0), ${INT_MAX})::integer`);

/** A text[] literal: the planner sees how many ids it holds (of an array built from JSON it cannot). */
function textArray(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

/** The delivery_stats rows of the subjects in the range, as `picked` (with `subject` and `bucket`). */
function picked(tenantId: string, subjects: StatsSubjects, range: StatsRange, bucket: SQL): SQL {
  const subject = subjects === 'tenant' ? sql`${TENANT_SUBJECT}::text` : sql`s.subscription_id`;
  const which = subjects === 'tenant' ? sql`` : sql`and s.subscription_id = any (${textArray(subjects.subscriptionIds)}::text[])`;
  return sql`picked as (
    select ${subject} as subject, ${bucket} as bucket, s.deliveries, s.succeeded, s.failed, s.attempts, s.latency_histogram,
      s.last_success_at, s.last_failure_at
    from delivery_stats s
    where s.tenant_id = ${tenantId} ${which}
      and s.bucket_start >= ${minuteOf(range.since).toISOString()}::timestamptz and s.bucket_start <= ${range.until.toISOString()}::timestamptz
  )`;
}

/**
 * Percentiles of summed histograms per (subject, bucket), as bin numbers: the first bin at which
 * the running count reaches the share (nearest rank).
 */
const PERCENTILES = sql`bins as (
    select p.subject, p.bucket, h.i, sum(h.n) as n
    from picked p, unnest(p.latency_histogram) with ordinality as h(n, i)
    where h.n > 0
    group by 1, 2, 3
  ), ranked as (
    select b.subject, b.bucket, b.i,
      sum(b.n) over (partition by b.subject, b.bucket order by b.i) as running,
      sum(b.n) over (partition by b.subject, b.bucket) as total
    from bins b
  ), percentiles as (
    select r.subject, r.bucket,
      (min(r.i) filter (where r.running >= 0.5 * r.total) - 1)::integer as p50_bin,
      (min(r.i) filter (where r.running >= 0.95 * r.total) - 1)::integer as p95_bin
    from ranked r
    group by 1, 2
  )`;

/** Totals of each subject over the range (from the rollup alone). */
export function totalsQuery(tenantId: string, subjects: StatsSubjects, range: StatsRange): SQL {
  return sql`with ${picked(tenantId, subjects, range, sql`null::timestamptz`)}, ${PERCENTILES}
    select p.subject, ${sum('deliveries')} as deliveries, ${sum('succeeded')} as succeeded, ${sum('failed')} as failed,
      ${sum('attempts')} as attempts, max(p.last_success_at) as last_success_at, max(p.last_failure_at) as last_failure_at,
      min(q.p50_bin) as p50_bin, min(q.p95_bin) as p95_bin
    from picked p left join percentiles q on q.subject = p.subject
    group by p.subject`;
}

/**
 * Every bucket of `intervalSeconds` from the one holding `since` to the one holding `until`, for each
 * subject, empty ones included (from the rollup alone). Buckets start at multiples of the interval
 * since the Unix epoch (UTC), so `1d` buckets start at midnight UTC.
 */
export function bucketsQuery(tenantId: string, subjects: StatsSubjects, range: StatsRange, intervalSeconds: number): SQL {
  const width = sql`(${intervalSeconds}::integer * interval '1 second')`;
  const subjectList =
    subjects === 'tenant'
      ? sql`select ${TENANT_SUBJECT}::text as subject`
      : sql`select unnest(${textArray(subjects.subscriptionIds)}::text[]) as subject`;
  return sql`with ${picked(tenantId, subjects, range, sql`date_bin(${width}, s.bucket_start, timestamptz 'epoch')`)}, ${PERCENTILES},
  counts as (
    select p.subject, p.bucket, ${sum('succeeded')} as succeeded, ${sum('failed')} as failed from picked p group by 1, 2
  ), series as (
    select x.subject, g.bucket
    from (${subjectList}) as x,
      generate_series(date_bin(${width}, ${minuteOf(range.since).toISOString()}::timestamptz, timestamptz 'epoch'),
        date_bin(${width}, ${range.until.toISOString()}::timestamptz, timestamptz 'epoch'), ${width}) as g(bucket)
  )
  select r.subject, r.bucket as start, coalesce(c.succeeded, 0) as succeeded, coalesce(c.failed, 0) as failed, q.p50_bin
  from series r
    left join counts c on c.subject = r.subject and c.bucket = r.bucket
    left join percentiles q on q.subject = r.subject and q.bucket = r.bucket
  order by r.subject, r.bucket`;
}

/** PENDING and HELD deliveries of each subject now, each counted up to `cap` (hooklane_count_current_deliveries). */
export function currentCountsQuery(tenantId: string, subjects: StatsSubjects, cap: number): SQL {
  const subscriptionIds = subjects === 'tenant' ? null : JSON.stringify(subjects.subscriptionIds);
  return sql`select subject, pending, held from hooklane_count_current_deliveries(${tenantId}, ${subscriptionIds}::json, ${cap}::integer)`;
}

interface TotalsQueryRow {
  subject: string;
  deliveries: number;
  succeeded: number;
  failed: number;
  attempts: number;
  last_success_at: Date | string | null;
  last_failure_at: Date | string | null;
  p50_bin: number | null;
  p95_bin: number | null;
}

interface BucketQueryRow {
  subject: string;
  start: Date | string;
  succeeded: number;
  failed: number;
  p50_bin: number | null;
}

const asDate = (value: Date | string | null): Date | null => (value === null ? null : new Date(value));
const asLatency = (bin: number | null): number | null => (bin === null ? null : latencyOfBin(bin));

const EMPTY_TOTALS: StatsTotals = Object.freeze({
  deliveries: 0,
  succeeded: 0,
  failed: 0,
  attempts: 0,
  latencyP50Ms: null,
  latencyP95Ms: null,
  lastSuccessAt: null,
  lastFailureAt: null,
});

/**
 * Delivery stats of a tenant's subscriptions, or of the whole tenant, read from the delivery_stats
 * rollup that recording attempts keeps (hooklane_record_attempts): the cost of a read grows with
 * the minutes in its window that had attempts, never with the number of deliveries.
 */
export class DeliveryStatsStore {
  constructor(
    private readonly run: Run,
    private readonly tenantId: string,
  ) {}

  /** Totals per subject key (a subscription id, or TENANT_SUBJECT); a subject without rows gets zeros. */
  async totals(subjects: StatsSubjects, range: StatsRange): Promise<Map<string, StatsTotals>> {
    const rows = (await this.run((db) => db.execute(totalsQuery(this.tenantId, subjects, range)))) as unknown as TotalsQueryRow[];
    const totals = new Map<string, StatsTotals>(subjectKeys(subjects).map((key) => [key, EMPTY_TOTALS]));
    for (const row of rows) {
      totals.set(row.subject, {
        deliveries: row.deliveries,
        succeeded: row.succeeded,
        failed: row.failed,
        attempts: row.attempts,
        latencyP50Ms: asLatency(row.p50_bin),
        latencyP95Ms: asLatency(row.p95_bin),
        lastSuccessAt: asDate(row.last_success_at),
        lastFailureAt: asDate(row.last_failure_at),
      });
    }
    return totals;
  }

  /** Buckets per subject key, oldest first, empty ones included. */
  async buckets(subjects: StatsSubjects, range: StatsRange, intervalSeconds: number): Promise<Map<string, StatsBucketRow[]>> {
    const rows = (await this.run((db) => db.execute(bucketsQuery(this.tenantId, subjects, range, intervalSeconds)))) as unknown as BucketQueryRow[];
    const buckets = new Map<string, StatsBucketRow[]>(subjectKeys(subjects).map((key) => [key, []]));
    for (const row of rows) {
      buckets.get(row.subject)?.push({
        start: new Date(row.start),
        succeeded: row.succeeded,
        failed: row.failed,
        latencyP50Ms: asLatency(row.p50_bin),
      });
    }
    return buckets;
  }

  /** PENDING and HELD deliveries now, per subject key, each counted up to `cap`. */
  async currentCounts(subjects: StatsSubjects, cap = CURRENT_COUNT_CAP): Promise<Map<string, CurrentCounts>> {
    const rows = (await this.run((db) => db.execute(currentCountsQuery(this.tenantId, subjects, cap)))) as unknown as ({
      subject: string;
    } & CurrentCounts)[];
    return new Map(rows.map((row) => [row.subject, { pending: row.pending, held: row.held }]));
  }
}

function subjectKeys(subjects: StatsSubjects): string[] {
  return subjects === 'tenant' ? [TENANT_SUBJECT] : [...subjects.subscriptionIds];
}
