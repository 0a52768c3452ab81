import { EventEmitter } from 'node:events';
import { Logger as GraphileLogger, run, type LogFunctionFactory, type Runner, type WorkerEvents } from 'graphile-worker';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { claimDurationMs, type DispatchDependencies } from '../delivery/dispatch.js';
import type { FirstAttemptHandoff } from '../publish/first-attempt-handoff.js';
import type { DeliveryTelemetry } from '../observability/delivery-telemetry.js';
import { WorkerHandoff } from './worker-handoff.js';
import { firstAttemptsRunner, retentionSweepJob, taskList } from './tasks.js';
import type { RetentionSettings } from '../config.js';

export interface WorkerSettings {
  databaseUrl: string;
  concurrency: number;
  pollIntervalMs: number;
  /** WORKER_ASYNC_COMMIT: graphile-worker's connections commit without waiting for the WAL flush. */
  asyncCommit: boolean;
  /** RETENTION, RETENTION_SWEEP_INTERVAL: the sweep's job (src/retention). */
  retention: RetentionSettings;
}

/** How often a worker says it is alive, and after how long without a word its jobs are unlocked. */
const HEARTBEAT_MS = 2_000;
const SWEEP_MS = 5_000;
const DEAD_AFTER_SECONDS = 10;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * graphile-worker warns at every start when its local queue (jobs fetched at a time) is smaller
 * than its concurrency, which it expects to be slower. Hooklane's smaller batch measured faster and
 * keeps a quiet tenant's jobs from waiting behind a flood's (startRunner's localQueue); no option
 * of graphile-worker's turns the warning off, so it is not passed on.
 */
const LOCAL_QUEUE_SIZE_WARNING = /^Your job batch size \(\d+\) is smaller than your concurrency setting/;

const toPino: (logger: Logger) => LogFunctionFactory = (logger) => (scope) => (level, message, meta) => {
  if (level === 'warning' && LOCAL_QUEUE_SIZE_WARNING.test(message)) return;
  // graphile-worker writes a line with the whole job for every job it completes, at info: that is
  // debug detail here (the attempt is logged at debug too). Its warnings and errors keep their level.
  const method = level === 'warning' ? 'warn' : level === 'info' ? 'debug' : level;
  // No child logger (each one sets up redaction) for a line that is not written.
  if (!logger.isLevelEnabled(method)) return;
  const child = logger.child({ worker: scope.workerId, job: scope.jobId, task: scope.taskIdentifier });
  child[method]({ ...meta }, message);
};

export interface Worker {
  /** Takes the first attempts of publishes in this process (ROLE=all), see FirstAttemptHandoff. */
  handoff: FirstAttemptHandoff;
  stop(): Promise<void>;
}

/** A handed-over job waits this much longer than its attempts' claims before a worker may run it. */
const HANDOFF_HOLD_MARGIN_MS = 5_000;

/** graphile-worker's connections (the benchmark's ceiling opens its pool with the same settings). */
export function runnerPoolConfig(settings: Pick<WorkerSettings, 'databaseUrl' | 'concurrency' | 'asyncCommit'>): pg.PoolConfig {
  return {
    connectionString: settings.databaseUrl,
    max: Math.max(10, settings.concurrency),
    application_name: 'hooklane-worker',
    // Fetching, completing and rescheduling jobs: a commit lost in a crash of PostgreSQL leaves the
    // job to run again, which at-least-once allows (docs/reliability.md).
    ...(settings.asyncCommit ? { options: '-c synchronous_commit=off' } : {}),
  };
}

/**
 * The connection pool of one run of graphile-worker, owned here rather than by graphile-worker:
 * its error listeners stay for as long as it lives. graphile-worker 0.17 ends a pool it made
 * without waiting and drops its listeners at once, so an idle connection that PostgreSQL
 * terminated a moment later (a database restart) raised an unhandled 'error' and killed the process.
 */
function runnerPool(settings: WorkerSettings, logger: Logger): pg.Pool {
  const pool = new pg.Pool(runnerPoolConfig(settings));
  const report = (error: Error) => logger.warn({ err: error }, 'a worker database connection failed: it is replaced');
  pool.on('error', report);
  pool.on('connect', (client) => client.on('error', report));
  return pool;
}

async function startRunner(
  settings: WorkerSettings,
  deps: DispatchDependencies,
  logger: Logger,
  telemetry: DeliveryTelemetry | undefined,
  events: WorkerEvents,
): Promise<Runner> {
  const pool = runnerPool(settings, logger);
  const endPool = () => pool.end().catch(() => {});
  let runner: Runner;
  try {
    runner = await run({
      pgPool: pool,
      concurrency: settings.concurrency,
      pollInterval: settings.pollIntervalMs,
      noHandleSignals: true,
      logger: new GraphileLogger(toPino(logger)),
      taskList: taskList(deps, telemetry, { retention: settings.retention, logger }),
      events,
      preset: {
        worker: {
          // Fetch jobs in batches and complete them in batches: far fewer round trips per delivery.
          // A small batch: jobs fetched but not started wait behind the running ones, so a large
          // one delays a quiet tenant's job behind a flood's (a job carries up to ten deliveries),
          // and larger batches also run fewer jobs per second on a long queue.
          localQueue: { size: 16 },
          completeJobBatchDelay: 2,
          failJobBatchDelay: 2,
          // Also the size of the pool runnerPool makes (the benchmark's ceiling reads this preset).
          maxPoolSize: Math.max(10, settings.concurrency),
        },
      },
    });
  } catch (error) {
    await endPool();
    throw error;
  }
  // Ended once the runner has stopped, whichever way: a restart makes a new pool.
  runner.promise.then(endPool, endPool);
  // A sweep now, which schedules the next (replacing one that is waiting: one pending at a time).
  const sweep = retentionSweepJob(0);
  await runner
    .addJob(sweep.task, sweep.payload, { jobKey: sweep.jobKey, runAt: sweep.runAt, priority: sweep.priority })
    .catch((error: unknown) => logger.warn({ err: error }, 'scheduling the retention sweep failed: the next start schedules it'));
  return runner;
}

/**
 * graphile-worker under supervision:
 * - liveness: the worker pool records a heartbeat, and every worker unlocks the jobs of pools
 *   whose heartbeat stopped (a process killed with SIGKILL), instead of graphile-worker's 4 hours;
 * - restart: if the pool exits with an error (the database went away), it is started again with
 *   backoff, so the process never needs a restart from outside.
 */
export async function startWorker(
  settings: WorkerSettings,
  deps: DispatchDependencies,
  sql: Sql,
  logger: Logger,
  telemetry?: DeliveryTelemetry,
): Promise<Worker> {
  const poolIds = new Set<string>();
  const events: WorkerEvents = new EventEmitter() as WorkerEvents;
  events.on('pool:create', ({ workerPool }) => {
    poolIds.add(workerPool.id);
    void beat();
  });
  events.on('pool:release', ({ workerPool }) => {
    poolIds.delete(workerPool.id);
    void sql`select hooklane_worker_stopped(${workerPool.id})`.catch(() => {});
  });

  const beat = async () => {
    for (const id of poolIds) await sql`select hooklane_worker_heartbeat(${id})`.catch(() => {});
  };
  const sweep = async () => {
    try {
      const [row] = await sql<{ unlocked: number }[]>`select hooklane_unlock_dead_workers(${DEAD_AFTER_SECONDS}) as unlocked`;
      if (row && row.unlocked > 0) logger.warn({ pools: row.unlocked }, 'unlocked the jobs of worker pools that stopped without a word');
    } catch (error) {
      logger.debug({ err: error }, 'the dead-worker sweep failed; it runs again shortly');
    }
  };
  const heartbeat = setInterval(() => void beat(), HEARTBEAT_MS);
  const sweeper = setInterval(() => void sweep(), SWEEP_MS);
  heartbeat.unref();
  sweeper.unref();

  let stopping = false;
  let runner = await startRunner(settings, deps, logger, telemetry, events);
  void sweep();

  // graphile-worker ends its runner (resolving or rejecting its promise) when its pool fails, e.g.
  // when the database restarts; unless we are stopping, that is an outage to ride out, not an exit.
  const supervise = (current: Runner): void => {
    const restart = async (error?: unknown) => {
      if (stopping) return;
      let delayMs = 1_000;
      logger.error({ err: error, restartInMs: delayMs }, 'the worker pool stopped: restarting it');
      while (!stopping) {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (stopping) return;
        try {
          runner = await startRunner(settings, deps, logger, telemetry, events);
          supervise(runner);
          logger.info('the worker pool is running again');
          return;
        } catch (startError) {
          delayMs = Math.min(MAX_RESTART_DELAY_MS, delayMs * 2);
          logger.warn({ err: startError, retryInMs: delayMs }, 'restarting the worker pool failed: trying again');
        }
      }
    };
    current.promise.then(() => restart(), restart);
  };
  supervise(runner);
  const handoff = new WorkerHandoff(
    deps.slots,
    firstAttemptsRunner(deps, telemetry),
    deps.db,
    claimDurationMs(deps.timeoutMs) + HANDOFF_HOLD_MARGIN_MS,
    claimDurationMs(deps.timeoutMs),
    deps.tenantInFlightQuota !== null,
    logger,
  );

  return {
    handoff,
    async stop() {
      stopping = true;
      clearInterval(heartbeat);
      clearInterval(sweeper);
      // Deliveries under way finish; those still waiting for a slot are handed to new jobs (tasks.ts).
      deps.slots.close();
      await Promise.all([runner.stop(), handoff.drained()]);
    },
  };
}
