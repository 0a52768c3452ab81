/**
 * The delivery_stats rollup: written by the statement that records attempts
 * (hooklane_record_attempts), read by `stats` (src/db/scoped/delivery-stats.ts) without touching
 * deliveries, kept small by hooklane_sweep_delivery_stats. The reads are checked on a database
 * holding 200,000 deliveries: their plans scan delivery_stats by index alone, and the current
 * counts (`pending`, `held`) stop at their cap.
 */
import { sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseClient } from '../../src/db/client.js';
import { APP_ROLE, readFunctionFiles } from '../../src/db/migrate.js';
import {
  bucketsQuery,
  currentCountsQuery,
  latencyOfBin,
  totalsQuery,
  type StatsSubjects,
} from '../../src/db/scoped/delivery-stats.js';
import type { AttemptRecord } from '../../src/db/scoped/deliveries.js';
import { TenantScope } from '../../src/db/tenant-scope.js';
import { createMigratedDatabase } from '../support/database.js';

let url: string;
let owner: Sql;
let app: DatabaseClient;

beforeAll(async () => {
  url = await createMigratedDatabase();
  owner = postgres(url, { max: 2, onnotice: () => {} });
  app = connectDatabase(url, { max: 2, role: APP_ROLE });
});

afterAll(async () => {
  await app?.close();
  await owner?.end({ timeout: 5 });
});

let seeded = 0;

/** A tenant with subscriptions and one event, written as the owner. */
async function seedTenant(subscriptions: number): Promise<{ tenantId: string; subscriptionIds: string[]; eventId: string }> {
  const n = ++seeded;
  const tenantId = `ten_stats${n}`;
  const subscriptionIds = Array.from({ length: subscriptions }, (_, i) => `sub_stats${n}_${i}`);
  const eventId = `evt_stats${n}`;
  await owner`insert into tenants (id, name) values (${tenantId}, ${`Stats ${n}`})`;
  for (const id of subscriptionIds) {
    await owner`insert into subscriptions (id, tenant_id, url, event_types, secrets) values (${id}, ${tenantId}, 'https://example.com', '{a.b}', '{s}')`;
  }
  await owner`insert into events (id, tenant_id, event_type, body) values (${eventId}, ${tenantId}, 'a.b', '{}')`;
  return { tenantId, subscriptionIds, eventId };
}

async function seedDeliveries(tenantId: string, eventId: string, subscriptionId: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `dlv_${subscriptionId}_${i}`);
  await owner`insert into deliveries (id, tenant_id, event_id, subscription_id) select unnest(${ids}::text[]), ${tenantId}, ${eventId}, ${subscriptionId}`;
  return ids;
}

/** A rollup row as recording would leave it, `minutesAgo` minutes before the current minute. */
async function seedRow(
  tenantId: string,
  subscriptionId: string,
  minutesAgo: number,
  row: { deliveries?: number; succeeded?: number; failed?: number; attempts?: number; durations?: number[] },
): Promise<void> {
  await owner`
    insert into delivery_stats (tenant_id, subscription_id, bucket_start, deliveries, succeeded, failed, attempts, latency_histogram,
      last_success_at, last_failure_at)
    select ${tenantId}, ${subscriptionId}, b.start, ${row.deliveries ?? 0}, ${row.succeeded ?? 0}, ${row.failed ?? 0}, ${row.attempts ?? 0},
      hooklane_latency_histogram(${row.durations ?? []}::integer[]),
      case when ${row.succeeded ?? 0} > 0 then b.start end, case when ${row.failed ?? 0} > 0 then b.start end
    from (select date_bin('1 minute', now(), timestamptz 'epoch') - ${minutesAgo} * interval '1 minute' as start) b`;
}

const ok = (durationMs: number): AttemptRecord => ({ statusCode: 200, outcome: 'SUCCESS', error: null, durationMs, responseBody: 'ok' });
const serverError = (durationMs: number): AttemptRecord => ({ statusCode: 500, outcome: 'HTTP_ERROR', error: 'HTTP 500', durationMs, responseBody: null });
const timedOut = (durationMs: number): AttemptRecord => ({ statusCode: null, outcome: 'TIMEOUT', error: 'timeout', durationMs, responseBody: null });

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);
const now = () => new Date();

