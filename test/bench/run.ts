/**
 * `npm run bench -- [--quick] [--json <file>]`: Hooklane's throughput, latency and memory in one
 * run, against its own PostgreSQL and a local receiver, with Hooklane as a child process.
 *
 *   1. ceilings: graphile-worker no-op jobs/s (Hooklane's worker settings), HTTP POSTs/s to the receiver
 *   2. ROLE=api: topology, publishEvent rate, a small backlog (worker not running)
 *   3. ROLE=all: drain of the small backlog, end to end with 1 and 10 subscriptions, latency, fan-out
 *   4. ROLE=api: large backlog with publishEvents (the batch publish rate); ROLE=all: its drain
 *   5. ROLE=api: tenant A's backlog; ROLE=all: tenant B's one event behind it
 *
 * The ledger (every published delivery received exactly once or more) must balance, or the run
 * is VOID and exits non-zero. Child processes and PostgreSQL are stopped on every exit path.
 *
 * `--soak` runs the retention soak instead (test/bench/soak.ts): a steady load for several minutes
 * with RETENTION=1m, the size of every table and index over time, and storageBytesPerDelivery.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Sql } from 'postgres';
import { loadConfig } from '../../src/config.js';
import { nowMs, sleep } from './clock.js';
import { graphileWorkerCeiling, hooklaneWorkerSettings, httpCeiling } from './ceilings.js';
import {
  adminToken,
  apiAgent,
  createEventType,
  createSubscription,
  createTenant,
  GraphQLClient,
  tenantToken,
} from './graphql.js';
import { exportRevision, HooklaneProcess, killAllHooklanes, REPO_ROOT, type Role } from './hooklane.js';
import { Ledger } from './ledger.js';
import {
  crossTenantLatency,
  endToEnd,
  fanOut,
  latencyAtRate,
  measureDrain,
  openDrain,
  publishBatches,
  publishSingles,
  sustainedSingles,
  warmUpEndToEnd,
  type LoadContext,
  type Target,
} from './load.js';
import { databaseName, enableStatements, startBenchPostgres, type BenchPostgres } from './postgres.js';
import { RssSampler } from './proc.js';
import { Receiver } from './receiver.js';
import { renderStatements, renderTable, writeJson, type BenchResult } from './report.js';
import { runSoak } from './soak.js';

interface Options {
  quick: boolean;
  json: string | undefined;
  /** Benchmark this committed revision instead of the working tree. */
  ref: string | undefined;
  /** The retention soak instead of the benchmark, with its minutes, events per second and seconds between samples. */
  soak: boolean;
  soakMinutes: number;
  soakRate: number;
  soakSample: number;
}

const USAGE =
  'usage: npm run bench -- [--quick] [--json <file>] [--ref <git-ref>]\n' +
  '       npm run bench -- --soak [--soak-minutes 5] [--soak-rate 100] [--soak-sample 5] [--json <file>]';

