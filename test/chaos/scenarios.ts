/**
 * The chaos scenarios. Each one gets its own database on the harness's PostgreSQL, its own
 * Hooklane processes and the shared receiver, and returns figures, violations (what must not
 * happen: exits non-zero) and findings (what an operator should know, with evidence).
 */
import path from 'node:path';
import type { Sql } from 'postgres';
import { nowMs, percentile, round, sleep, waitUntil, withTimeout } from '../bench/clock.js';
import { RssSampler, rssMb } from '../bench/proc.js';
import { HooklaneNode, type ChaosPostgres, type Role } from './cluster.js';
import { ChaosReceiver } from './receiver.js';
import {
  CONTRACT_CODES,
  emptyLog,
  gql,
  gqlOk,
  jobCounts,
  jobDeliveries,
  latencySummary,
  ledger,
  orphanedDeliveries,
  publishLoad,
  publishViolations,
  seconds,
  type PublishLog,
  setUpTenant,
  statusCounts,
  waitProgress,
} from './tools.js';
import { request } from 'undici';
import { signHs256Token } from '../../src/auth/jwt.js';
import { HostileTenant, REDOS_EVENT_TYPE, REDOS_SCHEMA } from '../support/hostile-tenant.js';

export interface ScenarioResult {
  name: string;
  published: number;
  delivered: number;
  lost: number;
  duplicates: number;
  recoverySeconds: number | null;
  ok: boolean;
  violations: string[];
  findings: string[];
  details: Record<string, unknown>;
  seconds?: number;
}

export interface ScenarioContext {
  pg: ChaosPostgres;
  receiver: ChaosReceiver;
  quick: boolean;
  workDir: string;
  secret: string;
  log: (line: string) => void;
  /** Every node started, for cleanup on any exit path. */
  nodes: Set<HooklaneNode>;
}

function node(ctx: ScenarioContext, name: string, role: Role, databaseUrl: string, env: Record<string, string> = {}): HooklaneNode {
  const hooklane = new HooklaneNode(name, {
    role,
    databaseUrl,
    jwtSecret: ctx.secret,
    logFile: path.join(ctx.workDir, `${name}.log`),
    env,
  });
  ctx.nodes.add(hooklane);
  return hooklane;
}

async function closeAll(nodes: HooklaneNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.close()));
}

function result(name: string, partial: Omit<ScenarioResult, 'name' | 'ok'>): ScenarioResult {
  return { name, ok: partial.violations.length === 0, ...partial };
}

/** Worker ids holding locks right now (call while no live worker exists: all of them are dead). */
async function lockHolders(sql: Sql): Promise<string[]> {
  const rows = await sql<{ locked_by: string }[]>`
    select distinct locked_by from graphile_worker._private_jobs where locked_by is not null
    union select distinct locked_by from graphile_worker._private_job_queues where locked_by is not null`;
  return rows.map((row) => row.locked_by);
}

async function deliveredCount(receiver: ChaosReceiver, ids: readonly string[], pathName: string): Promise<number> {
  return ledger(ids, await receiver.dump(), pathName).delivered;
}

// ---------------------------------------------------------------------------------------------
// 1. worker killed