describe('recording attempts', () => {
  it('adds each batch to its subscriptions\' row of the minute, in the statement that records it', async () => {
    const { tenantId, subscriptionIds, eventId } = await seedTenant(2);
    const [first, second] = subscriptionIds as [string, string];
    const [d1, d2, d3] = (await seedDeliveries(tenantId, eventId, first, 3)) as [string, string, string];
    const [d4] = (await seedDeliveries(tenantId, eventId, second, 1)) as [string];
    const scope = new TenantScope(app.db, tenantId);

    await scope.deliveries.recordSuccesses([
      { deliveryId: d1, attempt: ok(20) },
      { deliveryId: d2, attempt: ok(200) },
      { deliveryId: d4, attempt: ok(5) },
    ]);
    // d3: a 500 to be retried, then a timeout that spends the schedule.
    await scope.transaction((tx) => tx.deliveries.recordAttempt(d3, serverError(40), { status: 'PENDING', nextAttemptAt: minutesAgo(-5) }));
    await scope.transaction((tx) => tx.deliveries.recordAttempt(d3, timedOut(1000), { status: 'FAILED', nextAttemptAt: null }));

    const rows = await owner<{ subscription_id: string; deliveries: number; succeeded: number; failed: number; attempts: number; histogram: number[]; successes: number; failures: number }[]>`
      select subscription_id, sum(deliveries)::int as deliveries, sum(succeeded)::int as succeeded, sum(failed)::int as failed,
        sum(attempts)::int as attempts, count(last_success_at)::int as successes, count(last_failure_at)::int as failures,
        (select array_agg(n order by i) from (
          select h.i, sum(h.n)::int as n from delivery_stats x, unnest(x.latency_histogram) with ordinality h(n, i)
          where x.tenant_id = s.tenant_id and x.subscription_id = s.subscription_id group by h.i) b) as histogram
      from delivery_stats s where tenant_id = ${tenantId} group by tenant_id, subscription_id order by subscription_id`;
    expect(rows.map(({ histogram: _histogram, successes: _s, failures: _f, ...row }) => row)).toEqual([
      { subscription_id: first, deliveries: 3, succeeded: 2, failed: 1, attempts: 4 },
      { subscription_id: second, deliveries: 1, succeeded: 1, failed: 0, attempts: 1 },
    ]);
    // Answered attempts only: 20, 200 and 40 ms for the first subscription; the timeout has no answer.
    const [firstRow, secondRow] = [rows[0]!, rows[1]!];
    expect(firstRow.histogram.reduce((a, b) => a + b, 0)).toBe(3);
    expect(secondRow.histogram.reduce((a, b) => a + b, 0)).toBe(1);
    expect(firstRow.successes).toBeGreaterThan(0);
    expect(firstRow.failures).toBeGreaterThan(0);
    expect(secondRow.failures).toBe(0);

    // The deliveries and attempts themselves, as before.
    const deliveries = await owner<{ id: string; status: string; attempt_count: number; claimed_until: Date | null }[]>`
      select id, status, attempt_count, claimed_until from deliveries where tenant_id = ${tenantId} order by id`;
    expect(Object.fromEntries(deliveries.map((d) => [d.id, [d.status, d.attempt_count]]))).toEqual({
      [d1]: ['SUCCEEDED', 1],
      [d2]: ['SUCCEEDED', 1],
      [d3]: ['FAILED', 2],
      [d4]: ['SUCCEEDED', 1],
    });
    const [attempts] = await owner<{ count: number }[]>`select count(*)::int as count from delivery_attempts where tenant_id = ${tenantId}`;
    expect(attempts!.count).toBe(5);
  });

  it('bins response times so that a bin\'s middle is within 10% (or 1 ms) of every time in it', async () => {
    const durations = [0, 1, 2, 3, 7, 10, 15, 99, 100, 101, 250, 999, 1000, 4321, 15_000, 60_000];
    const [row] = await owner<{ bins: number[] }[]>`
      select array(select array_position(hooklane_latency_histogram(array[d]), 1) - 1 from unnest(${durations}::integer[]) d) as bins`;
    row!.bins.forEach((bin, i) => {
      const duration = Math.max(durations[i]!, 1);
      expect(Math.abs(latencyOfBin(bin) - duration), `${duration} ms in bin ${bin}`).toBeLessThanOrEqual(Math.max(1, duration * 0.1));
    });
    const [sum] = await owner<{ added: number[] }[]>`select hooklane_add_histograms('{1,0,2}', '{0,3,0,0,5}') as added`;
    expect(sum!.added).toEqual([1, 3, 2, 0, 5]);
  });
});

