/**
 * The benchmark's output: the JSON document (`--json`) and the table printed at the end.
 */
import { writeFile } from 'node:fs/promises';
import { round } from './clock.js';
import type { GraphileCeiling, HttpCeiling } from './ceilings.js';
import type { LedgerResult } from './ledger.js';
import type { CpuUse, DatabaseWork, Drain, EndToEnd, Fairness, FanOut, LatencyRun, PublishRate, SustainedSingles } from './load.js';

export interface BenchResult {
  mode: 'quick' | 'full';
  startedAt: string;
  durationSeconds: number;
  environment: Record<string, unknown>;
  ceilings: {
    graphileWorkerJobsPerSec: number;
    httpPostsPerSec: number;
    /** 1 / (1/gw + 1/http): both costs paid in series by one delivery. */
    combinedPerSec: number;
    graphileWorker: GraphileCeiling;
    http: HttpCeiling;
  };
  deliveriesPerSec: { oneSubscription: number; tenSubscriptions: number };
  deliveryRatioToCeiling: number;
  /** warmupEvents: published and delivered by the same process before the timed runs (not timed). */
  endToEnd: { warmupEvents: number; oneSubscription: EndToEnd; tenSubscriptions: EndToEnd };
  publishEventsPerSec: {
    single: number;
    /** One publishEvents call at a time. */
    batch: number;
    /** Several publishEvents calls in flight (batchConcurrentRun.concurrency). */
    batchConcurrent: number;
    batchTenSubscriptions: number;
    singleRun: PublishRate & { concurrency: number; warmupCalls: number; subscriptionsPerEvent: number };
    batchRun: PublishRate & { batchSize: number; concurrency: number; subscriptionsPerEvent: number };
    batchConcurrentRun: PublishRate & { batchSize: number; concurrency: number; subscriptionsPerEvent: number };
    batchTenSubscriptionsRun: PublishRate & { batchSize: number; subscriptionsPerEvent: number };
  };
  latencyMs: {
    p50: { at50pct: number | undefined; at80pct: number | undefined };
    p95: { at50pct: number | undefined; at80pct: number | undefined };
    p99: { at50pct: number | undefined; at80pct: number | undefined };
    sustainedMaxPerSec: number;
    sustained: SustainedSingles;
    basis: string;
    runs: LatencyRun[];
  };
  peakRssMb: number;
  peakRssMbByRole: Record<string, number>;
  commitsPerDelivery: number;
  scaling: { backlog: Drain[]; fanOut: FanOut };
  sizing: { requested: unknown; fitted: { what: string; requested: number; used: number; allowanceSeconds: number; basisPerSec: number }[] };
  fairness: Fairness;
  ledger: LedgerResult;
  hooklaneProcesses: string[];
  void: boolean;
}

const n0 = (value: number | undefined) => (value === undefined ? '—' : Math.round(value).toLocaleString('en-US'));
const n1 = (value: number | undefined) => (value === undefined ? '—' : String(round(value, 1)));
const n2 = (value: number | undefined) => (value === undefined ? '—' : String(round(value, 2)));
const pct = (cpu: CpuUse) => `node ${n0(cpu.hooklanePct)}% / pg ${n0(cpu.postgresPct)}% / bench ${n0(cpu.benchPct)}%`;
const db = (work: DatabaseWork) =>
  `${n2(work.commitsPerDelivery)} commits, ${n2(work.writeTransactionsPerDelivery)} write-xacts, ${n1(work.statementsPerDelivery)} stmts, ${n2(work.walSyncsPerDelivery)} WAL syncs /delivery`;