function positive(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!value || !Number.isFinite(number) || number <= 0) throw new Error(`${name} needs a positive number`);
  return number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { quick: false, json: undefined, ref: undefined, soak: false, soakMinutes: 5, soakRate: 100, soakSample: 5 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--soak') options.soak = true;
    else if (arg === '--soak-minutes') options.soakMinutes = positive(arg, argv[++i]);
    else if (arg === '--soak-rate') options.soakRate = positive(arg, argv[++i]);
    else if (arg === '--soak-sample') options.soakSample = positive(arg, argv[++i]);
    else if (arg === '--json') {
      const file = argv[++i];
      if (!file) throw new Error('--json needs a file name');
      options.json = path.resolve(file);
    } else if (arg.startsWith('--json=')) options.json = path.resolve(arg.slice('--json='.length));
    else if (arg === '--ref') {
      options.ref = argv[++i];
      if (!options.ref) throw new Error('--ref needs a git revision');
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (${USAGE})`);
  }
  return options;
}

/**
 * Every count of the run; --quick shrinks them so that the whole run takes about a minute. Backlog
 * sizes are deliveries (events × 10 subscriptions) and are capped by an allowance in seconds at
 * the measured 10-subscription rate, so that a slow system still finishes in bounded time. The
 * end-to-end runs (oneSubEvents, tenSubEvents) last several seconds at full size, so that they
 * measure the sustained rate rather than the first second's ramp-up.
 */
function sizes(quick: boolean) {
  return quick
    ? {
        gwJobs: 5_000, httpPosts: 5_000, warmupSingles: 200, singles: 200, warmupSustained: 200, sustained: 200, batchEvents: 3_000, warmupEndToEndEvents: 200, oneSubEvents: 200, tenSubEvents: 50, latencySeconds: 2, fanOutRuns: 1,
        smallBacklog: 1_000, largeBacklog: 5_000, fairnessBacklog: 5_000,
        allowance: { small: 4, large: 8, fairness: 6 },
      }
    : {
        gwJobs: 50_000, httpPosts: 50_000, warmupSingles: 5_000, singles: 3_000, warmupSustained: 2_000, sustained: 5_000, batchEvents: 20_000, warmupEndToEndEvents: 2_000, oneSubEvents: 5_000, tenSubEvents: 1_000, latencySeconds: 10, fanOutRuns: 5,
        smallBacklog: 10_000, largeBacklog: 100_000, fairnessBacklog: 50_000,
        allowance: { small: 45, large: 150, fairness: 90 },
      };
}

const PUBLISH_CONCURRENCY = 32;
/** publishEvents calls in flight for the second batch figure: several backends publishing at once. */
const BATCH_CONCURRENCY = 4;
const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function vacuumBeforeTimedRuns(sql: Sql): Promise<void> {
  const started = nowMs();
  await sql.unsafe('vacuum (analyze)');
  log(`vacuum analyze before the timed runs (not timed): ${Math.round(nowMs() - started)} ms`);
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  if (options.soak) {
    return runSoak({ minutes: options.soakMinutes, rate: options.soakRate, sampleSeconds: options.soakSample, json: options.json });
  }
  const size = sizes(options.quick);
  const runStarted = nowMs();
  const loadAtStart = os.loadavg();
  const startedAt = new Date().toISOString();
  const defaults = loadConfig({});
  const concurrency = defaults.worker.concurrency;

  let pg: BenchPostgres | undefined;
  let receiver: Receiver | undefined;
  let sql: Sql | undefined;
  let current: HooklaneProcess | undefined;
  const rss = new RssSampler(100);
  const peakByRole: Record<string, number> = {};
  const processNotes: string[] = [];
  const fitting: { what: string; requested: number; used: number; allowanceSeconds: number; basisPerSec: number }[] = [];

  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping Hooklane and PostgreSQL`);
    killAllHooklanes();
    const stopAll = async () => {
      await receiver?.close().catch(() => {});
      await sql?.end({ timeout: 1 }).catch(() => {});
      await pg?.stop().catch(() => {});
    };
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => {
    killAllHooklanes();
    if (pg?.tempDir) {
      try {
        rmSync(pg.tempDir, { recursive: true, force: true });
      } catch {
        // PostgreSQL may still be going down; nothing more to do at exit.
      }
    }
  });

  try {
    log(`${options.quick ? 'quick' : 'full'} run; ${os.cpus().length} CPUs, node ${process.version}, WORKER_CONCURRENCY default ${concurrency}`);
    if (loadAtStart[0]! > os.cpus().length) {
      log(`WARNING: load average ${loadAtStart.map((v) => v.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs: other work shares this machine and depresses every figure`);
    }
    pg = await startBenchPostgres(log);
    receiver = await Receiver.start();
    log(`receiver on 127.0.0.1:${receiver.port} (worker thread)`);
    let root = REPO_ROOT;
    let tree = 'working tree';
    if (options.ref) {
      const exported = exportRevision(options.ref, pg.tempDir ?? os.tmpdir());
      root = exported.root;
      tree = `${options.ref} (${exported.commit})`;
    }
    log(`Hooklane from the ${options.ref ? `revision ${tree}` : 'working tree'}: ${root}`);

    // ------------------------------------------------------------ 1. ceilings
    const workerSettings = hooklaneWorkerSettings(root);
    log(`graphile-worker ceiling: ${size.gwJobs} no-op jobs, settings from ${workerSettings.source}: ${JSON.stringify(workerSettings.preset.worker)}`);
    const gwDatabase = await pg.createDatabase('bench_gw');
    const gw = await graphileWorkerCeiling(gwDatabase, size.gwJobs, workerSettings);
    // Its deleted jobs would draw autovacuum into Hooklane's runs (seen in the latency runs).
    await pg.dropDatabase(gwDatabase);
    log(`  ${Math.round(gw.jobsPerSec)} jobs/s`);
    log(`HTTP ceiling: ${size.httpPosts} POSTs at ${concurrency} in flight`);
    const http = await httpCeiling(receiver.plainUrl, size.httpPosts, concurrency);
    log(`  ${Math.round(http.postsPerSec)} POSTs/s`);
    const combined = 1 / (1 / gw.jobsPerSec + 1 / http.postsPerSec);

    // ------------------------------------------------------------ Hooklane and its database
    const databaseUrl = await pg.createDatabase('bench_main');
    const dbName = databaseName(databaseUrl);
    const jwtSecret = randomBytes(32).toString('hex');
    const logDir = pg.tempDir ?? os.tmpdir();
    const logFile = path.join(logDir, `hooklane-bench-${dbName}.log`);
    const agent = apiAgent(64);
    const ledger = new Ledger();
    const tokens = new Map<string, string>();

    const start = async (role: Role) => {
      const spawnedAt = nowMs();
      current = await HooklaneProcess.start({ role, databaseUrl, jwtSecret, logFile, root });
      rss.follow(current.serverPid);
      rss.resetWindow();
      processNotes.push(`ROLE=${role}: ${current.pidNote}; ready in ${Math.round(current.readyAtMs - spawnedAt)} ms`);
      log(`Hooklane ROLE=${role} ready in ${Math.round(current.readyAtMs - spawnedAt)} ms (${current.pidNote})`);
      return spawnedAt;
    };
    const stop = async () => {
      if (!current) return;
      const role = current.role;
      await current.stop();
      peakByRole[role] = Math.max(peakByRole[role] ?? 0, rss.windowPeakMb);
      current = undefined;
      rss.follow(undefined);
    };
    const graphqlUrl = () => {
      if (!current) throw new Error('no Hooklane is running');
      return current.graphqlUrl;
    };
    const client = (tenant: string) => new GraphQLClient(graphqlUrl, tokens.get(tenant)!, agent);

    // ------------------------------------------------------------ 2. ROLE=api: topology, publish rate, small backlog
    await start('api');
    sql = pg.connect(databaseUrl);
    const statementsEnabled = pg.kind === 'embedded' && (await enableStatements(sql));
    const ctx: LoadContext = {
      receiver,
      sql,
      databaseName: dbName,
      ledger,
      hooklane: () => current,
      postmasterPid: () => pg?.postmasterPid(),
      statementsEnabled,
      log,
    };
    const admin = new GraphQLClient(current!.graphqlUrl, await adminToken(jwtSecret), agent);
    const tenantA = await createTenant(admin, 'bench tenant A');
    const tenantB = await createTenant(admin, 'bench tenant B');
    tokens.set('A', await tenantToken(jwtSecret, tenantA));
    tokens.set('B', await tenantToken(jwtSecret, tenantB));
    const topology: Record<string, { tenant: string; eventType: string; paths: string[] }> = {
      one: { tenant: 'A', eventType: 'bench.one', paths: ['one'] },
      ten: { tenant: 'A', eventType: 'bench.ten', paths: Array.from({ length: 10 }, (_, i) => `ten-${i}`) },
      fan: { tenant: 'A', eventType: 'bench.fan', paths: Array.from({ length: 100 }, (_, i) => `fan-${i}`) },
      latency: { tenant: 'A', eventType: 'bench.latency', paths: ['latency'] },
      backlog: { tenant: 'A', eventType: 'bench.backlog', paths: Array.from({ length: 10 }, (_, i) => `backlog-${i}`) },
      fairA: { tenant: 'A', eventType: 'bench.fair', paths: Array.from({ length: 10 }, (_, i) => `fair-a-${i}`) },
      fairB: { tenant: 'B', eventType: 'bench.fair', paths: ['fair-b'] },
    };
    for (const spec of Object.values(topology)) {
      const setup = client(spec.tenant);
      await createEventType(setup, spec.eventType).catch((error: Error) => {
        if (!/already|exists|CONFLICT/i.test(error.message)) throw error;
      });
      const labels = [...spec.paths];
      const endpoint = receiver.url.bind(receiver);
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let label = labels.shift(); label !== undefined; label = labels.shift()) {
            await createSubscription(setup, endpoint(label), [spec.eventType]);
          }
        }),
      );
    }
    const target = (name: keyof typeof topology): Target => {
      const spec = topology[name]!;
      return { client: client(spec.tenant), eventType: spec.eventType, paths: spec.paths.map((label) => `/hook/${label}`) };
    };
    log(`topology: tenants A and B; subscriptions ${Object.values(topology).reduce((sum, spec) => sum + spec.paths.length, 0)}`);

    // A fresh process runs its request path in the interpreter until V8 has compiled it: the rate
    // of the first calls says more about the JIT than about Hooklane. After 2,000 warm-up calls
    // the next 1,000 still ran about a fifth slower than the 1,000s after them, hence 5,000; and
    // 3,000 timed calls (2 s or more) rather than 1,000 make one slow moment of the machine count
    // for less. Warm-up calls are published and delivered like the others, but not timed.
    log(`publishEvent: warm-up, ${size.warmupSingles} events (not timed)`);
    await publishSingles(ctx, target('one'), size.warmupSingles, PUBLISH_CONCURRENCY);
    log(`publishEvent: ${size.singles} events at concurrency ${PUBLISH_CONCURRENCY} (ROLE=api, no worker)`);
    const single = await publishSingles(ctx, target('one'), size.singles, PUBLISH_CONCURRENCY);
    log(`  ${Math.round(single.eventsPerSec)} events/s`);
    log(`publishEvents: ${size.batchEvents} events, 1,000 per call, 1 subscription each (ROLE=api, no worker)`);
    const batch = await publishBatches(ctx, target('one'), size.batchEvents);
    log(`  ${Math.round(batch.eventsPerSec)} events/s`);
    log(`publishEvents: ${size.batchEvents} events, 1,000 per call, ${BATCH_CONCURRENCY} calls in flight (ROLE=api, no worker)`);
    const batchConcurrent = await publishBatches(ctx, target('one'), size.batchEvents, 1_000, BATCH_CONCURRENCY);
    log(`  ${Math.round(batchConcurrent.eventsPerSec)} events/s`);
    const publishedOnOne = size.warmupSingles + size.singles + 2 * size.batchEvents;
    const singlesWindow = await openDrain(ctx);
    await stop();

    // ------------------------------------------------------------ 3. ROLE=all: end to end, latency, fan-out
    let spawnedAt = await start('all');
    log(`delivering the ${publishedOnOne} events published above (not a measurement)`);
    await measureDrain(ctx, singlesWindow, publishedOnOne, spawnedAt);

    // As pgbench does before its runs: the rows the earlier phases wrote and deleted would otherwise
    // draw autovacuum into some of the few-second runs below and not others.
    await vacuumBeforeTimedRuns(sql);
    // This process has delivered but never published: its first publishEvents calls run in V8's
    // interpreter (several times slower than later ones) and would be timed as the start of a
    // sustained rate. Published and delivered like the others, but not timed.
    log(`end to end: warm-up, ${size.warmupEndToEndEvents} events published and delivered (not timed)`);
    await warmUpEndToEnd(ctx, target('one'), size.warmupEndToEndEvents);
    log(`end to end, 1 subscription: ${size.oneSubEvents} events`);
    const e2eOne = await endToEnd(ctx, target('one'), size.oneSubEvents);
    log(`  ${Math.round(e2eOne.deliveriesPerSec)} deliveries/s`);
    log(`end to end, 10 subscriptions: ${size.tenSubEvents} events`);
    const e2eTen = await endToEnd(ctx, target('ten'), size.tenSubEvents);
    log(`  ${Math.round(e2eTen.deliveriesPerSec)} deliveries/s`);

    // The sustained rate paces the latency runs. It counts the deliveries made while publishing
    // goes on (see sustainedSingles): counted until the last delivery, the rate would include the
    // drain after the load, and the latency run at 80% of it would fall behind.
    log(`sustained publishEvent with the worker running: ${size.warmupSustained} warm-up, then ${size.sustained} events at concurrency ${PUBLISH_CONCURRENCY}, each delivered`);
    const sustained = await sustainedSingles(ctx, target('latency'), size.warmupSustained, size.sustained, PUBLISH_CONCURRENCY);
    log(
      `  ${Math.round(sustained.eventsPerSec)} events/s published and delivered while publishing (${Math.round(sustained.publishedPerSec)}/s published; ${Math.round(sustained.publishedAndDrainedPerSec)}/s counted until the last delivery)`,
    );
    const sustainedMax = sustained.eventsPerSec;
    await vacuumBeforeTimedRuns(sql);
    const latencyRuns = [];
    for (const share of [0.5, 0.8]) {
      const rate = sustainedMax * share;
      log(`latency at ${Math.round(share * 100)}% of ${Math.round(sustainedMax)}/s = ${Math.round(rate)}/s for ${size.latencySeconds} s`);
      const run = await latencyAtRate(ctx, target('latency'), rate, size.latencySeconds);
      log(`  p50 ${Math.round(run.p50 ?? 0)} ms, p99 ${Math.round(run.p99 ?? 0)} ms`);
      latencyRuns.push(run);
    }

    log(`fan-out 1 → 100, ${size.fanOutRuns} run(s)`);
    const fan = await fanOut(ctx, target('fan'), size.fanOutRuns);
    log(`  all delivered in ${Math.round(fan.allDeliveredMs)} ms`);
    await stop();

    // ------------------------------------------------------------ 4. backlogs (10 subscriptions), drained by a fresh worker
    // The requested sizes shrink when the measured rate says they would not fit the time allowance.
    const fit = (what: string, requested: number, seconds: number) => {
      const fitted = Math.max(requested === 0 ? 0 : 100, Math.min(requested, Math.round((e2eTen.deliveriesPerSec * seconds) / 100) * 100));
      const entry = { what, requested, used: fitted, allowanceSeconds: seconds, basisPerSec: e2eTen.deliveriesPerSec };
      fitted < requested && log(`  ${what}: ${fitted} instead of ${requested} deliveries, to fit ${seconds} s at ~${Math.round(e2eTen.deliveriesPerSec)}/s`);
      fitting.push(entry);
      return fitted;
    };
    const backlogTarget = target('backlog');
    const perEvent = backlogTarget.paths.length;
    const drains = [];
    let batchTen: Awaited<ReturnType<typeof publishBatches>> | undefined;
    for (const [what, requested, seconds] of [
      ['small backlog', size.smallBacklog, size.allowance.small],
      ['large backlog', size.largeBacklog, size.allowance.large],
    ] as const) {
      const queued = Math.ceil(fit(what, requested, seconds) / perEvent) * perEvent;
      await start('api');
      log(`${what}: publishEvents, ${queued / perEvent} events × ${perEvent} subscriptions, 1,000 events per call (ROLE=api, no worker)`);
      const published = await publishBatches(ctx, backlogTarget, queued / perEvent);
      log(`  ${Math.round(published.eventsPerSec)} events/s`);
      if (!batchTen || published.events > batchTen.events) batchTen = published;
      const window = await openDrain(ctx);
      await stop();
      spawnedAt = await start('all');
      log(`drain of ${queued} queued deliveries`);
      const drain = await measureDrain(ctx, window, queued, spawnedAt);
      log(`  ${Math.round(drain.deliveriesPerSec)} deliveries/s`);
      drains.push(drain);
      await stop();
    }

    // ------------------------------------------------------------ 5. fairness
    const fairTarget = target('fairA');
    const fairBacklog = Math.ceil(fit('fairness backlog', size.fairnessBacklog, size.allowance.fairness) / fairTarget.paths.length) * fairTarget.paths.length;
    await start('api');
    log(`fairness: tenant A queues ${fairBacklog} deliveries (${fairBacklog / fairTarget.paths.length} events × ${fairTarget.paths.length} subscriptions; no worker)`);
    await publishBatches(ctx, fairTarget, fairBacklog / fairTarget.paths.length);
    const fairWindow = await openDrain(ctx);
    await stop();
    await start('all');
    log('fairness: tenant B publishes one event as soon as the API is ready');
    const fairness = await crossTenantLatency(ctx, fairWindow, target('fairB'), fairBacklog);
    log(`  tenant B waited ${Math.round(fairness.otherTenantLatencyMs)} ms`);
    await stop();

    // ------------------------------------------------------------ ledger and report
    const [notSucceeded] = await sql<{ count: number }[]>`select count(*)::int as count from deliveries where status <> 'SUCCEEDED'`;
    const { missingSample, ...ledgerResult } = ledger.settle(await receiver.dump());
    const isVoid = !ledgerResult.balanced || (notSucceeded?.count ?? 0) > 0;
    const [version] = await sql<{ server_version: string }[]>`show server_version`;

    const result: BenchResult = {
      mode: options.quick ? 'quick' : 'full',
      startedAt,
      durationSeconds: (nowMs() - runStarted) / 1000,
      environment: {
        node: process.version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memoryGb: Math.round(os.totalmem() / 2 ** 30),
        postgres: `${pg.kind} ${version?.server_version ?? ''}`.trim(),
        postgresNotes: pg.kind === 'embedded' ? 'default settings (fsync, synchronous_commit on) + pg_stat_statements, track_wal_io_timing' : 'BENCH_DATABASE_URL',
        workerConcurrency: concurrency,
        hooklaneRun: 'node dist/main.js (child process), LOG_LEVEL=warn, DELIVERY_ALLOW_PRIVATE_NETWORKS=true',
        hooklaneTree: tree,
        notSucceededDeliveriesAtEnd: notSucceeded?.count ?? 0,
        loadAverage: { atStart: loadAtStart, atEnd: os.loadavg() },
      },
      ceilings: { graphileWorkerJobsPerSec: gw.jobsPerSec, httpPostsPerSec: http.postsPerSec, combinedPerSec: combined, graphileWorker: gw, http },
      deliveriesPerSec: { oneSubscription: e2eOne.deliveriesPerSec, tenSubscriptions: e2eTen.deliveriesPerSec },
      deliveryRatioToCeiling: e2eOne.deliveriesPerSec / combined,
      endToEnd: { warmupEvents: size.warmupEndToEndEvents, oneSubscription: e2eOne, tenSubscriptions: e2eTen },
      publishEventsPerSec: {
        single: single.eventsPerSec,
        batch: batch.eventsPerSec,
        batchConcurrent: batchConcurrent.eventsPerSec,
        batchTenSubscriptions: batchTen!.eventsPerSec,
        singleRun: { ...single, concurrency: PUBLISH_CONCURRENCY, warmupCalls: size.warmupSingles, subscriptionsPerEvent: 1 },
        batchRun: { ...batch, batchSize: 1_000, concurrency: 1, subscriptionsPerEvent: 1 },
        batchConcurrentRun: { ...batchConcurrent, batchSize: 1_000, concurrency: BATCH_CONCURRENCY, subscriptionsPerEvent: 1 },
        batchTenSubscriptionsRun: { ...batchTen!, batchSize: 1_000, subscriptionsPerEvent: 10 },
      },
      latencyMs: {
        p50: { at50pct: latencyRuns[0]?.p50, at80pct: latencyRuns[1]?.p50 },
        p95: { at50pct: latencyRuns[0]?.p95, at80pct: latencyRuns[1]?.p95 },
        p99: { at50pct: latencyRuns[0]?.p99, at80pct: latencyRuns[1]?.p99 },
        sustainedMaxPerSec: sustainedMax,
        basis: 'sustained max = publishEvent calls/s of ROLE=all at concurrency 32, after a warm-up, counting the deliveries made while publishing went on; latency runs: open-loop publishEvent calls at 50% and 80% of it, ROLE=all',
        sustained,
        runs: latencyRuns,
      },
      peakRssMb: Math.max(...Object.values(peakByRole), rss.peakMb),
      peakRssMbByRole: peakByRole,
      commitsPerDelivery: e2eOne.database.commitsPerDelivery,
      scaling: { backlog: drains, fanOut: fan },
      sizing: { requested: size, fitted: fitting },
      fairness,
      ledger: ledgerResult,
      hooklaneProcesses: processNotes,
      void: isVoid,
    };

    console.log('');
    console.log(renderTable(result));
    console.log('');
    for (const [title, work] of [
      ['end to end, 1 subscription', e2eOne.database],
      [`drain of ${drains[1]!.queued} queued`, drains[1]!.database],
    ] as const) {
      const text = renderStatements(title, work);
      if (text) console.log(`${text}\n`);
    }
    if (options.json) {
      await writeJson(options.json, result);
      log(`JSON written to ${options.json}`);
    }
    if (isVoid) {
      console.error(
        `VOID: the ledger does not balance (missing ${ledgerResult.missing}, unexpected ${ledgerResult.unexpected}, ` +
          `not SUCCEEDED ${notSucceeded?.count ?? 0}${missingSample.length ? `; e.g. ${missingSample.join(', ')}` : ''})`,
      );
      return 1;
    }
    log(`done in ${Math.round((nowMs() - runStarted) / 1000)} s`);
    return 0;
  } catch (error) {
    if (current) {
      await sleep(300); // pino writes asynchronously: let the last lines arrive
      log(`Hooklane (ROLE=${current.role}) output before the failure:\n${current.logTail()}`);
    }
    throw error;
  } finally {
    rss.stop();
    killAllHooklanes();
    if (current) await current.stop().catch(() => {});
    await receiver?.close().catch(() => {});
    await sql?.end({ timeout: 2 }).catch(() => {});
    await pg?.stop().catch((error: unknown) => log(`stopping PostgreSQL failed: ${String(error)}`));
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
