/**
 * The measurements against a running Hooklane: publish rates, end-to-end delivery rates, latency
 * under paced load, backlog drains, fan-out and cross-tenant fairness. Each one records what it
 * published in the ledger and waits until every delivery is both received and recorded as
 * SUCCEEDED before it returns, so the next one starts from a quiet system.
 */
import type { Sql } from 'postgres';
import { nowMs, percentile, sleep, BenchTimeoutError } from './clock.js';
import { publishEvent, publishEvents, samplePayload, type GraphQLClient } from './graphql.js';
import type { HooklaneProcess } from './hooklane.js';
import type { Ledger } from './ledger.js';
import { readCounters, resetStatements, STATS_SETTLE_MS, topStatements, type DatabaseCounters, type StatementStat } from './postgres.js';
import { postgresCpuSeconds, processCpuSeconds } from './proc.js';
import type { Receiver } from './receiver.js';

export interface LoadContext {
  receiver: Receiver;
  /** The benchmark's own connection to Hooklane's database. */
  sql: Sql;
  databaseName: string;
  ledger: Ledger;
  hooklane: () => HooklaneProcess | undefined;
  postmasterPid: () => number | undefined;
  statementsEnabled: boolean;
  log: (line: string) => void;
}

/** Where an event type's deliveries go: its tenant's client and its subscriptions' receiver paths. */
export interface Target {
  client: GraphQLClient;
  eventType: string;
  paths: string[];
}

let payloadCounter = 0;
const nextPayloads = (count: number) => Array.from({ length: count }, () => samplePayload(payloadCounter++));

// ---------------------------------------------------------------- waiting

/**
 * Waits for `progress()` to reach `target`. Fails when it stops moving for `stallMs` (with how far
 * it got), or after `maxMs` in all: never hangs, however slow the system turns out to be.
 */
