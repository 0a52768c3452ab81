import type { Logger } from 'pino';
import { effectiveJwtSecret } from './auth/dev-secret.js';
import { TokenVerifier } from './auth/jwt.js';
import type { Config } from './config.js';
import { connectDatabase, type DatabaseClient } from './db/client.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded-postgres.js';
import { APP_ROLE, appRoleAvailable, applyMigrations } from './db/migrate.js';
import { PayloadSchemas } from './domain/payload-schemas.js';
import { Publisher } from './publish/publisher.js';
import { loadOrCreateDevSecretsKey, parseSecretsKey, SecretBox } from './secrets/secret-box.js';
import { AttemptRecorder } from './delivery/attempt-recorder.js';
import { ClaimBatcher } from './delivery/claim-batcher.js';
import { DeliverySlots } from './delivery/delivery-slots.js';
import { claimDurationMs } from './delivery/dispatch.js';
import { SubscriptionFairness } from './delivery/fairness.js';
import { HttpSender, type HostResolver } from './delivery/http-sender.js';
import { startApiServer, type ApiServer } from './api/server.js';
import { startWorker, type Worker } from './worker/runner.js';
import { DeliveryTelemetry } from './observability/delivery-telemetry.js';
import { HooklaneMetrics, queueStatsFrom } from './observability/metrics.js';
import { startMetricsServer, type MetricsServer } from './observability/metrics-server.js';
import { settleWithin } from './observability/shutdown.js';
import { PartitionKeeper } from './retention/partition-keeper.js';
import path from 'node:path';

export interface Hooklane {
  /** The GraphQL endpoint, when this process runs the API. */
  graphqlUrl: string | undefined;
  databaseUrl: string;
  /** The separate metrics endpoint, when METRICS_PORT is set (the API serves /metrics too). */
  metricsUrl: string | undefined;
  /** Stops taking work, lets in-flight deliveries finish (at most SHUTDOWN_TIMEOUT), then closes everything. */
  stop(): Promise<void>;
}

/** The database named by DATABASE_URL, or an embedded PostgreSQL under DATA_DIR. */
export async function openDatabase(config: Config, logger: Logger): Promise<{ url: string; embedded?: EmbeddedDatabase }> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  const embedded = await startEmbeddedPostgres(path.join(config.dataDir, 'postgres'), {
    log: (line) => logger.debug({ postgres: line.trim() }, 'embedded postgres'),
  });
  logger.info({ dataDir: config.dataDir }, 'embedded PostgreSQL started');
  return { url: embedded.url, embedded };
}

/** Starts what the role asks for against one database; used by `npm start` and by the tests. */
/** What a test may put in place of the real thing; nothing here changes what the code under test does. */
export interface HooklaneSeams {
  /** Resolves delivery host names (tests map names to chosen addresses without touching DNS). */
  resolver?: HostResolver;
}