export function renderTable(result: BenchResult): string {
  const rows: [string, string, string][] = [];
  const add = (metric: string, value: string, note = '') => rows.push([metric, value, note]);
  const c = result.ceilings;
  add('ceilings.graphileWorkerJobsPerSec', n0(c.graphileWorkerJobsPerSec), `${n0(c.graphileWorker.jobs)} no-op jobs, concurrency ${c.graphileWorker.settings.concurrency}${c.graphileWorker.settings.asyncCommit ? ', async commit' : ''}`);
  add('ceilings.httpPostsPerSec', n0(c.httpPostsPerSec), `${n0(c.http.posts)} POSTs of ${c.http.bodyBytes} B, ${c.http.concurrency} in flight`);
  add('ceilings.combined (series)', n0(c.combinedPerSec), '1 / (1/gw + 1/http)');
  const one = result.endToEnd.oneSubscription;
  const ten = result.endToEnd.tenSubscriptions;
  add('deliveriesPerSec (1 sub)', n0(one.deliveriesPerSec), `${n0(one.deliveries)} deliveries in ${n1(one.seconds)} s; ${pct(one.cpu)}`);
  add('deliveriesPerSec (10 subs)', n0(ten.deliveriesPerSec), `${n0(ten.deliveries)} deliveries in ${n1(ten.seconds)} s; ${pct(ten.cpu)}`);
  add('deliveryRatioToCeiling', String(round(result.deliveryRatioToCeiling, 4)), '1-sub rate ÷ combined ceiling');
  const publish = result.publishEventsPerSec;
  add('publishEventsPerSec.single', n0(publish.single), `publishEvent, ${publish.singleRun.concurrency} concurrent, ${n0(publish.singleRun.events)} events after ${n0(publish.singleRun.warmupCalls)} warm-up calls, 1 subscription, ROLE=api`);
  add('publishEventsPerSec.batch', n0(publish.batch), `publishEvents ×${publish.batchRun.batchSize}, one call at a time, ${n0(publish.batchRun.events)} events, 1 subscription each, ROLE=api`);
  add('publishEventsPerSec.batchConcurrent', n0(publish.batchConcurrent), `publishEvents ×${publish.batchConcurrentRun.batchSize}, ${publish.batchConcurrentRun.concurrency} calls in flight, ${n0(publish.batchConcurrentRun.events)} events, 1 subscription each, ROLE=api`);
  add('  … with 10 subscriptions', n0(publish.batchTenSubscriptions), `publishEvents ×${publish.batchTenSubscriptionsRun.batchSize}, ${n0(publish.batchTenSubscriptionsRun.events)} events, 10 deliveries each, ROLE=api`);
  const l = result.latencyMs;
  add('sustained publishEvent (ROLE=all)', n0(l.sustained.eventsPerSec), `delivered while publishing, ${n0(l.sustained.events)} events after ${n0(l.sustained.warmupEvents)} warm-up (${n0(l.sustained.publishedPerSec)}/s published, ${n0(l.sustained.publishedAndDrainedPerSec)}/s to the last delivery); the latency runs' 100%`);
  for (const run of l.runs) {
    const label = run === l.runs[0] ? '50%' : '80%';
    add(`latencyMs @${label} (${n0(run.targetRate)}/s)`, `${n0(run.p50)} / ${n0(run.p95)} / ${n0(run.p99)}`, `p50/p95/p99, ${n0(run.events)} events, max ${n0(run.max)} ms, pacer lag ≤${n0(run.maxScheduleLagMs)} ms`);
  }
  add('peakRssMb', n0(result.peakRssMb), Object.entries(result.peakRssMbByRole).map(([role, mb]) => `ROLE=${role} ${n0(mb)}`).join(', '));
  add('commitsPerDelivery', n2(result.commitsPerDelivery), `1-sub end to end, publishing included: ${db(one.database)}`);
  for (const drain of result.scaling.backlog) {
    add(`scaling: ${n0(drain.queued)} queued`, n0(drain.deliveriesPerSec), `deliveries/s over ${n1(drain.seconds)} s; ${pct(drain.cpu)}; ${n2(drain.database.commitsPerDelivery)} commits/delivery`);
  }
  const f = result.scaling.fanOut;
  add(`scaling: fan-out 1 → ${f.subscriptions}`, n0(f.deliveriesPerSec), `deliveries/s; all delivered ${n0(f.allDeliveredMs)} ms, recorded ${n0(f.allRecordedMs)} ms, first ${n0(f.firstDeliveryMs)} ms (median of ${f.runs})`);
  const fair = result.fairness;
  add('fairness.otherTenantLatencyMs', n0(fair.otherTenantLatencyMs), `B's one event behind A's ${n0(fair.backlogPendingAtPublish)} pending; ~${n0(fair.deliveredAheadOfB)} of A delivered first`);
  const led = result.ledger;
  add('ledger', led.balanced ? 'balanced' : 'VOID', `published ${n0(led.published)}, expected ${n0(led.expected)}, delivered ${n0(led.delivered)}, missing ${n0(led.missing)}, duplicates ${n0(led.duplicates)}, unexpected ${n0(led.unexpected)}`);

  const load = result.environment.loadAverage as { atStart: number[]; atEnd: number[] } | undefined;
  if (load) add('machine load average', `${n1(load.atStart[0])} → ${n1(load.atEnd[0])}`, `1-min load at start → end on ${String(result.environment.cpus)} CPUs (above the CPU count: figures depressed by other work)`);
  add('run', `${n0(result.durationSeconds)} s`, `${result.mode}; Hooklane from ${String(result.environment.hooklaneTree)}`);
  const width = [0, 0];
  for (const [metric, value] of rows) {
    width[0] = Math.max(width[0]!, metric.length);
    width[1] = Math.max(width[1]!, value.length);
  }
  const line = (a: string, b: string, note: string) => `${a.padEnd(width[0]!)}  ${b.padStart(width[1]!)}  ${note}`;
  const out = [line('metric', 'value', 'how / notes'), line('-'.repeat(width[0]!), '-'.repeat(width[1]!), '-----------')];
  for (const [metric, value, note] of rows) out.push(line(metric, value, note));
  return out.join('\n');
}

export function renderStatements(title: string, work: DatabaseWork): string {
  if (!work.statements) return '';
  const lines = [`${title}: statements per delivery (pg_stat_statements), ${n1(work.statementsPerDelivery)} in all`];
  for (const row of work.statements) {
    lines.push(`  ${n2(row.callsPerDelivery).padStart(6)}  ${n2(row.meanMs).padStart(6)} ms  ${row.query.slice(0, 130)}`);
  }
  return lines.join('\n');
}

export async function writeJson(file: string, result: unknown): Promise<void> {
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
}