describe('reading stats', () => {
  let tenantId: string;
  let subscriptionIds: string[];
  let other: string;

  beforeAll(async () => {
    ({ tenantId, subscriptionIds } = await seedTenant(3));
    const [a, b] = subscriptionIds as [string, string];
    await seedRow(tenantId, a, 10, { deliveries: 5, succeeded: 4, failed: 1, attempts: 7, durations: [10, 20, 30, 40, 50, 60, 70] });
    await seedRow(tenantId, a, 70, { deliveries: 2, succeeded: 2, attempts: 2, durations: [100, 110] });
    await seedRow(tenantId, a, 3 * 60, { deliveries: 1, succeeded: 0, failed: 1, attempts: 3, durations: [500, 500] });
    await seedRow(tenantId, a, 2 * 24 * 60, { deliveries: 9, succeeded: 9, attempts: 9 });
    await seedRow(tenantId, b, 0, { deliveries: 3, succeeded: 3, attempts: 3, durations: [5, 5, 5] });
    // Another tenant's rows, at the same minutes, and for a subscription id of the first.
    other = (await seedTenant(1)).tenantId;
    await seedRow(other, a, 10, { deliveries: 1000, succeeded: 1000, attempts: 1000 });
    await seedRow(other, subscriptionIds[0]!, 0, { deliveries: 77, succeeded: 77, attempts: 77 });
  });

  const scope = () => new TenantScope(app.db, tenantId);

  it('totals a subscription\'s rows from the minute holding `since`, and nothing before', async () => {
    const [a, b, quiet] = subscriptionIds as [string, string, string];
    const totals = await scope().stats.totals({ subscriptionIds: [a, b, quiet] }, { since: minutesAgo(2 * 60), until: now() });
    expect(totals.get(a)).toMatchObject({ deliveries: 7, succeeded: 6, failed: 1, attempts: 9 });
    expect(totals.get(b)).toMatchObject({ deliveries: 3, succeeded: 3, failed: 0, attempts: 3, latencyP50Ms: latencyOfBin(8), latencyP95Ms: latencyOfBin(8) });
    expect(totals.get(quiet)).toEqual({
      deliveries: 0,
      succeeded: 0,
      failed: 0,
      attempts: 0,
      latencyP50Ms: null,
      latencyP95Ms: null,
      lastSuccessAt: null,
      lastFailureAt: null,
    });
    const wider = await scope().stats.totals({ subscriptionIds: [a] }, { since: minutesAgo(3 * 24 * 60), until: now() });
    expect(wider.get(a)).toMatchObject({ deliveries: 17, succeeded: 15, failed: 2, attempts: 21 });
    const recent = await scope().stats.totals({ subscriptionIds: [a] }, { since: minutesAgo(5), until: now() });
    expect(recent.get(a)).toMatchObject({ deliveries: 0, attempts: 0, lastSuccessAt: null });
  });

  it('totals the whole tenant, and never another tenant\'s rows', async () => {
    const totals = await scope().stats.totals('tenant', { since: minutesAgo(2 * 60), until: now() });
    expect(totals.get('')).toMatchObject({ deliveries: 10, succeeded: 9, failed: 1, attempts: 12 });
    const ofOther = await new TenantScope(app.db, other).stats.totals('tenant', { since: minutesAgo(2 * 60), until: now() });
    expect(ofOther.get('')).toMatchObject({ deliveries: 1077 });
  });

  it('reads percentiles from the summed histograms, within 10% of the exact ones', async () => {
    const { tenantId: own, subscriptionIds: [id] } = await seedTenant(1);
    const durations = Array.from({ length: 1000 }, (_, i) => i + 1);
    await seedRow(own, id!, 1, { attempts: 500, durations: durations.slice(0, 500) });
    await seedRow(own, id!, 2, { attempts: 500, durations: durations.slice(500) });
    const totals = (await new TenantScope(app.db, own).stats.totals({ subscriptionIds: [id!] }, { since: minutesAgo(10), until: now() })).get(id!)!;
    expect(Math.abs(totals.latencyP50Ms! - 500)).toBeLessThanOrEqual(51);
    expect(Math.abs(totals.latencyP95Ms! - 950)).toBeLessThanOrEqual(96);
  });

  it('gives every bucket from `since` to now, empty ones included, adding up to the totals', async () => {
    const [a] = subscriptionIds as [string];
    const range = { since: minutesAgo(4 * 60), until: now() };
    const buckets = (await scope().stats.buckets({ subscriptionIds: [a] }, range, 3600)).get(a)!;
    expect(buckets.length).toBeGreaterThanOrEqual(5);
    expect(buckets.length).toBeLessThanOrEqual(6);
    for (const [i, bucket] of buckets.entries()) {
      expect(bucket.start.getTime() % 3_600_000).toBe(0);
      if (i > 0) expect(bucket.start.getTime() - buckets[i - 1]!.start.getTime()).toBe(3_600_000);
    }
    expect(buckets[0]!.start.getTime()).toBeLessThanOrEqual(range.since.getTime());
    expect(buckets.at(-1)!.start.getTime()).toBeGreaterThan(range.until.getTime() - 3_600_000);
    const totals = (await scope().stats.totals({ subscriptionIds: [a] }, range)).get(a)!;
    expect(buckets.reduce((n, b) => n + b.succeeded, 0)).toBe(totals.succeeded);
    expect(buckets.reduce((n, b) => n + b.failed, 0)).toBe(totals.failed);
    expect(buckets.filter((b) => b.succeeded + b.failed > 0).length).toBeGreaterThanOrEqual(2);
    expect(buckets.filter((b) => b.latencyP50Ms === null).length).toBeGreaterThan(0);

    const tenantBuckets = (await scope().stats.buckets('tenant', range, 60)).get('')!;
    expect(tenantBuckets.length).toBeGreaterThanOrEqual(241);
    const tenantTotals = (await scope().stats.totals('tenant', range)).get('')!;
    expect(tenantBuckets.reduce((n, b) => n + b.succeeded, 0)).toBe(tenantTotals.succeeded);
  });

  it('counts PENDING and HELD deliveries now, up to the cap', async () => {
    const { tenantId: own, subscriptionIds: [busy, paused], eventId } = await seedTenant(2);
    await seedDeliveries(own, eventId, busy!, 30);
    const held = await seedDeliveries(own, eventId, paused!, 12);
    await owner`update deliveries set status = 'HELD' where id = any(${held})`;
    const counts = await new TenantScope(app.db, own).stats.currentCounts({ subscriptionIds: [busy!, paused!] }, 20);
    expect(counts.get(busy!)).toEqual({ pending: 20, held: 0 });
    expect(counts.get(paused!)).toEqual({ pending: 0, held: 12 });
    const tenant = await new TenantScope(app.db, own).stats.currentCounts('tenant', 20);
    expect(tenant.get('')).toEqual({ pending: 20, held: 12 });
    const uncapped = await new TenantScope(app.db, own).stats.currentCounts('tenant');
    expect(uncapped.get('')).toEqual({ pending: 30, held: 12 });
  });
});