export async function startHooklane(config: Config, logger: Logger, seams: HooklaneSeams = {}): Promise<Hooklane> {
  const database = await openDatabase(config, logger);
  let client: DatabaseClient | undefined;
  let workerClient: DatabaseClient | undefined;
  let api: ApiServer | undefined;
  let worker: Worker | undefined;
  let sender: HttpSender | undefined;
  let metricsServer: MetricsServer | undefined;
  let partitionKeeper: PartitionKeeper | undefined;
  let ready = false;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // New HTTP requests and new jobs stop at once; both wait for what is in flight, until the deadline.
      const deadline = Date.now() + config.shutdownTimeoutMs;
      const failed = (what: string) => (error: unknown) => logger.warn({ err: error }, `${what} failed while stopping`);
      const [apiStopped, workerStopped] = await Promise.all([
        api ? settleWithin(api.close(), deadline, failed('closing the API')) : 'done',
        worker ? settleWithin(worker.stop(), deadline, failed('stopping the worker')) : 'done',
      ]);
      if (apiStopped === 'timed_out') logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'HTTP requests still open at SHUTDOWN_TIMEOUT: closing anyway');
      if (workerStopped === 'timed_out') {
        logger.warn(
          { timeoutMs: config.shutdownTimeoutMs },
          'deliveries still in flight at SHUTDOWN_TIMEOUT: abandoned; their jobs stay locked until graphile-worker treats the lock as stale',
        );
      }
      await metricsServer?.close();
      await partitionKeeper?.stop();
      // Closing the sender waits for its requests: after a timeout, only briefly.
      if (sender) await settleWithin(sender.close(), Date.now() + 1_000, failed('closing the HTTP sender'));
      if (workerClient !== client) await workerClient?.close();
      await client?.close();
      await database.embedded?.stop();
    })());

  try {
    const owner = connectDatabase(database.url, { max: 1 });
    let role: string | undefined;
    try {
      await applyMigrations(owner.db, database.url, config.retention);
      role = (await appRoleAvailable(owner.db)) ? APP_ROLE : undefined;
    } finally {
      await owner.close();
    }
    const secretBox = new SecretBox(
      config.secretsKey ? parseSecretsKey(config.secretsKey) : loadOrCreateDevSecretsKey(config.dataDir),
    );
    if (!config.secretsKey && config.databaseUrl) {
      logger.warn({ dataDir: config.dataDir }, 'SECRETS_KEY is not set: signing secrets are sealed with a development key kept in DATA_DIR');
    }
    if (!role) logger.warn('the hooklane_app role is not available: row-level security is not enforced (see docs/security.md)');
    // The worker's connections are its own (with ROLE=all too): its commits need not wait for the
    // WAL flush (WORKER_ASYNC_COMMIT), while the API answers only once its writes are durable.
    const workerPool = { role, applicationName: 'hooklane-worker', asyncCommit: config.worker.asyncCommit };
    client = connectDatabase(database.url, config.role === 'worker' ? { max: 20, ...workerPool } : { max: 20, role });
    workerClient = config.role === 'all' ? connectDatabase(database.url, { max: 10, ...workerPool }) : client;
    // One per process: with ROLE=all, the API's publishes and the worker's operational events share it.
    const publisher = new Publisher();
    const metrics = new HooklaneMetrics({
      queueStats: queueStatsFrom(client.sql),
      onCollectError: (error) => logger.warn({ err: error }, 'reading the job queue for metrics failed'),
    });

    if (config.role !== 'api') {
      sender = new HttpSender({
        timeoutMs: config.delivery.timeoutMs,
        allowPrivateNetworks: config.delivery.allowPrivateNetworks,
        httpsOnly: config.delivery.httpsOnly,
        responseBodyLimit: config.delivery.responseBodyLimit,
        resolver: seams.resolver,
      });
      const fairness = new SubscriptionFairness(
        Math.max(1, Math.floor(config.worker.concurrency * config.worker.subscriptionShare)),
        config.delivery.timeoutMs,
        Math.random,
        config.worker.concurrency,
      );
      worker = await startWorker(
        {
          databaseUrl: database.url,
          concurrency: config.worker.concurrency,
          pollIntervalMs: config.worker.pollIntervalMs,
          asyncCommit: config.worker.asyncCommit,
          retention: config.retention,
        },
        {
          db: workerClient.db,
          secretBox,
          publisher,
          slots: new DeliverySlots(config.worker.concurrency),
          claims: new ClaimBatcher(workerClient.db, claimDurationMs(config.delivery.timeoutMs), config.quotas.deliveriesInFlight !== null),
          recorder: new AttemptRecorder(workerClient.db),
          sender,
          fairness,
          retryScheduleMs: config.delivery.retryScheduleMs,
          timeoutMs: config.delivery.timeoutMs,
          disableAfterMs: config.delivery.disableAfterMs,
          tenantInFlightQuota: config.quotas.deliveriesInFlight,
        },
        workerClient.sql,
        logger,
        new DeliveryTelemetry(metrics, logger),
      );
    }

    // Without a worker here, its retention sweep may not run for a while: windows ahead all the same.
    if (config.role === 'api') partitionKeeper = new PartitionKeeper(client.sql, config.retention, logger);

    if (config.role !== 'worker') {
      const secret = effectiveJwtSecret(config);
      const verifier = new TokenVerifier({ ...config.auth, jwtSecret: secret });
      api = await startApiServer({
        services: {
          config,
          db: client.db,
          sql: client.sql,
          schemas: new PayloadSchemas(),
          secretBox,
          publisher,
          handoff: config.worker.handoff ? worker?.handoff : undefined,
        },
        verifier,
        readiness: { ready: () => ready },
        logger,
        metrics,
      });
    }
    if (config.metricsPort !== undefined) {
      metricsServer = await startMetricsServer({ host: config.host, port: config.metricsPort, metrics, logger });
    }
    ready = true;
    return { graphqlUrl: api?.url, databaseUrl: database.url, metricsUrl: metricsServer?.url, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}
