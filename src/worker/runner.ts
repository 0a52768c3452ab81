import { Logger as GraphileLogger, run, type LogFunctionFactory, type Runner } from 'graphile-worker';
import type { Logger } from 'pino';
import type { DispatchDependencies } from '../delivery/dispatch.js';
import type { DeliveryTelemetry } from '../observability/delivery-telemetry.js';
import { taskList } from './tasks.js';

export interface WorkerSettings {
  databaseUrl: string;
  concurrency: number;
  pollIntervalMs: number;
}

const toPino: (logger: Logger) => LogFunctionFactory = (logger) => (scope) => (level, message, meta) => {
  const child = logger.child({ worker: scope.workerId, job: scope.jobId, task: scope.taskIdentifier });
  const method = level === 'warning' ? 'warn' : level;
  child[method]({ ...meta }, message);
};

/** Starts graphile-worker with Hooklane's tasks; returns its runner for shutdown. */
export async function startWorker(
  settings: WorkerSettings,
  deps: DispatchDependencies,
  logger: Logger,
  telemetry?: DeliveryTelemetry,
): Promise<Runner> {
  return run({
    connectionString: settings.databaseUrl,
    concurrency: settings.concurrency,
    pollInterval: settings.pollIntervalMs,
    noHandleSignals: true,
    logger: new GraphileLogger(toPino(logger)),
    taskList: taskList(deps, telemetry),
    preset: {
      worker: {
        // Fetch jobs in batches and complete them in batches: far fewer round trips per delivery.
        localQueue: { size: Math.max(settings.concurrency + 1, 32) },
        completeJobBatchDelay: 2,
        failJobBatchDelay: 2,
        maxPoolSize: Math.max(10, settings.concurrency),
      },
    },
  });
}