describe('the sweep', () => {
  it('folds rows older than a week into their hour and deletes rows past retention, totals unchanged', async () => {
    const { tenantId, subscriptionIds: [id] } = await seedTenant(1);
    // 8 days ago, on the hour and a few minutes after it; and 401 days ago.
    const [anchor] = await owner<{ minutes: number }[]>`
      select (extract(epoch from date_bin('1 minute', now(), timestamptz 'epoch') - date_bin('1 hour', now() - interval '8 days', timestamptz 'epoch')) / 60)::int as minutes`;
    const hourAgo = anchor!.minutes;
    await seedRow(tenantId, id!, hourAgo, { deliveries: 1, succeeded: 1, attempts: 1, durations: [10] });
    await seedRow(tenantId, id!, hourAgo - 5, { deliveries: 2, succeeded: 1, failed: 1, attempts: 4, durations: [10, 300, 300] });
    await seedRow(tenantId, id!, hourAgo - 59, { deliveries: 3, succeeded: 3, attempts: 3, durations: [2000, 2000, 2000] });
    await seedRow(tenantId, id!, 401 * 24 * 60, { deliveries: 100, succeeded: 100, attempts: 100 });
    const scope = new TenantScope(app.db, tenantId);
    const range = { since: minutesAgo(9 * 24 * 60), until: now() };
    const before = (await scope.stats.totals({ subscriptionIds: [id!] }, range)).get(id!);

    const sweep = async () => {
      const [row] = (await app.db.execute(sql`select hooklane_sweep_delivery_stats(${tenantId}) as swept`)) as unknown as { swept: number }[];
      return row!.swept;
    };
    const swept = await sweep();
    expect(swept).toBe(3); // two minutes folded, one row deleted
    const rows = await owner<{ minute: number; deliveries: number; histogram: number[] }[]>`
      select extract(minute from bucket_start)::int as minute, deliveries, latency_histogram as histogram
      from delivery_stats where tenant_id = ${tenantId} order by bucket_start`;
    expect(rows.map((row) => [row.minute, row.deliveries])).toEqual([[0, 6]]);
    expect(rows[0]!.histogram.reduce((a, b) => a + b, 0)).toBe(7);
    expect((await scope.stats.totals({ subscriptionIds: [id!] }, range)).get(id!)).toEqual(before);
    expect(await sweep()).toBe(0);
  });
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

function scans(node: PlanNode): PlanNode[] {
  const own = node['Relation Name'] ? [node] : [];
  return [...own, ...(node.Plans ?? []).flatMap(scans)];
}

describe('at 200,000 deliveries', () => {
  const dialect = new PgDialect();
  let tenantId: string;
  let busy: string;
  let subscriptionIds: string[];

  beforeAll(async () => {
    ({ tenantId, subscriptionIds } = await seedTenant(4));
    busy = subscriptionIds[0]!;
    // 2,000 events with 100 deliveries each, all to one subscription: 180,000 SUCCEEDED with an
    // attempt each, 15,000 PENDING and 5,000 HELD; and 8 days of rollup rows, every minute.
    await owner`insert into events (id, tenant_id, event_type, body) select 'evt_big' || i, ${tenantId}, 'a.b', '{}' from generate_series(1, 2000) i`;
    await owner`
      insert into deliveries (id, tenant_id, event_id, subscription_id, status, attempt_count)
      select 'dlv_big' || lpad(i::text, 6, '0'), ${tenantId}, 'evt_big' || (1 + i % 2000), ${busy},
        (case when i <= 180000 then 'SUCCEEDED' when i <= 195000 then 'PENDING' else 'HELD' end)::delivery_status,
        case when i <= 180000 then 1 else 0 end
      from generate_series(1, 200000) i`;
    await owner`
      insert into delivery_attempts (id, tenant_id, delivery_id, status_code, outcome, duration_ms)
      select 'att_big' || lpad(i::text, 6, '0'), ${tenantId}, 'dlv_big' || lpad(i::text, 6, '0'), 200, 'SUCCESS', 10 + i % 300
      from generate_series(1, 180000) i`;
    await owner`
      insert into delivery_stats (tenant_id, subscription_id, bucket_start, deliveries, succeeded, attempts, latency_histogram, last_success_at)
      select ${tenantId}, s.id, date_bin('1 minute', now(), timestamptz 'epoch') - m * interval '1 minute', 15, 15, 15,
        hooklane_latency_histogram(array[10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150]), now() - m * interval '1 minute'
      from unnest(${subscriptionIds}::text[]) s(id), generate_series(0, 8 * 1440) m`;
    await owner`analyze deliveries`;
    await owner`analyze delivery_attempts`;
    await owner`analyze delivery_stats`;
  }, 120_000);

  /** The plan of `query` as the application runs it: its role, its tenant declared, real settings. */
  async function plan(query: SQL, analyze = false): Promise<PlanNode> {
    const { sql: text, params } = dialect.sqlToQuery(query);
    const [row] = (await app.sql.begin(async (tx) => {
      await tx`select set_config('hooklane.tenant_id', ${tenantId}, true)`;
      return tx.unsafe(`explain (format json${analyze ? ', analyze' : ''}) ${text}`, params as never[]);
    })) as unknown as { 'QUERY PLAN': [{ Plan: PlanNode }] }[];
    return row!['QUERY PLAN'][0].Plan;
  }

  const subjectsOf: Record<string, () => StatsSubjects> = {
    'one subscription': () => ({ subscriptionIds: [busy] }),
    'a list of subscriptions': () => ({ subscriptionIds }),
    'the tenant': () => 'tenant',
  };

  it.each(Object.keys(subjectsOf))('reads the totals and buckets of %s from delivery_stats alone, by index', async (name) => {
    const subjects = subjectsOf[name]!();
    const range = { since: minutesAgo(24 * 60), until: now() };
    for (const query of [totalsQuery(tenantId, subjects, range), bucketsQuery(tenantId, subjects, range, 300)]) {
      const tables = scans(await plan(query, true));
      expect(tables.map((scan) => scan['Relation Name'])).toEqual(tables.map(() => 'delivery_stats'));
      for (const scan of tables) {
        expect(scan['Node Type']).toMatch(/^(Index Scan|Index Only Scan|Bitmap Heap Scan)$/);
        expect(scan['Rows Removed by Filter'] ?? 0, JSON.stringify(scan)).toBe(0);
        // A day of minute rows per subscription: what the window holds, not what deliveries hold.
        expect(scan['Actual Rows']! * scan['Actual Loops']!).toBeLessThanOrEqual(1441 * subscriptionIds.length);
      }
    }
  });

  it('reads the 8 days of rows of a week\'s window, 10,080 minutes, and no delivery', async () => {
    const range = { since: minutesAgo(7 * 24 * 60), until: now() };
    const tables = scans(await plan(totalsQuery(tenantId, { subscriptionIds: [busy] }, range), true));
    expect(tables.map((scan) => [scan['Relation Name'], scan['Actual Rows']! <= 7 * 1440 + 1])).toEqual(tables.map(() => ['delivery_stats', true]));
  });

  it.each(['one subscription', 'the tenant'])('counts the PENDING and HELD deliveries of %s by index, never more than the cap', async (name) => {
    const subjects = subjectsOf[name]!();
    const cap = 1000;
    // The function's body as it runs: planned with its parameters, as the owner (SECURITY DEFINER).
    const file = readFunctionFiles().find((f) => f.name === 'hooklane_count_current_deliveries')!;
    let body = /\bAS\s+(\$\w*\$)([\s\S]*?)\1/.exec(file.sql)![2]!;
    ['p_tenant', 'p_subscription_ids', 'p_cap'].forEach((name, i) => (body = body.replaceAll(new RegExp(`\\b${name}\\b`, 'g'), `$${i + 1}`)));
    const subscriptionIds = subjects === 'tenant' ? null : JSON.stringify(subjects.subscriptionIds);
    const [row] = (await owner.begin(async (tx) => {
      await tx`select set_config('hooklane.tenant_id', ${tenantId}, true)`;
      await tx.unsafe(`prepare counts (text, json, integer) as ${body}`);
      const explained = await tx.unsafe(
        `explain (format json, analyze) execute counts('${tenantId}', ${subscriptionIds === null ? 'null' : `'${subscriptionIds}'`}, ${cap})`,
      );
      await tx.unsafe('deallocate counts');
      return explained;
    })) as unknown as { 'QUERY PLAN': [{ Plan: PlanNode }] }[];
    const planned = row!['QUERY PLAN'][0].Plan;
    // deliveries is partitioned by time: each status is counted through each partition's copy of
    // the (subscription_id, status, id) index, and the count stops at the cap across them.
    const ofDeliveries = scans(planned).filter((scan) => scan['Relation Name']?.startsWith('deliveries'));
    expect(ofDeliveries.length).toBeGreaterThanOrEqual(2);
    for (const scan of ofDeliveries) {
      expect(scan['Node Type']).toBe('Index Scan');
      expect(scan['Index Name']).toMatch(/subscription_(id_)?status/);
      expect(scan['Rows Removed by Filter'] ?? 0).toBe(0);
    }
    const read = ofDeliveries.reduce((sum, scan) => sum + scan['Actual Rows']! * scan['Actual Loops']!, 0);
    expect(read).toBeLessThanOrEqual(2 * cap);
    const counts = await new TenantScope(app.db, tenantId).stats.currentCounts(subjects, cap);
    expect([...counts.values()]).toEqual([{ pending: cap, held: cap }]);
    const exact = await new TenantScope(app.db, tenantId).stats.currentCounts(subjects, 1_000_000);
    expect([...exact.values()]).toEqual([{ pending: 15_000, held: 5_000 }]);
  });
});