export async function waitForCount(
  what: string,
  progress: () => Promise<number>,
  target: number,
  options: { stallMs?: number; maxMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const stallMs = options.stallMs ?? 60_000;
  const deadline = nowMs() + (options.maxMs ?? 30 * 60_000);
  let last = -1;
  let lastChange = nowMs();
  for (;;) {
    const value = await progress();
    if (value >= target) return;
    const now = nowMs();
    if (value !== last) {
      last = value;
      lastChange = now;
    }
    if (now - lastChange > stallMs) throw new BenchTimeoutError(`${what}: stuck at ${value} of ${target} for ${stallMs / 1000}s`);
    if (now > deadline) throw new BenchTimeoutError(`${what}: ${value} of ${target} when the time ran out`);
    await sleep(options.intervalMs ?? 50);
  }
}

export async function succeededCount(sql: Sql): Promise<number> {
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from deliveries where status = 'SUCCEEDED'`;
  return row?.count ?? 0;
}

/** Waits until the receiver has `count` more deliveries than at the last mark, then the database agrees. */
async function waitDelivered(ctx: LoadContext, what: string, count: number, succeededBefore: number, stallMs?: number): Promise<number> {
  await waitForCount(`${what}: deliveries at the receiver`, async () => (await ctx.receiver.counts()).phaseCount, count, { stallMs });
  await waitForCount(`${what}: SUCCEEDED deliveries in the database`, async () => (await succeededCount(ctx.sql)) - succeededBefore, count, {
    stallMs: stallMs ?? 60_000,
    intervalMs: 25,
  });
  return nowMs();
}

// ---------------------------------------------------------------- resources

export interface CpuSnapshot {
  at: number;
  hooklane: number | undefined;
  postgres: number | undefined;
  bench: number;
}

export function cpuSnapshot(ctx: LoadContext): CpuSnapshot {
  const pid = ctx.hooklane()?.serverPid;
  const usage = process.cpuUsage();
  return {
    at: nowMs(),
    hooklane: pid === undefined ? undefined : processCpuSeconds(pid),
    postgres: postgresCpuSeconds(ctx.postmasterPid()),
    bench: (usage.user + usage.system) / 1e6,
  };
}

export interface CpuUse {
  /** Percent of one core over the measurement: 100 = one core busy. */
  hooklanePct: number | undefined;
  postgresPct: number | undefined;
  benchPct: number;
  wallSeconds: number;
}

export function cpuUse(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  const wall = (after.at - before.at) / 1000;
  const pct = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : ((b - a) / wall) * 100);
  return {
    hooklanePct: pct(before.hooklane, after.hooklane),
    postgresPct: pct(before.postgres, after.postgres),
    benchPct: ((after.bench - before.bench) / wall) * 100,
    wallSeconds: wall,
  };
}

export interface DatabaseWork {
  commits: number;
  commitsPerDelivery: number;
  writeTransactionsPerDelivery: number;
  walSyncsPerDelivery: number | undefined;
  walSyncMsPerDelivery: number | undefined;
  walBytesPerDelivery: number | undefined;
  /** pg_stat_statements over the measurement, most-called first (when available). */
  statements: (StatementStat & { callsPerDelivery: number })[] | undefined;
  /** Statement executions per delivery, all statements of Hooklane's database together. */
  statementsPerDelivery: number | undefined;
}

async function startDatabaseWindow(ctx: LoadContext): Promise<DatabaseCounters> {
  if (ctx.statementsEnabled) await resetStatements(ctx.sql);
  return readCounters(ctx.sql, ctx.databaseName);
}

async function endDatabaseWindow(ctx: LoadContext, before: DatabaseCounters, deliveries: number): Promise<DatabaseWork> {
  await sleep(STATS_SETTLE_MS);
  const after = await readCounters(ctx.sql, ctx.databaseName);
  const per = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : (b - a) / deliveries);
  let statements: DatabaseWork['statements'];
  let statementsPerDelivery: number | undefined;
  if (ctx.statementsEnabled) {
    const all = await topStatements(ctx.sql, ctx.databaseName, 200);
    // The benchmark's own progress queries are not Hooklane's work.
    const own = (query: string) => /count\(\*\)::int as count from deliveries|pg_stat_|pg_current_snapshot|pg_database/.test(query);
    const hooklane = all.filter((row) => !own(row.query));
    statementsPerDelivery = hooklane.reduce((sum, row) => sum + row.calls, 0) / deliveries;
    statements = hooklane.slice(0, 12).map((row) => ({ ...row, callsPerDelivery: row.calls / deliveries }));
  }
  return {
    commits: after.xactCommit - before.xactCommit,
    commitsPerDelivery: (after.xactCommit - before.xactCommit) / deliveries,
    writeTransactionsPerDelivery: (after.nextXid - before.nextXid) / deliveries,
    walSyncsPerDelivery: per(before.walSyncs, after.walSyncs),
    walSyncMsPerDelivery: per(before.walSyncMs, after.walSyncMs),
    walBytesPerDelivery: per(before.walBytes, after.walBytes),
    statements,
    statementsPerDelivery,
  };
}

// ---------------------------------------------------------------- publishing

export interface PublishRate {
  eventsPerSec: number;
  events: number;
  seconds: number;
  calls: number;
  callP50Ms: number | undefined;
  callP99Ms: number | undefined;
}

/** publishEvent over HTTP from `concurrency` loops until `count` events are published. */
export async function publishSingles(ctx: LoadContext, target: Target, count: number, concurrency: number): Promise<PublishRate> {
  const callMs: number[] = [];
  let next = 0;
  const started = nowMs();
  const loop = async () => {
    while (next < count) {
      next++;
      const [payload] = nextPayloads(1);
      const t0 = nowMs();
      const id = await publishEvent(target.client, target.eventType, payload);
      callMs.push(nowMs() - t0);
      ctx.ledger.record([id], target.paths);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (nowMs() - started) / 1000;
  return { eventsPerSec: count / seconds, events: count, seconds, calls: count, callP50Ms: percentile(callMs, 50), callP99Ms: percentile(callMs, 99) };
}

/**
 * Publishes `count` events with publishEvents, `batchSize` per call and `concurrency` calls in
 * flight (one at a time by default: the rate is then bound by one call's latency).
 */
export async function publishBatches(ctx: LoadContext, target: Target, count: number, batchSize = 1_000, concurrency = 1): Promise<PublishRate> {
  const callMs: number[] = [];
  const started = nowMs();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const size = Math.min(batchSize, count - next);
        next += size;
        const t0 = nowMs();
        const ids = await publishEvents(target.client, target.eventType, nextPayloads(size));
        callMs.push(nowMs() - t0);
        if (ids.length !== size) throw new Error(`publishEvents returned ${ids.length} events for ${size}`);
        ctx.ledger.record(ids, target.paths);
      }
    }),
  );
  const seconds = (nowMs() - started) / 1000;
  return { eventsPerSec: count / seconds, events: count, seconds, calls: callMs.length, callP50Ms: percentile(callMs, 50), callP99Ms: percentile(callMs, 99) };
}

// ---------------------------------------------------------------- end to end

export interface EndToEnd {
  deliveriesPerSec: number;
  deliveries: number;
  events: number;
  subscriptions: number;
  seconds: number;
  /** How the events were published: batches of 1,000 while the worker delivers. */
  publishMode: string;
  publishSeconds: number;
  firstDeliveryAfterMs: number | undefined;
  cpu: CpuUse;
  database: DatabaseWork;
}

/**
 * Publishes `events` events and waits until they are delivered and recorded, untimed: the process
 * compiles its publish path before a timed run. No statistics window, unlike endToEnd.
 */
export async function warmUpEndToEnd(ctx: LoadContext, target: Target, events: number): Promise<void> {
  const succeededBefore = await succeededCount(ctx.sql);
  await ctx.receiver.mark();
  await publishBatches(ctx, target, events);
  await waitDelivered(ctx, 'end-to-end warm-up', events * target.paths.length, succeededBefore);
}

/**
 * Publishes `events` events (publishEvents, 1,000 per call, one call at a time) while the worker
 * delivers them; the clock runs from the first publish call to the moment the database counts
 * every delivery SUCCEEDED. Publishing is far faster than delivering, so after the first seconds
 * the worker always has a queue: this is the sustained delivery rate of a process doing both.
 */
export async function endToEnd(ctx: LoadContext, target: Target, events: number): Promise<EndToEnd> {
  const deliveries = events * target.paths.length;
  const succeededBefore = await succeededCount(ctx.sql);
  const counters = await startDatabaseWindow(ctx);
  await ctx.receiver.mark();
  const cpuBefore = cpuSnapshot(ctx);
  const started = nowMs();
  let publishSeconds = 0;
  const publishing = publishBatches(ctx, target, events).then((rate) => {
    publishSeconds = (nowMs() - started) / 1000;
    return rate;
  });
  // A publish failure must end the wait at once rather than after the stall timeout.
  const failure = publishing.then(
    () => new Promise<never>(() => {}),
    (error: unknown) => Promise.reject(error),
  );
  const finished = await Promise.race([waitDelivered(ctx, `end to end (${target.paths.length} subscription(s))`, deliveries, succeededBefore), failure]);
  await publishing;
  const cpuAfter = cpuSnapshot(ctx);
  const receiverCounts = await ctx.receiver.counts();
  const seconds = (finished - started) / 1000;
  return {
    deliveriesPerSec: deliveries / seconds,
    deliveries,
    events,
    subscriptions: target.paths.length,
    seconds,
    publishMode: 'concurrent: publishEvents batches of 1,000, one call at a time, while the worker delivers',
    publishSeconds,
    firstDeliveryAfterMs: receiverCounts.phaseFirst === null ? undefined : receiverCounts.phaseFirst - started,
    cpu: cpuUse(cpuBefore, cpuAfter),
    database: await endDatabaseWindow(ctx, counters, deliveries),
  };
}

// ---------------------------------------------------------------- sustained single publishes

export interface SustainedSingles {
  /**
   * Events per second both published and delivered while the load ran: deliveries recorded at the
   * receiver before the last publish returned, over the publishing time (at most the publish rate).
   */
  eventsPerSec: number;
  /** publishEvent calls per second of the closed loop, delivered or not yet. */
  publishedPerSec: number;
  /** Events at the receiver when the last publish returned. */
  deliveredWhilePublishing: number;
  /** All events over the time until the last one was recorded SUCCEEDED (the drain after the load included). */
  publishedAndDrainedPerSec: number;
  events: number;
  warmupEvents: number;
  /** How long the `events` calls took (CPU is measured over the same time). */
  seconds: number;
  cpu: CpuUse;
}

/**
 * The highest rate of single publishes that ROLE=all both accepts and delivers: `warmup` calls
 * (delivered, not timed) so that V8 has compiled the path, then `count` calls at `concurrency`.
 * A closed loop publishes faster than the worker delivers; counted until the last delivery, the
 * rate would include the drain after the load and grow with the run's length and with the load
 * generator's efficiency, and latency runs paced at 80% of it would fall behind. Counted while
 * publishing goes on, it is the rate the process keeps up with.
 */
export async function sustainedSingles(ctx: LoadContext, target: Target, warmup: number, count: number, concurrency: number): Promise<SustainedSingles> {
  let succeededBefore = await succeededCount(ctx.sql);
  await ctx.receiver.mark();
  await publishSingles(ctx, target, warmup, concurrency);
  await waitDelivered(ctx, 'warm-up publishes', warmup * target.paths.length, succeededBefore);
  succeededBefore = await succeededCount(ctx.sql);
  await ctx.receiver.mark();
  const cpuBefore = cpuSnapshot(ctx);
  const started = nowMs();
  const published = await publishSingles(ctx, target, count, concurrency);
  const deliveredWhilePublishing = (await ctx.receiver.counts()).phaseCount / target.paths.length;
  const publishSeconds = (nowMs() - started) / 1000;
  const cpu = cpuUse(cpuBefore, cpuSnapshot(ctx));
  const finished = await waitDelivered(ctx, 'sustained publishes', count * target.paths.length, succeededBefore);
  return {
    eventsPerSec: Math.min(count, deliveredWhilePublishing) / publishSeconds,
    publishedPerSec: published.eventsPerSec,
    deliveredWhilePublishing,
    publishedAndDrainedPerSec: count / ((finished - started) / 1000),
    events: count,
    warmupEvents: warmup,
    seconds: publishSeconds,
    cpu,
  };
}

// ---------------------------------------------------------------- latency

export interface LatencyRun {
  targetRate: number;
  achievedPublishRate: number;
  events: number;
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
  max: number | undefined;
  /** How late the pacer started calls, worst case: near 0 means the load really was open-loop. */
  maxScheduleLagMs: number;
  maxOutstandingCalls: number;
}

/**
 * Open-loop load: publishEvent calls started on a fixed schedule at `rate`/s for `seconds`,
 * whatever the earlier calls are doing. Latency is from each call's start to the first byte of
 * its delivery at the receiver (matched by event id = webhook-id).
 */
export async function latencyAtRate(ctx: LoadContext, target: Target, rate: number, seconds: number): Promise<LatencyRun> {
  if (target.paths.length !== 1) throw new Error('latency runs use an event type with one subscription');
  const count = Math.max(10, Math.round(rate * seconds));
  const interval = 1000 / rate;
  const starts: number[] = new Array(count);
  const ids: (string | undefined)[] = new Array(count);
  const failures: unknown[] = [];
  const succeededBefore = await succeededCount(ctx.sql);
  await ctx.receiver.mark();
  let outstanding = 0;
  let maxOutstanding = 0;
  let maxLag = 0;
  const calls: Promise<void>[] = [];
  const begin = nowMs() + 20;
  let next = 0;
  while (next < count) {
    const now = nowMs();
    while (next < count && begin + next * interval <= now) {
      const index = next++;
      maxLag = Math.max(maxLag, now - (begin + index * interval));
      const [payload] = nextPayloads(1);
      starts[index] = nowMs();
      outstanding++;
      maxOutstanding = Math.max(maxOutstanding, outstanding);
      calls.push(
        publishEvent(target.client, target.eventType, payload).then(
          (id) => {
            ids[index] = id;
            outstanding--;
          },
          (error: unknown) => {
            failures.push(error);
            outstanding--;
          },
        ),
      );
    }
    if (failures.length > 0) break;
    await sleep(Math.max(0, Math.min(interval, begin + next * interval - nowMs()) - 0.5));
  }
  await Promise.all(calls);
  if (failures.length > 0) throw failures[0];
  const published = nowMs() - begin;
  ctx.ledger.record(ids as string[], target.paths);
  await waitDelivered(ctx, `latency at ${Math.round(rate)}/s`, count, succeededBefore);
  const arrivals = await ctx.receiver.arrivals(ids as string[]);
  const latencies = arrivals.map((at, index) => (at === null ? Number.NaN : at - starts[index]!));
  if (latencies.some(Number.isNaN)) throw new Error('latency run: an event has no arrival time at the receiver');
  return {
    targetRate: rate,
    achievedPublishRate: count / (published / 1000),
    events: count,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    maxScheduleLagMs: maxLag,
    maxOutstandingCalls: maxOutstanding,
  };
}

// ---------------------------------------------------------------- backlog, fan-out, fairness

export interface Drain {
  queued: number;
  deliveriesPerSec: number;
  seconds: number;
  /** From spawning the process to its first delivery at the receiver. */
  startToFirstDeliveryMs: number | undefined;
  cpu: CpuUse;
  database: DatabaseWork;
}

/** What the caller must do between taking the baseline and waiting: start the worker. */
export interface DrainWindow {
  succeededBefore: number;
  counters: DatabaseCounters;
}

/** Takes the baseline of a drain before the worker is started. */
export async function openDrain(ctx: LoadContext): Promise<DrainWindow> {
  await ctx.receiver.mark();
  return { succeededBefore: await succeededCount(ctx.sql), counters: await startDatabaseWindow(ctx) };
}

/**
 * Times the drain of `queued` deliveries by a freshly started worker: from the first delivery at
 * the receiver (so start-up and migrations are not counted) to the last one recorded SUCCEEDED.
 */
export async function measureDrain(ctx: LoadContext, window: DrainWindow, queued: number, spawnedAt: number): Promise<Drain> {
  const cpuBefore = cpuSnapshot(ctx);
  const finished = await waitDelivered(ctx, `drain of ${queued} queued deliveries`, queued, window.succeededBefore);
  const cpuAfter = cpuSnapshot(ctx);
  const counts = await ctx.receiver.counts();
  const first = counts.phaseFirst ?? spawnedAt;
  const seconds = (finished - first) / 1000;
  return {
    queued,
    deliveriesPerSec: queued / seconds,
    seconds,
    startToFirstDeliveryMs: counts.phaseFirst === null ? undefined : counts.phaseFirst - spawnedAt,
    cpu: cpuUse(cpuBefore, cpuAfter),
    database: await endDatabaseWindow(ctx, window.counters, queued),
  };
}

export interface FanOut {
  subscriptions: number;
  runs: number;
  /** Medians over the runs. */
  firstDeliveryMs: number;
  allDeliveredMs: number;
  allRecordedMs: number;
  deliveriesPerSec: number;
}

/** One event to N subscriptions, `runs` times: publish call start → all N at the receiver / in the database. */
export async function fanOut(ctx: LoadContext, target: Target, runs: number): Promise<FanOut> {
  const n = target.paths.length;
  const first: number[] = [];
  const delivered: number[] = [];
  const recorded: number[] = [];
  for (let run = 0; run < runs; run++) {
    await ctx.receiver.mark();
    const succeededBefore = await succeededCount(ctx.sql);
    const started = nowMs();
    const id = await publishEvent(target.client, target.eventType, nextPayloads(1)[0]);
    ctx.ledger.record([id], target.paths);
    const done = await waitDelivered(ctx, `fan-out 1 → ${n}`, n, succeededBefore, 30_000);
    const counts = await ctx.receiver.counts();
    first.push(counts.phaseFirst! - started);
    delivered.push(counts.phaseLast! - started);
    recorded.push(done - started);
  }
  const median = (values: number[]) => percentile(values, 50)!;
  return {
    subscriptions: n,
    runs,
    firstDeliveryMs: median(first),
    allDeliveredMs: median(delivered),
    allRecordedMs: median(recorded),
    deliveriesPerSec: n / (median(delivered) / 1000),
  };
}

export interface Fairness {
  otherTenantLatencyMs: number;
  backlog: number;
  /** Tenant A's deliveries still not received when tenant B published. */
  backlogPendingAtPublish: number;
  /** Seconds until tenant A's whole backlog was delivered, from B's publish. */
  backlogDrainSeconds: number;
  /** Tenant A deliveries received between B's publish and B's delivery. */
  deliveredAheadOfB: number;
}

/**
 * Tenant A has `backlog` deliveries queued (published while no worker ran); right after the
 * worker starts, tenant B publishes one event. Measures B's publish call start → B's delivery at
 * the receiver, then waits for A's backlog to drain.
 */
export async function crossTenantLatency(ctx: LoadContext, window: DrainWindow, other: Target, backlog: number): Promise<Fairness> {
  const before = await ctx.receiver.counts();
  const started = nowMs();
  const id = await publishEvent(other.client, other.eventType, nextPayloads(1)[0]);
  ctx.ledger.record([id], other.paths);
  let arrival: number | null = null;
  await waitForCount(
    "tenant B's delivery behind tenant A's backlog",
    async () => {
      arrival = (await ctx.receiver.arrivals([id]))[0] ?? null;
      return arrival === null ? (await ctx.receiver.counts()).phaseCount - backlog : 1;
    },
    1,
    { stallMs: 60_000, intervalMs: 20 },
  );
  const atArrival = await ctx.receiver.counts();
  await waitDelivered(ctx, 'tenant A backlog after the fairness probe', backlog + 1, window.succeededBefore);
  const drained = nowMs();
  return {
    otherTenantLatencyMs: arrival! - started,
    backlog,
    backlogPendingAtPublish: backlog - before.phaseCount,
    backlogDrainSeconds: (drained - started) / 1000,
    deliveredAheadOfB: atArrival.phaseCount - before.phaseCount - 1,
  };
}