export async function workerKilled(ctx: ScenarioContext): Promise<ScenarioResult> {
  const kills = ctx.quick ? 3 : 5;
  const loadMs = ctx.quick ? 9_000 : 30_000;
  const databaseUrl = await ctx.pg.createDatabase('chaos_kill');
  const sql = ctx.pg.connect(databaseUrl);
  const env = { DELIVERY_TIMEOUT: '2s', DELIVERY_RETRY_SCHEDULE: '200ms,500ms,1s' };
  const api = node(ctx, 'kill-api', 'api', databaseUrl, env);
  const worker = node(ctx, 'kill-worker', 'worker', databaseUrl, env);
  const violations: string[] = [];
  const findings: string[] = [];
  try {
    await api.start();
    await worker.start();
    const tenant = await setUpTenant(api.graphqlUrl, ctx.secret, 'chaos.kill', [ctx.receiver.url('ok', 'kill')]);
    const okPath = tenant.subscriptions[0]!.path;

    const log = emptyLog();
    const load = publishLoad({ apiUrls: () => [api.graphqlUrl], token: tenant.token, eventType: tenant.eventType, concurrency: 4, ratePerCaller: 25, maxMs: loadMs, log });
    const deadWorkers = new Set<string>();
    const killLog: { claimsInFlight: number; lockedJobs: number; restartSeconds: number }[] = [];
    const interval = loadMs / (kills + 1);
    let lastRestartAt = nowMs();
    for (let k = 0; k < kills; k++) {
      await sleep(interval * 0.6);
      await worker.kill();
      const holders = await lockHolders(sql);
      for (const id of holders) deadWorkers.add(id);
      const [claims] = await sql<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'PENDING' and claimed_until > now()`;
      const jobs = await jobCounts(sql, holders);
      const restartStarted = nowMs();
      await worker.start();
      lastRestartAt = nowMs();
      killLog.push({ claimsInFlight: claims!.n, lockedJobs: jobs.lockedByDead, restartSeconds: round((lastRestartAt - restartStarted) / 1000, 1)! });
    }
    await load;
    const ids = log.acked.map((event) => event.id);
    const loadEndedAt = nowMs();

    // Without help: does everything get delivered by the live worker? The jobs a SIGKILLed worker
    // had fetched come back once its heartbeat is 10 s old, at the next 5 s sweep (src/worker/
    // runner.ts): when the rest is already delivered, up to 15 s without progress is expected.
    const settle = await waitProgress({
      done: async () => (await deliveredCount(ctx.receiver, ids, okPath)) === ids.length,
      progress: () => deliveredCount(ctx.receiver, ids, okPath),
      timeoutMs: ctx.quick ? 30_000 : 45_000,
      stallMs: 18_000,
    });
    const before = ledger(ids, await ctx.receiver.dump(), okPath);
    const jobsBefore = await jobCounts(sql, [...deadWorkers]);
    const [stuckRow] = await sql<{ n: number }[]>`
      with job_deliveries as (${jobDeliveries(sql)})
      select count(distinct d.id)::int as n from deliveries d join job_deliveries j on j.delivery_id = d.id
      where d.status = 'PENDING' and j.locked_by = any(${[...deadWorkers]}::text[])`;
    const stuck = stuckRow!.n;
    const orphansBefore = await orphanedDeliveries(sql);
    let recoverySeconds: number | null = settle.done ? seconds(nowMs() - lastRestartAt - 0) : null;
    if (settle.done) recoverySeconds = seconds(Math.max(0, loadEndedAt - lastRestartAt) + settle.ms);

    let unlock: Record<string, unknown> | undefined;
    let final = before;
    if (!settle.done) {
      if (stuck > 0) {
        findings.push(
          `${stuck} PENDING deliveries sat behind graphile-worker jobs locked by ${deadWorkers.size} SIGKILLed worker id(s) ` +
            `(${jobsBefore.lockedByDead} jobs locked by dead workers; graphile-worker only reclaims them after locked_at + 4h). ` +
            'src/worker/runner.ts starts graphile-worker without any dead-worker recovery.',
        );
      }
      // The operator runbook: unlock the jobs of worker ids that are known dead, then watch the backlog drain.
      const unlockedAt = nowMs();
      await sql`select graphile_worker.force_unlock_workers(${[...deadWorkers]}::text[])`;
      const after = await waitProgress({
        done: async () => (await deliveredCount(ctx.receiver, ids, okPath)) === ids.length,
        progress: () => deliveredCount(ctx.receiver, ids, okPath),
        timeoutMs: ctx.quick ? 15_000 : 45_000,
        stallMs: ctx.quick ? 8_000 : 40_000,
      });
      final = ledger(ids, await ctx.receiver.dump(), okPath);
      const orphansAfter = await orphanedDeliveries(sql);
      unlock = {
        deadWorkerIds: deadWorkers.size,
        drained: after.done,
        waitedSeconds: seconds(after.ms),
        lostAfterUnlock: final.lost,
        orphanedPendingWithoutJob: orphansAfter.count,
        orphanSample: orphansAfter.sample,
        statuses: await statusCounts(sql),
      };
      if (after.done) recoverySeconds = seconds(nowMs() - unlockedAt);
      if (orphansAfter.count > 0) {
        findings.push(
          `${orphansAfter.count} deliveries are PENDING with no graphile-worker job left (${orphansAfter.claimed} still carry a claimed_until): ` +
            'after the unlock their jobs re-ran while the dead attempt\'s claim (DELIVERY_TIMEOUT + 30s) was still held, ' +
            'dispatchDelivery returned {skipped: not_claimable} and the job completed, so nothing will ever attempt them again (src/delivery/dispatch.ts:54).',
        );
      }
    }
    const inFlightAtKills = killLog.reduce((sum, kill) => sum + kill.claimsInFlight, 0);
    // Only the worker is killed: the API, and so every publish, stays up.
    violations.push(...publishViolations(log));
    if (before.lost > 0) violations.push(`${before.lost} acknowledged events not delivered without operator help (stuck behind dead workers' locks: ${stuck}, orphaned: ${orphansBefore.count})`);
    if (final.lost > 0) violations.push(`${final.lost} acknowledged events still not delivered after force_unlock_workers (e.g. ${final.lostIds.slice(0, 3).join(', ')})`);
    if (final.duplicates > inFlightAtKills) violations.push(`${final.duplicates} duplicates, more than the ${inFlightAtKills} attempts in flight at the kills`);
    if (api.unexpectedExits.length || worker.unexpectedExits.length) violations.push([...api.unexpectedExits, ...worker.unexpectedExits].join('; '));
    return result('worker-killed', {
      published: ids.length,
      delivered: final.delivered,
      lost: final.lost,
      duplicates: final.duplicates,
      recoverySeconds,
      violations,
      findings,
      details: {
        kills: killLog,
        inFlightAtKills,
        publishFailures: Object.fromEntries(log.failures),
        withoutOperator: { delivered: before.delivered, lost: before.lost, settle: settle.reason, stuck, orphanedPendingWithoutJob: orphansBefore.count, jobs: jobsBefore },
        operatorUnlock: unlock ?? 'not needed',
      },
    });
  } finally {
    await closeAll([api, worker]);
    await sql.end({ timeout: 2 });
  }
}

// ---------------------------------------------------------------------------------------------
// 2. PostgreSQL restarted under load

/**
 * How PostgreSQL goes away: a clean stop (fast shutdown: everything committed is flushed), or a
 * crash (immediate shutdown: the worker's asynchronous commits still in PostgreSQL's buffers are
 * lost and redone, so deliveries may be sent twice, but no acknowledged event may be lost).
 */
const OUTAGES = {
  restart: { scenario: 'postgres-restart', label: 'pg', doing: 'stopping', stop: (pg: ScenarioContext['pg']) => pg.stop() },
  crash: { scenario: 'postgres-crash', label: 'pgcrash', doing: 'crashing', stop: (pg: ScenarioContext['pg']) => pg.crash() },
} as const;

export const postgresRestart = (ctx: ScenarioContext) => postgresOutage(ctx, 'restart');
export const postgresCrash = (ctx: ScenarioContext) => postgresOutage(ctx, 'crash');

async function postgresOutage(ctx: ScenarioContext, kind: keyof typeof OUTAGES): Promise<ScenarioResult> {
  const outage = OUTAGES[kind];
  const downMs = ctx.quick ? 5_000 : 12_000;
  const databaseUrl = await ctx.pg.createDatabase(`chaos_${outage.label}`);
  let sql = ctx.pg.connect(databaseUrl);
  const env = { DELIVERY_TIMEOUT: '2s', DELIVERY_RETRY_SCHEDULE: '200ms,500ms,1s,2s' };
  const api = node(ctx, `${outage.label}-api`, 'api', databaseUrl, env);
  const worker = node(ctx, `${outage.label}-worker`, 'worker', databaseUrl, env);
  const violations: string[] = [];
  const findings: string[] = [];
  try {
    await api.start();
    await worker.start();
    const pids = { api: api.pid, worker: worker.pid };
    const tenant = await setUpTenant(api.graphqlUrl, ctx.secret, `chaos.${outage.label}`, [ctx.receiver.url('ok', outage.label)]);
    const okPath = tenant.subscriptions[0]!.path;
    const log = emptyLog();
    let stopLoad = false;
    const load = publishLoad({
      apiUrls: () => [api.graphqlUrl],
      token: tenant.token,
      eventType: tenant.eventType,
      concurrency: 4,
      ratePerCaller: 20,
      maxMs: 120_000,
      until: () => stopLoad,
      log,
      timeoutMs: 15_000,
    });
    await sleep(3_000);
    await sql.end({ timeout: 1 });
    const downAt = nowMs();
    ctx.log(`${outage.doing} PostgreSQL`);
    await withTimeout('PostgreSQL to stop', outage.stop(ctx.pg), 30_000);
    // While down: what does /healthz say, and how long does it take to say it?
    const health: { status: number | string; ms: number }[] = [];
    const probeUntil = downAt + downMs;
    for (let i = 0; i < 1000 && nowMs() < probeUntil; i++) {
      const started = nowMs();
      try {
        const response = await request(`${api.baseUrl}/healthz`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
        await response.body.text();
        health.push({ status: response.statusCode, ms: round(nowMs() - started, 0)! });
      } catch (error) {
        health.push({ status: (error as Error).message, ms: round(nowMs() - started, 0)! });
      }
      await sleep(500);
    }
    const remaining = probeUntil - nowMs();
    if (remaining > 0) await sleep(remaining);
    ctx.log('starting PostgreSQL again');
    await withTimeout('PostgreSQL to start again', ctx.pg.restart(), 60_000);
    const upAt = nowMs();
    sql = ctx.pg.connect(databaseUrl);
    // A process that died is reported, then started again as a supervisor (systemd, Kubernetes) would,
    // so that what it had acknowledged can still be checked.
    const crashed = [api, worker].filter((n) => !n.alive).map((n) => ({ name: n.name, why: n.unexpectedExits.join('; '), tail: n.logTail(6) }));
    for (const n of [api, worker]) if (!n.alive) await n.start();
    // Keep publishing until the API acknowledges again, then a little longer.
    let firstOkAfterUp: number | undefined;
    for (let i = 0; i < 400 && nowMs() - upAt < 30_000; i++) {
      const okAfter = log.acked.find((event) => event.sentAt >= upAt);
      if (okAfter) {
        firstOkAfterUp = okAfter.ackedAt;
        break;
      }
      await sleep(100);
    }
    await sleep(ctx.quick ? 3_000 : 8_000);
    stopLoad = true;
    ctx.log('waiting for the publishers');
    await load;
    const ids = log.acked.map((event) => event.id);
    const loadEndedAt = nowMs();
    const settle = await waitProgress({
      done: async () => (await deliveredCount(ctx.receiver, ids, okPath)) === ids.length,
      progress: () => deliveredCount(ctx.receiver, ids, okPath),
      timeoutMs: ctx.quick ? 30_000 : 60_000,
      stallMs: ctx.quick ? 8_000 : 30_000,
    });
    const final = ledger(ids, await ctx.receiver.dump(), okPath);
    const downFailures = log.failureLog.filter((failure) => failure.at >= downAt && failure.at < upAt);
    const downCodes: Record<string, number> = {};
    for (const failure of downFailures) downCodes[failure.what] = (downCodes[failure.what] ?? 0) + 1;
    const hangs = log.failureLog.filter((failure) => failure.what === 'timeout').length;
    const slowestDownAnswerMs = downFailures.reduce((max, failure) => Math.max(max, failure.ms), 0);
    const orphans = await orphanedDeliveries(sql);
    const jobs = await jobCounts(sql);
    const statuses = await statusCounts(sql);

    // Publishes may fail from the stop until the API acknowledges again, and at no other time.
    violations.push(...publishViolations(log, { from: downAt, until: firstOkAfterUp ?? upAt }));
    for (const [code] of Object.entries(downCodes)) {
      if (!CONTRACT_CODES.has(code)) violations.push(`while PostgreSQL was down the API answered ${downCodes[code]} publishes with "${code}" (not a contract-coded GraphQL error)`);
    }
    if (hangs > 0) violations.push(`${hangs} publishes got no answer within 15 s (hang)`);
    if (firstOkAfterUp === undefined) violations.push('the API did not acknowledge a publish within 30 s of PostgreSQL coming back');
    if (crashed.length) {
      violations.push(`Hooklane process(es) died when PostgreSQL went away (restarted by the harness as a supervisor would): ${crashed.map((c) => c.name).join(', ')}`);
      findings.push(`crash evidence (${crashed.map((c) => c.name).join(', ')}): ${crashed[0]!.tail.replace(/\s+/g, ' ').slice(-400)}`);
    } else if (api.pid !== pids.api || worker.pid !== pids.worker) violations.push('a Hooklane process was restarted');
    if (final.lost > 0) {
      violations.push(`${final.lost} acknowledged events not delivered ${seconds(settle.ms)} s after the load (${settle.reason}); e.g. ${final.lostIds.slice(0, 3).join(', ')}`);
      if (orphans.count > 0) {
        findings.push(
          `${orphans.count} deliveries PENDING with no job left (${orphans.claimed} with a claimed_until): an attempt whose record() failed while the database was down ` +
            'threw, graphile-worker retried the job while the claim was still held, dispatchDelivery returned not_claimable and the job completed (src/delivery/dispatch.ts:54).',
        );
      }
      if (jobs.locked > 0) findings.push(`${jobs.locked} jobs still locked after the outage, by ${crashed.length ? 'the worker that crashed (graphile-worker reclaims them only after 4 h)' : 'a live worker that never released them'}`);
    }
    if (downCodes.INTERNAL_SERVER_ERROR) {
      findings.push(`while the database was down publishEvent answered INTERNAL_SERVER_ERROR (${downCodes.INTERNAL_SERVER_ERROR}×): contract-coded, but a client cannot tell "retry later" from a bug; a dedicated code or HTTP 503 + retryAfter would be clearer`);
    }
    return result(outage.scenario, {
      published: ids.length,
      delivered: final.delivered,
      lost: final.lost,
      duplicates: final.duplicates,
      recoverySeconds: settle.done ? seconds(loadEndedAt - upAt + settle.ms) : null,
      violations,
      findings,
      details: {
        downSeconds: seconds(upAt - downAt),
        apiRecoverySeconds: firstOkAfterUp === undefined ? null : seconds(firstOkAfterUp - upAt),
        answersWhileDown: downCodes,
        slowestAnswerWhileDownMs: round(slowestDownAnswerMs, 0),
        healthzWhileDown: summarizeHealth(health),
        publishFailures: Object.fromEntries(log.failures),
        settle: settle.reason,
        statuses,
        jobs,
        orphanedPendingWithoutJob: orphans.count,
        processesRestarted: api.starts + worker.starts - 2,
        crashed: crashed.map((c) => c.name),
      },
    });
  } finally {
    await closeAll([api, worker]);
    await sql.end({ timeout: 2 }).catch(() => {});
  }
}

function summarizeHealth(health: { status: number | string; ms: number }[]): Record<string, unknown> {
  const byStatus: Record<string, number> = {};
  for (const probe of health) byStatus[String(probe.status)] = (byStatus[String(probe.status)] ?? 0) + 1;
  return { byStatus, slowestMs: health.reduce((max, probe) => Math.max(max, probe.ms), 0) };
}

// ---------------------------------------------------------------------------------------------
// 3. hostile receivers

export async function hostileReceivers(ctx: ScenarioContext): Promise<ScenarioResult> {
  const events = ctx.quick ? 40 : 150;
  const databaseUrl = await ctx.pg.createDatabase('chaos_hostile');
  const sql = ctx.pg.connect(databaseUrl);
  const hooklane = node(ctx, 'hostile-all', 'all', databaseUrl, { DELIVERY_TIMEOUT: '1s', DELIVERY_RETRY_SCHEDULE: '200ms,200ms' });
  const violations: string[] = [];
  const findings: string[] = [];
  const sampler = new RssSampler(100);
  try {
    await hooklane.start();
    await ctx.receiver.set({ flakyRate: 0.5 });
    const modes = ['ok', 'flaky', 'reset', 'hang', 'big', 'drip'] as const;
    const tenant = await setUpTenant(
      hooklane.graphqlUrl,
      ctx.secret,
      'chaos.hostile',
      modes.map((mode) => ctx.receiver.url(mode, 'hostile')),
    );
    await sleep(500);
    const baselineRss = rssMb(hooklane.pid!) ?? 0;
    sampler.follow(hooklane.pid);
    const log = await publishLoad({
      apiUrls: () => [hooklane.graphqlUrl],
      token: tenant.token,
      eventType: tenant.eventType,
      concurrency: 2,
      ratePerCaller: 5,
      maxMs: 60_000,
      maxEvents: events,
    });
    const loadEndedAt = nowMs();
    const ids = log.acked.map((event) => event.id);
    const settle = await waitProgress({
      done: async () => ((await statusCounts(sql)).PENDING ?? 0) === 0,
      progress: async () => (await statusCounts(sql)).PENDING ?? 0,
      timeoutMs: 60_000,
      stallMs: 20_000,
    });
    sampler.stop();
    const settledAt = nowMs();
    const rows = await sql<{ sub: string; status: string; n: number; max_attempts: number }[]>`
      select subscription_id as sub, status::text, count(*)::int as n, max(attempt_count)::int as max_attempts
      from deliveries group by subscription_id, status`;
    const byMode: Record<string, Record<string, number>> = {};
    let maxAttempts = 0;
    for (const row of rows) {
      const mode = tenant.subscriptions.find((s) => s.id === row.sub)?.path.split('/')[1] ?? row.sub;
      (byMode[mode] ??= {})[row.status] = row.n;
      maxAttempts = Math.max(maxAttempts, row.max_attempts);
    }
    const outcomes = await sql<{ outcome: string; n: number; max_body: number }[]>`
      select outcome::text, count(*)::int as n, coalesce(max(length(response_body)), 0)::int as max_body from delivery_attempts group by outcome`;
    // Every attempt recorded in the database reached the receiver, and the receiver saw no attempt the database does not know of.
    const attemptRows = await sql<{ event_id: string; sub: string; attempts: number }[]>`
      select d.event_id, d.subscription_id as sub, count(a.id)::int as attempts from deliveries d
      left join delivery_attempts a on a.tenant_id = d.tenant_id and a.delivery_id = d.id group by d.event_id, d.subscription_id`;
    const dump = await ctx.receiver.dump();
    let attemptMismatch = 0;
    const mismatchSample: string[] = [];
    for (const row of attemptRows) {
      const sub = tenant.subscriptions.find((s) => s.id === row.sub)!;
      const received = dump.requests.get(`${row.event_id} ${sub.path}`) ?? 0;
      if (received !== row.attempts) {
        attemptMismatch++;
        if (mismatchSample.length < 4) mismatchSample.push(`${sub.path}: receiver ${received}, attempts ${row.attempts}`);
      }
    }
    const okPath = tenant.subscriptions[0]!.path;
    const ok = ledger(ids, dump, okPath);
    const arrivals = await ctx.receiver.arrivals(ids.map((id) => `${id} ${okPath}`));
    const latencies = arrivals.flatMap((arrival, i) => (arrival === null ? [] : [arrival - log.acked[i]!.sentAt]));
    const latency = latencySummary(latencies);
    const pending = (await statusCounts(sql)).PENDING ?? 0;
    const rssGrowth = sampler.peakMb - baselineRss;

    if (pending > 0) violations.push(`${pending} deliveries still PENDING ${seconds(settledAt - loadEndedAt)} s after the load (schedule 200ms,200ms with a 1s timeout allows ~4 s)`);
    if (maxAttempts > 3) violations.push(`a delivery made ${maxAttempts} attempts; the schedule allows 3`);
    if (ok.lost > 0) violations.push(`${ok.lost} events never reached the healthy receiver`);
    if ((byMode.ok?.FAILED ?? 0) > 0) violations.push(`${byMode.ok!.FAILED} deliveries to the healthy receiver FAILED`);
    for (const mode of ['reset', 'hang', 'drip']) {
      if ((byMode[mode]?.SUCCEEDED ?? 0) > 0) violations.push(`${byMode[mode]!.SUCCEEDED} deliveries to the "${mode}" receiver counted as SUCCEEDED`);
    }
    // The receivers misbehave, not the publish path.
    violations.push(...publishViolations(log));
    // Speed and memory are reported (details, and a finding past these marks), never a pass condition:
    // they depend on the machine and its load (speed belongs to `npm run bench`).
    if (rssGrowth > 250) findings.push(`RSS grew by ${Math.round(rssGrowth)} MB (baseline ${Math.round(baselineRss)} MB, peak ${Math.round(sampler.peakMb)} MB)`);
    if ((latency.p95 ?? 0) > 2_000) findings.push(`healthy receiver p95 latency ${latency.p95} ms while others misbehave`);
    if (attemptMismatch > 0) findings.push(`${attemptMismatch} (event, subscription) pairs where the receiver's request count differs from recorded attempts: ${mismatchSample.join('; ')}`);
    if ((byMode.big?.FAILED ?? 0) > 0) findings.push(`${byMode.big!.FAILED} deliveries to a 200 answer with a 10 MB body FAILED (the body takes time to read within DELIVERY_TIMEOUT)`);
    if (hooklane.unexpectedExits.length) violations.push(hooklane.unexpectedExits.join('; '));
    return result('hostile-receivers', {
      published: ids.length,
      delivered: ok.delivered,
      lost: ok.lost,
      duplicates: ok.duplicates,
      recoverySeconds: seconds(settledAt - loadEndedAt),
      violations,
      findings,
      details: {
        statusesByReceiver: byMode,
        attemptOutcomes: outcomes,
        maxAttemptsPerDelivery: maxAttempts,
        attemptMismatch,
        healthyLatencyMs: latency,
        rssMb: { baseline: Math.round(baselineRss), peak: Math.round(sampler.peakMb), samples: sampler.samples },
        receiver: await ctx.receiver.stats(),
      },
    });
  } finally {
    sampler.stop();
    await closeAll([hooklane]);
    await sql.end({ timeout: 2 });
  }
}

// ---------------------------------------------------------------------------------------------
// 4. scale-out

export async function scaleOut(ctx: ScenarioContext): Promise<ScenarioResult> {
  const loadMs = ctx.quick ? 10_000 : 30_000;
  const databaseUrl = await ctx.pg.createDatabase('chaos_scale');
  const sql = ctx.pg.connect(databaseUrl);
  const env = { DELIVERY_TIMEOUT: '2s', DELIVERY_RETRY_SCHEDULE: '200ms,200ms,200ms' };
  const apis = [node(ctx, 'scale-api1', 'api', databaseUrl, env), node(ctx, 'scale-api2', 'api', databaseUrl, env)];
  const workers = [1, 2, 3].map((i) => node(ctx, `scale-worker${i}`, 'worker', databaseUrl, env));
  const all = [...apis, ...workers];
  const violations: string[] = [];
  const findings: string[] = [];
  try {
    // Everyone applies migrations at start: start them all at once, as an orchestrator would.
    const started = await Promise.allSettled(all.map((n) => n.start(90_000)));
    const failedStarts = started.flatMap((outcome, i) => (outcome.status === 'rejected' ? [`${all[i]!.name}: ${String(outcome.reason).slice(0, 400)}`] : []));
    if (failedStarts.length) {
      findings.push(
        `concurrent start-up (5 processes applying migrations at once) failed for: ${failedStarts.map((f) => f.replace(/\s+/g, ' ').slice(0, 300)).join(' | ')}; ` +
          'src/db/migrate.ts applyMigrations runs drizzle migrate + graphile-worker runMigrations with no cross-process lock',
      );
      for (const [i, outcome] of started.entries()) if (outcome.status === 'rejected') await all[i]!.start(90_000);
    }
    await ctx.receiver.set({ flakyRate: 0.3 });
    const tenant = await setUpTenant(apis[0]!.graphqlUrl, ctx.secret, 'chaos.scale', [ctx.receiver.url('ok', 'scale'), ctx.receiver.url('flaky', 'scale')]);
    const log = await publishLoad({
      apiUrls: () => apis.map((api) => api.graphqlUrl),
      token: tenant.token,
      eventType: tenant.eventType,
      concurrency: 6,
      ratePerCaller: 20,
      maxMs: loadMs,
    });
    const loadEndedAt = nowMs();
    const ids = log.acked.map((event) => event.id);
    const settle = await waitProgress({
      done: async () => ((await statusCounts(sql)).PENDING ?? 0) === 0,
      progress: async () => (await statusCounts(sql)).PENDING ?? 0,
      timeoutMs: ctx.quick ? 30_000 : 60_000,
      stallMs: 10_000,
    });
    await sleep(500);
    const dump = await ctx.receiver.dump();
    const attemptRows = await sql<{ event_id: string; sub: string; attempts: number; status: string }[]>`
      select d.event_id, d.subscription_id as sub, d.status::text, count(a.id)::int as attempts from deliveries d
      left join delivery_attempts a on a.tenant_id = d.tenant_id and a.delivery_id = d.id group by d.event_id, d.subscription_id, d.status`;
    let extraRequests = 0;
    let unrecordedPairs = 0;
    let missingRequests = 0;
    const sample: string[] = [];
    for (const row of attemptRows) {
      const sub = tenant.subscriptions.find((s) => s.id === row.sub)!;
      const received = dump.requests.get(`${row.event_id} ${sub.path}`) ?? 0;
      if (received > row.attempts) {
        extraRequests += received - row.attempts;
        unrecordedPairs++;
      }
      if (received < row.attempts) missingRequests += row.attempts - received;
      if (received !== row.attempts && sample.length < 4) sample.push(`${sub.path} ${row.event_id}: receiver ${received}, attempts ${row.attempts}, ${row.status}`);
    }
    const expectedDeliveries = ids.length * tenant.subscriptions.length;
    const [deliveryRow] = await sql<{ n: number }[]>`select count(*)::int as n from deliveries`;
    const okLedger = ledger(ids, dump, tenant.subscriptions[0]!.path);
    const jobs = await jobCounts(sql);
    const statuses = await statusCounts(sql);
    const [attemptTotal] = await sql<{ n: number }[]>`select count(*)::int as n from delivery_attempts`;

    violations.push(...publishViolations(log));
    if (!settle.done) violations.push(`${statuses.PENDING ?? 0} deliveries still PENDING after the load (${settle.reason})`);
    if (deliveryRow!.n !== expectedDeliveries) violations.push(`${deliveryRow!.n} deliveries for ${ids.length} events × ${tenant.subscriptions.length} subscriptions`);
    if (extraRequests > 0) violations.push(`${extraRequests} requests the database recorded no attempt for (a job run twice or an attempt lost): ${sample.join('; ')}`);
    if (missingRequests > 0) violations.push(`${missingRequests} recorded attempts never reached the receiver: ${sample.join('; ')}`);
    if (okLedger.lost > 0) violations.push(`${okLedger.lost} events never reached the healthy receiver`);
    if (jobs.total > 0) violations.push(`${jobs.total} graphile-worker jobs left over (${jobs.locked} locked, ${jobs.failedOut} failed out)`);
    if (failedStarts.length) violations.push(`${failedStarts.length} of 5 processes started together crashed at start-up (concurrent migrations)`);
    for (const n of all) if (n.unexpectedExits.length > (failedStarts.some((f) => f.startsWith(`${n.name}:`)) ? 1 : 0)) violations.push(n.unexpectedExits.join('; '));
    return result('scale-out', {
      published: ids.length,
      delivered: okLedger.delivered,
      lost: okLedger.lost,
      duplicates: okLedger.duplicates,
      recoverySeconds: settle.done ? seconds(nowMs() - loadEndedAt) : null,
      violations,
      findings,
      details: {
        processes: { api: apis.length, worker: workers.length },
        publishFailures: Object.fromEntries(log.failures),
        deliveries: deliveryRow!.n,
        attemptsRecorded: attemptTotal!.n,
        receiverRequests: [...dump.requests.entries()].filter(([key]) => key.endsWith('/scale')).reduce((sum, [, n]) => sum + n, 0),
        extraRequests,
        unrecordedPairs,
        missingRequests,
        statuses,
        jobsLeft: jobs,
      },
    });
  } finally {
    await closeAll(all);
    await sql.end({ timeout: 2 });
  }
}

// ---------------------------------------------------------------------------------------------
// 5. graceful shutdown

export async function gracefulShutdown(ctx: ScenarioContext): Promise<ScenarioResult> {
  const events = ctx.quick ? 30 : 80;
  const slowMs = 1_500;
  const databaseUrl = await ctx.pg.createDatabase('chaos_term');
  const sql = ctx.pg.connect(databaseUrl);
  const env = { DELIVERY_TIMEOUT: '3s', DELIVERY_RETRY_SCHEDULE: '200ms,500ms', SHUTDOWN_TIMEOUT: '10s' };
  const hooklane = node(ctx, 'term-all', 'all', databaseUrl, env);
  const violations: string[] = [];
  const findings: string[] = [];
  try {
    await hooklane.start();
    await ctx.receiver.set({ slowMs });
    const tenant = await setUpTenant(hooklane.graphqlUrl, ctx.secret, 'chaos.term', [ctx.receiver.url('slow', 'term')]);
    const slowPath = tenant.subscriptions[0]!.path;
    const log = await publishLoad({
      apiUrls: () => [hooklane.graphqlUrl],
      token: tenant.token,
      eventType: tenant.eventType,
      concurrency: 4,
      ratePerCaller: 50,
      maxMs: 20_000,
      maxEvents: events,
    });
    const ids = log.acked.map((event) => event.id);
    // Wait until deliveries are in flight at the receiver, then SIGTERM.
    for (let i = 0; i < 100 && (await ctx.receiver.stats()).inFlight < 5; i++) await sleep(50);
    const before = await ctx.receiver.stats();
    const [claimed] = await sql<{ n: number }[]>`select count(*)::int as n from deliveries where claimed_until > now() and status = 'PENDING'`;
    const exit = await hooklane.terminate(30_000);
    const afterExit = await ctx.receiver.stats();
    const [attemptsAtExit] = await sql<{ n: number }[]>`select count(*)::int as n from delivery_attempts`;
    const abandoned = await sql<{ n: number }[]>`select count(*)::int as n from deliveries where status = 'PENDING' and claimed_until > now()`;
    const jobsAtExit = await jobCounts(sql);
    const answeredDuringShutdown = afterExit.answered - before.answered;

    // Start again if anything is left: everything acknowledged must still be delivered.
    const restartedAt = nowMs();
    const deliveredAtExit = await deliveredCount(ctx.receiver, ids, slowPath);
    let settle: { done: boolean; ms: number; reason: string } = { done: true, ms: 0, reason: 'all delivered before exit' };
    if (deliveredAtExit < ids.length) {
      await hooklane.start();
      settle = await waitProgress({
        done: async () => (await deliveredCount(ctx.receiver, ids, slowPath)) === ids.length,
        progress: () => deliveredCount(ctx.receiver, ids, slowPath),
        timeoutMs: ctx.quick ? 45_000 : 60_000,
        stallMs: 40_000,
      });
    }
    const final = ledger(ids, await ctx.receiver.dump(), slowPath);
    const orphans = await orphanedDeliveries(sql);

    // The SIGTERM comes after the publishes: none of them may fail.
    violations.push(...publishViolations(log));
    if (exit.forced) violations.push(`SIGTERM did not stop Hooklane within 30 s (SIGKILLed)`);
    if (exit.code !== 0) violations.push(`exit code ${exit.code} (signal ${exit.signal}) after SIGTERM`);
    if (final.lost > 0) {
      violations.push(`${final.lost} acknowledged events not delivered after the restart (${settle.reason}, ${seconds(settle.ms)} s)`);
      if (orphans.count > 0) findings.push(`${orphans.count} deliveries PENDING with no job left after the restart (${orphans.claimed} with a claimed_until): src/delivery/dispatch.ts:54 drops the job when the claim is still held`);
    }
    if (abandoned[0]!.n > 0) {
      findings.push(
        `${abandoned[0]!.n} deliveries were left claimed (attempt cut off) by the SIGTERM: shutdown did not let in-flight deliveries finish; ` +
          `their next attempt waits for the claim (DELIVERY_TIMEOUT + 30 s) to expire`,
      );
    }
    if (hooklane.unexpectedExits.length) violations.push(hooklane.unexpectedExits.join('; '));
    return result('graceful-shutdown', {
      published: ids.length,
      delivered: final.delivered,
      lost: final.lost,
      duplicates: final.duplicates,
      recoverySeconds: settle.done ? (deliveredAtExit === ids.length ? 0 : seconds(nowMs() - restartedAt)) : null,
      violations,
      findings,
      details: {
        deliveredAtExit,
        exitCode: exit.code,
        exitSignal: exit.signal,
        shutdownSeconds: round(exit.seconds, 2),
        forcedKill: exit.forced,
        inFlightAtSigterm: before.inFlight,
        claimedAtSigterm: claimed!.n,
        answeredDuringShutdown,
        attemptsRecordedAtExit: attemptsAtExit!.n,
        claimsAbandonedAtExit: abandoned[0]!.n,
        jobsAtExit,
        settle: settle.reason,
        orphanedPendingWithoutJob: orphans.count,
      },
    });
  } finally {
    await ctx.receiver.set({ slowMs: 2_000 });
    await closeAll([hooklane]);
    await sql.end({ timeout: 2 });
  }
}

// ---------------------------------------------------------------------------------------------
// 7. noisy neighbour

/**
 * Tenant B publishes at 50/s, first alone (the baseline), then while tenant A attacks with
 * everything at once (test/support/hostile-tenant.ts) and keeps a backlog of deliveries to
 * endpoints that hang until DELIVERY_TIMEOUT. Pass: every one of B's events is acknowledged and
 * delivered while A's backlog is still pending, A gets only contract answers, and B's publish p99
 * under attack stays within NOISY_P99_FACTOR × its baseline p99 + NOISY_P99_SLACK_MS.
 */
const NOISY_P99_FACTOR = 3;
const NOISY_P99_SLACK_MS = 250;

export async function noisyNeighbour(ctx: ScenarioContext): Promise<ScenarioResult> {
  const baselineMs = ctx.quick ? 6_000 : 15_000;
  const attackMs = ctx.quick ? 12_000 : 45_000;
  const backlogEvents = ctx.quick ? 500 : 2_000;
  const hangingSubscriptions = 8;
  const databaseUrl = await ctx.pg.createDatabase('chaos_noisy');
  const sql = ctx.pg.connect(databaseUrl);
  // A's attempts hang for the whole timeout, three times each: its backlog outlasts the scenario.
  const hooklane = node(ctx, 'noisy-all', 'all', databaseUrl, { DELIVERY_TIMEOUT: '3s', DELIVERY_RETRY_SCHEDULE: '1s,1s' });
  const violations: string[] = [];
  const findings: string[] = [];
  try {
    await hooklane.start();
    const b = await setUpTenant(hooklane.graphqlUrl, ctx.secret, 'chaos.noisy.steady', [ctx.receiver.url('ok', 'noisy-b')]);
    const bPath = b.subscriptions[0]!.path;
    const a = await setUpTenant(
      hooklane.graphqlUrl,
      ctx.secret,
      'chaos.noisy.hostile',
      Array.from({ length: hangingSubscriptions }, (_, i) => ctx.receiver.url('hang', `noisy-a${i}`)),
    );
    const admin = await signHs256Token(ctx.secret, { sub: 'chaos-admin', roles: ['admin'] }, { expiresIn: '2h' });
    // A's backlog and one replay fit its burst; its rate refills slower than it replays.
    await gqlOk(hooklane.graphqlUrl, admin, 'mutation($input: UpdateTenantQuotasInput!) { updateTenantQuotas(input: $input) { tenant { id } } }', {
      input: { tenantId: a.id, publishRate: 2, publishBurst: backlogEvents + hangingSubscriptions },
    });
    await gqlOk(hooklane.graphqlUrl, a.token, 'mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id } } }', {
      input: { name: REDOS_EVENT_TYPE, schema: REDOS_SCHEMA },
    });
    for (const subscription of a.subscriptions) {
      await gqlOk(hooklane.graphqlUrl, a.token, 'mutation($input: UpdateSubscriptionInput!) { updateSubscription(input: $input) { subscription { id } } }', {
        input: { id: subscription.id, eventTypes: [a.eventType, REDOS_EVENT_TYPE] },
      });
    }

    const bLoad = (maxMs: number) =>
      publishLoad({ apiUrls: () => [hooklane.graphqlUrl], token: b.token, eventType: b.eventType, concurrency: 5, ratePerCaller: 10, maxMs });
    // Warm-up (connections, code paths), then the baseline: B alone.
    const warmUp = await bLoad(1_000);
    const baseline = await bLoad(baselineMs);

    const aEventIds: string[] = [];
    for (let published = 0; published < backlogEvents; published += 500) {
      const count = Math.min(500, backlogEvents - published);
      const data = await gqlOk(hooklane.graphqlUrl, a.token, 'mutation($input: PublishEventsInput!) { publishEvents(input: $input) { events { id } } }', {
        input: { events: Array.from({ length: count }, (_, n) => ({ eventType: a.eventType, payload: { n: published + n, filler: 'x'.repeat(1_000) } })) },
      });
      aEventIds.push(...data.publishEvents.events.map((event: { id: string }) => event.id));
    }
    await waitUntil('A holding requests open at its hanging endpoints', async () => (await ctx.receiver.stats()).inFlight >= 8, { timeoutMs: 30_000 });
    const hostile = await HostileTenant.prepare(async (query, variables) => {
      const outcome = await gql(hooklane.graphqlUrl, a.token, query, variables, 30_000);
      return outcome.kind === 'ok' ? 'OK' : outcome.kind === 'error' ? (outcome.code ?? 'NO_CODE') : outcome.kind;
    }, aEventIds);

    let attacking = true;
    const attack = hostile.attack(() => !attacking);
    let underAttack: PublishLog;
    try {
      underAttack = await bLoad(attackMs);
    } finally {
      attacking = false;
      await attack;
    }
    const attackEndedAt = nowMs();

    const ids = [...warmUp.acked, ...baseline.acked, ...underAttack.acked].map((event) => event.id);
    const settle = await waitProgress({
      done: async () => (await deliveredCount(ctx.receiver, ids, bPath)) === ids.length,
      progress: () => deliveredCount(ctx.receiver, ids, bPath),
      timeoutMs: 60_000,
      stallMs: 20_000,
    });
    const [aPending] = await sql<{ n: number }[]>`select count(*)::int as n from deliveries where tenant_id = ${a.id} and status = 'PENDING'`;
    const hangingInFlight = (await ctx.receiver.stats()).inFlight;
    const final = ledger(ids, await ctx.receiver.dump(), bPath);

    const latencies = async (log: PublishLog) => {
      const arrivals = await ctx.receiver.arrivals(log.acked.map((event) => `${event.id} ${bPath}`));
      return {
        published: log.acked.length,
        ratePerSecond: log.acked.length < 2 ? undefined : round(log.acked.length / ((log.acked.at(-1)!.sentAt - log.acked[0]!.sentAt) / 1000), 1),
        publishMs: { ...latencySummary(log.acked.map((event) => event.ackedAt - event.sentAt)), p99: round(percentile(log.acked.map((event) => event.ackedAt - event.sentAt), 99), 0) },
        deliveryMs: latencySummary(arrivals.flatMap((arrival, i) => (arrival === null ? [] : [arrival - log.acked[i]!.sentAt]))),
      };
    };
    const bBaseline = await latencies(baseline);
    const bUnderAttack = await latencies(underAttack);
    const p99Bound = NOISY_P99_FACTOR * (bBaseline.publishMs.p99 ?? 0) + NOISY_P99_SLACK_MS;

    for (const log of [warmUp, baseline, underAttack]) violations.push(...publishViolations(log));
    if (final.lost > 0) violations.push(`${final.lost} of B's acknowledged events never reached B's receiver (${settle.reason}, e.g. ${final.lostIds.slice(0, 3).join(', ')})`);
    if (aPending!.n === 0) violations.push("A's backlog had drained before B's deliveries were checked: the scenario did not test isolation");
    if (bBaseline.publishMs.p99 !== undefined && bUnderAttack.publishMs.p99 !== undefined && bUnderAttack.publishMs.p99 > p99Bound) {
      violations.push(`B's publish p99 under attack is ${bUnderAttack.publishMs.p99} ms, over ${NOISY_P99_FACTOR} × its baseline p99 (${bBaseline.publishMs.p99} ms) + ${NOISY_P99_SLACK_MS} ms = ${p99Bound} ms`);
    }
    for (const unexpected of hostile.unexpected()) violations.push(`A's hostile request got an answer outside the contract: ${unexpected}`);
    const outcomes = hostile.outcomes();
    if (!outcomes.replayEvent?.includes('QUOTA_EXCEEDED')) findings.push(`A's replays were never refused by its publish rate (${JSON.stringify(outcomes.replayEvent)})`);
    if ((bUnderAttack.deliveryMs.p95 ?? 0) > 2_000) findings.push(`B's delivery p95 under attack ${bUnderAttack.deliveryMs.p95} ms (baseline ${bBaseline.deliveryMs.p95} ms)`);
    if (hooklane.unexpectedExits.length) violations.push(hooklane.unexpectedExits.join('; '));
    return result('noisy-neighbour', {
      published: ids.length,
      delivered: final.delivered,
      lost: final.lost,
      duplicates: final.duplicates,
      recoverySeconds: settle.done ? seconds(nowMs() - attackEndedAt) : null,
      violations,
      findings,
      details: {
        b: { baseline: bBaseline, underAttack: bUnderAttack, publishP99BoundMs: p99Bound },
        a: {
          backlogEvents,
          hangingSubscriptions,
          pendingWhenBWasChecked: aPending!.n,
          hangingInFlightWhenBWasChecked: hangingInFlight,
          deepestAdmittedEventsPage: hostile.admittedEvents,
          calls: hostile.summary(),
        },
        statuses: await statusCounts(sql),
      },
    });
  } finally {
    await closeAll([hooklane]);
    await sql.end({ timeout: 2 });
  }
}
