/**
 * `npm run bench -- --soak [--soak-minutes 5] [--soak-rate 100] [--soak-sample 5] [--json <file>]`:
 * Hooklane under a steady load for several minutes with RETENTION=1m and RETENTION_SWEEP_INTERVAL=5s,
 * so that the retention sweep deletes as fast as publishing writes. Events of 200 bytes (the body) with
 * one subscription each are published at a steady rate (publishEvent calls, open loop) to a
 * Hooklane child process (ROLE=all); every few seconds the run samples the size of each table and
 * index (all partitions summed) and the publish and delivery rates of the interval, and notes the
 * intervals in which a sweep dropped a window. It reports:
 *
 * - the sizes over time, which must go flat once the horizon (retention plus a window) has passed;
 * - the publish and delivery rates in intervals with and without a window dropped, which must match;
 * - storageBytesPerDelivery: the bytes of events, deliveries and attempts (tables, TOAST and
 *   indexes) and of idempotency keys, per delivery stored, once the size is flat.
 *
 * Every published delivery must reach the receiver (the ledger), or the run is void.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Sql } from 'postgres';
import { nowMs, percentile, round, sleep } from './clock.js';
import { adminToken, apiAgent, createEventType, createSubscription, createTenant, GraphQLClient, publishEvent, samplePayload, tenantToken } from './graphql.js';
import { HooklaneProcess, killAllHooklanes } from './hooklane.js';
import { Ledger, type LedgerResult } from './ledger.js';
import { startBenchPostgres, type BenchPostgres } from './postgres.js';
import { Receiver } from './receiver.js';
import { writeJson } from './report.js';
import { waitForCount } from './load.js';

export interface SoakOptions {
  minutes: number;
  /** Events per second, each with one subscription. */
  rate: number;
  /** Seconds between samples. */
  sampleSeconds: number;
  json: string | undefined;
}

const RETENTION = '1m';
const SWEEP_INTERVAL = '5s';
const RETENTION_MS = 60_000;
/** publishEvent calls in flight at most: the load is open loop, paced by the clock. */
const MAX_IN_FLIGHT = 64;
const TABLES = ['events', 'deliveries', 'delivery_attempts', 'event_idempotency_keys'] as const;

interface Sample {
  /** Seconds since the load started. */
  atSeconds: number;
  /** Bytes per table (its partitions summed): heap and TOAST, and indexes. */
  tables: Record<string, { tableBytes: number; indexBytes: number }>;
  /** Bytes per index of the partitioned tables (its partitions' indexes summed). */
  indexes: Record<string, number>;
  totalBytes: number;
  graphileJobsBytes: number;
  partitions: number;
  eventsStored: number;
  deliveriesStored: number;
  /** Windows dropped since the previous sample. */
  windowsDropped: number;
  publishedPerSec: number;
  deliveredPerSec: number;
}

export interface SoakResult {
  mode: 'soak';
  startedAt: string;
  durationSeconds: number;
  environment: Record<string, unknown>;
  settings: { retention: string; sweepInterval: string; rate: number; minutes: number; sampleSeconds: number; subscriptionsPerEvent: 1; bodyBytes: number };
  /** Table and index bytes of events, deliveries, attempts and idempotency keys per delivery stored, once flat (median of those samples). */
  storageBytesPerDelivery: number | undefined;
  /** Total bytes: the median of the samples after the horizon, its largest, and the growth from the first of them to the last. */
  flat: { fromSeconds: number; medianBytes: number | undefined; maxBytes: number | undefined; growthPct: number | undefined };
  rates: {
    publishedPerSec: number;
    deliveredPerSec: number;
    /** Mean rates over the intervals after the horizon in which a window was dropped, and in which none was. */
    withDrop: { intervals: number; publishedPerSec: number | undefined; deliveredPerSec: number | undefined };
    withoutDrop: { intervals: number; publishedPerSec: number | undefined; deliveredPerSec: number | undefined };
    maxScheduleLagMs: number;
  };
  samples: Sample[];
  ledger: LedgerResult;
  void: boolean;
}

const log = (line: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function sizes(sql: Sql): Promise<Pick<Sample, 'tables' | 'indexes' | 'totalBytes' | 'graphileJobsBytes' | 'partitions'>> {
  const rows = await sql<{ parent: string; table_bytes: string; index_bytes: string }[]>`
    select coalesce(p.relname, c.relname)::text as parent, sum(pg_table_size(c.oid))::text as table_bytes, sum(pg_indexes_size(c.oid))::text as index_bytes
    from pg_class c
    left join pg_inherits i on i.inhrelid = c.oid
    left join pg_class p on p.oid = i.inhparent
    where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and coalesce(p.relname, c.relname) = any(${[...TABLES]})
    group by 1`;
  const tables = Object.fromEntries(TABLES.map((table) => [table, { tableBytes: 0, indexBytes: 0 }]));
  for (const row of rows) tables[row.parent] = { tableBytes: Number(row.table_bytes), indexBytes: Number(row.index_bytes) };
  const indexRows = await sql<{ name: string; bytes: string }[]>`
    select coalesce(pi.relname, ci.relname)::text as name, sum(pg_relation_size(ci.oid))::text as bytes
    from pg_index x
    join pg_class ci on ci.oid = x.indexrelid
    join pg_class t on t.oid = x.indrelid
    left join pg_inherits ii on ii.inhrelid = ci.oid
    left join pg_class pi on pi.oid = ii.inhparent
    left join pg_inherits it on it.inhrelid = t.oid
    left join pg_class pt on pt.oid = it.inhparent
    where t.relnamespace = 'public'::regnamespace and coalesce(pt.relname, t.relname) = any(${[...TABLES]})
    group by 1 order by 1`;
  const [jobs] = await sql<{ bytes: string }[]>`select pg_total_relation_size('graphile_worker._private_jobs')::text as bytes`;
  const [partitions] = await sql<{ n: number }[]>`select count(*)::int as n from hooklane_partition_windows()`;
  return {
    tables,
    indexes: Object.fromEntries(indexRows.map((row) => [row.name, Number(row.bytes)])),
    totalBytes: Object.values(tables).reduce((sum, table) => sum + table.tableBytes + table.indexBytes, 0),
    graphileJobsBytes: Number(jobs?.bytes ?? 0),
    partitions: partitions?.n ?? 0,
  };
}

async function windowNames(sql: Sql): Promise<Set<string>> {
  const rows = await sql<{ name: string }[]>`select partition_name as name from hooklane_partition_windows() where table_name = 'events'`;
  return new Set(rows.map((row) => row.name));
}

/** The delivery body of the soak's events: 200 bytes, as docs/performance.md counts storage per delivery. */
const BODY_BYTES = 200;

function bodyOf(payload: unknown): string {
  return JSON.stringify({ type: 'soak.tick', timestamp: new Date().toISOString(), data: payload });
}

/** samplePayload padded so that the body is BODY_BYTES long. */
function soakPayload(n: number): Record<string, unknown> {
  const base = { ...samplePayload(n), pad: '' };
  return { ...base, pad: 'x'.repeat(Math.max(0, BODY_BYTES - Buffer.byteLength(bodyOf(base)))) };
}

const mean = (values: readonly number[]) => (values.length === 0 ? undefined : values.reduce((sum, value) => sum + value, 0) / values.length);

export async function runSoak(options: SoakOptions): Promise<number> {
  const runStarted = nowMs();
  const startedAt = new Date().toISOString();
  const loadAtStart = os.loadavg();
  let pg: BenchPostgres | undefined;
  let receiver: Receiver | undefined;
  let sql: Sql | undefined;
  let hooklane: HooklaneProcess | undefined;
  try {
    log(`${options.minutes} min at ${options.rate} events/s, RETENTION=${RETENTION}, RETENTION_SWEEP_INTERVAL=${SWEEP_INTERVAL}, a sample every ${options.sampleSeconds} s`);
    pg = await startBenchPostgres(log);
    receiver = await Receiver.start();
    const databaseUrl = await pg.createDatabase('bench_soak');
    const jwtSecret = randomBytes(32).toString('hex');
    const logFile = path.join(pg.tempDir ?? os.tmpdir(), 'hooklane-soak.log');
    hooklane = await HooklaneProcess.start({
      role: 'all',
      databaseUrl,
      jwtSecret,
      logFile,
      env: { RETENTION, RETENTION_SWEEP_INTERVAL: SWEEP_INTERVAL },
    });
    sql = pg.connect(databaseUrl);
    const agent = apiAgent(MAX_IN_FLIGHT);
    const admin = new GraphQLClient(hooklane.graphqlUrl, await adminToken(jwtSecret), agent);
    const tenantId = await createTenant(admin, 'soak tenant');
    const client = new GraphQLClient(hooklane.graphqlUrl, await tenantToken(jwtSecret, tenantId), agent);
    await createEventType(client, 'soak.tick');
    await createSubscription(client, receiver.url('soak'), ['soak.tick']);
    const paths = ['/hook/soak'];
    const ledger = new Ledger();
    const bodyBytes = Buffer.byteLength(bodyOf(soakPayload(0)));

    // ------------------------------------------------------------ the load, open loop
    const durationMs = options.minutes * 60_000;
    const interval = 1000 / options.rate;
    const begin = nowMs() + 50;
    let next = 0;
    let published = 0;
    let inFlight = 0;
    let maxLag = 0;
    const failures: unknown[] = [];
    const calls = new Set<Promise<void>>();
    let loading = true;
    const load = (async () => {
      while (loading && nowMs() - begin < durationMs) {
        const now = nowMs();
        while (begin + next * interval <= now && inFlight < MAX_IN_FLIGHT) {
          maxLag = Math.max(maxLag, now - (begin + next * interval));
          const payload = soakPayload(next++);
          inFlight++;
          const call: Promise<void> = publishEvent(client, 'soak.tick', payload)
            .then(
              (id) => {
                ledger.record([id], paths);
                published++;
              },
              (error: unknown) => {
                failures.push(error);
              },
            )
            .finally(() => {
              inFlight--;
              calls.delete(call);
            });
          calls.add(call);
        }
        if (failures.length > 0) break;
        await sleep(Math.max(1, Math.min(20, begin + next * interval - nowMs())));
      }
      await Promise.all(calls);
    })();

    // ------------------------------------------------------------ samples
    const samples: Sample[] = [];
    let lastWindows = await windowNames(sql);
    let lastPublished = 0;
    let lastDelivered = (await receiver.counts()).total;
    let lastAt = nowMs();
    while (nowMs() - begin < durationMs && failures.length === 0) {
      await sleep(options.sampleSeconds * 1000);
      const at = nowMs();
      const windows = await windowNames(sql);
      const dropped = [...lastWindows].filter((name) => !windows.has(name)).length;
      lastWindows = windows;
      const delivered = (await receiver.counts()).total;
      const [stored] = await sql<{ events: number; deliveries: number }[]>`
        select (select count(*) from events)::int as events, (select count(*) from deliveries)::int as deliveries`;
      const sample: Sample = {
        atSeconds: round((at - begin) / 1000, 1)!,
        ...(await sizes(sql)),
        eventsStored: stored!.events,
        deliveriesStored: stored!.deliveries,
        windowsDropped: dropped,
        publishedPerSec: ((published - lastPublished) * 1000) / (at - lastAt),
        deliveredPerSec: ((delivered - lastDelivered) * 1000) / (at - lastAt),
      };
      lastPublished = published;
      lastDelivered = delivered;
      lastAt = at;
      samples.push(sample);
      log(
        `${sample.atSeconds}s: ${(sample.totalBytes / 2 ** 20).toFixed(2)} MiB in ${sample.partitions} partitions, ${sample.deliveriesStored} deliveries stored; ` +
          `${Math.round(sample.publishedPerSec)}/s published, ${Math.round(sample.deliveredPerSec)}/s delivered${dropped ? `; ${dropped} window(s) dropped` : ''}`,
      );
    }
    loading = false;
    await load;
    if (failures.length > 0) throw failures[0];
    log(`load done: ${published} events published; waiting for their deliveries`);
    await waitForCount('soak: deliveries at the receiver', async () => (await receiver!.counts()).distinct, ledger.expected, { stallMs: 60_000 });
    const { missingSample, ...ledgerResult } = ledger.settle(await receiver.dump());

    // ------------------------------------------------------------ figures
    // Flat from the horizon on: a row lives its retention, plus up to a window and a sweep interval.
    const [width] = await sql<{ ms: number }[]>`
      select extract(epoch from max(to_at - from_at))::float * 1000 as ms from hooklane_partition_windows()
      where table_name = 'events' and window_name like 'p%'`;
    const flatFrom = (RETENTION_MS + 2 * (width?.ms ?? 0) + 10_000) / 1000;
    const steady = samples.filter((sample) => sample.atSeconds >= flatFrom);
    const perDelivery = steady.filter((sample) => sample.deliveriesStored > 0).map((sample) => sample.totalBytes / sample.deliveriesStored);
    const withDrop = steady.filter((sample) => sample.windowsDropped > 0);
    const withoutDrop = steady.filter((sample) => sample.windowsDropped === 0);
    const totals = steady.map((sample) => sample.totalBytes);
    const result: SoakResult = {
      mode: 'soak',
      startedAt,
      durationSeconds: (nowMs() - runStarted) / 1000,
      environment: {
        node: process.version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        postgres: pg.kind,
        loadAverage: { atStart: loadAtStart, atEnd: os.loadavg() },
        hooklaneRun: 'node --import tsx src/main.ts (child process), ROLE=all, LOG_LEVEL=warn',
        windowWidthMs: width?.ms,
      },
      settings: {
        retention: RETENTION,
        sweepInterval: SWEEP_INTERVAL,
        rate: options.rate,
        minutes: options.minutes,
        sampleSeconds: options.sampleSeconds,
        subscriptionsPerEvent: 1,
        bodyBytes,
      },
      storageBytesPerDelivery: round(percentile(perDelivery, 50), 0),
      flat: {
        fromSeconds: flatFrom,
        medianBytes: percentile(totals, 50),
        maxBytes: totals.length ? Math.max(...totals) : undefined,
        growthPct: totals.length > 1 ? round(((totals.at(-1)! - totals[0]!) / totals[0]!) * 100, 1) : undefined,
      },
      rates: {
        publishedPerSec: mean(steady.map((sample) => sample.publishedPerSec)) ?? 0,
        deliveredPerSec: mean(steady.map((sample) => sample.deliveredPerSec)) ?? 0,
        withDrop: {
          intervals: withDrop.length,
          publishedPerSec: mean(withDrop.map((sample) => sample.publishedPerSec)),
          deliveredPerSec: mean(withDrop.map((sample) => sample.deliveredPerSec)),
        },
        withoutDrop: {
          intervals: withoutDrop.length,
          publishedPerSec: mean(withoutDrop.map((sample) => sample.publishedPerSec)),
          deliveredPerSec: mean(withoutDrop.map((sample) => sample.deliveredPerSec)),
        },
        maxScheduleLagMs: maxLag,
      },
      samples,
      ledger: ledgerResult,
      void: !ledgerResult.balanced,
    };
    const mib = (bytes: number | undefined) => (bytes === undefined ? '—' : `${(bytes / 2 ** 20).toFixed(2)} MiB`);
    const rate = (value: number | undefined) => (value === undefined ? '—' : `${Math.round(value)}/s`);
    console.log('');
    console.log(`storageBytesPerDelivery        ${result.storageBytesPerDelivery ?? '—'} (body ${bodyBytes} bytes, 1 subscription)`);
    console.log(`size from ${flatFrom}s on        median ${mib(result.flat.medianBytes)}, max ${mib(result.flat.maxBytes)}, first to last ${result.flat.growthPct ?? '—'}%`);
    console.log(`rates after the horizon        ${rate(result.rates.publishedPerSec)} published, ${rate(result.rates.deliveredPerSec)} delivered`);
    console.log(`  intervals with a drop (${withDrop.length})   ${rate(result.rates.withDrop.publishedPerSec)} published, ${rate(result.rates.withDrop.deliveredPerSec)} delivered`);
    console.log(`  intervals without (${withoutDrop.length})     ${rate(result.rates.withoutDrop.publishedPerSec)} published, ${rate(result.rates.withoutDrop.deliveredPerSec)} delivered`);
    console.log(`ledger                         ${ledgerResult.delivered} of ${ledgerResult.expected} delivered, ${ledgerResult.missing} missing, ${ledgerResult.duplicates} duplicates`);
    console.log('');
    if (options.json) {
      await writeJson(options.json, result);
      log(`JSON written to ${options.json}`);
    }
    if (result.void) {
      console.error(`VOID: the ledger does not balance (missing ${ledgerResult.missing}${missingSample.length ? `; e.g. ${missingSample.join(', ')}` : ''})`);
      return 1;
    }
    log(`done in ${Math.round((nowMs() - runStarted) / 1000)} s`);
    return 0;
  } catch (error) {
    if (hooklane) log(`Hooklane output before the failure:\n${hooklane.logTail()}`);
    throw error;
  } finally {
    killAllHooklanes();
    if (hooklane) await hooklane.stop().catch(() => {});
    await receiver?.close().catch(() => {});
    await sql?.end({ timeout: 2 }).catch(() => {});
    await pg?.stop().catch((error: unknown) => log(`stopping PostgreSQL failed: ${String(error)}`));
  }
}
