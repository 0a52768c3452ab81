import type { Logger } from 'pino';
import { effectiveJwtSecret, missingProductionAuth } from './auth/dev-secret.js';
import { TokenVerifier } from './auth/jwt.js';
import { PortalSessionSigner } from './auth/portal-session.js';
import type { Config } from './config.js';
import { connectDatabase, type DatabaseClient } from './db/client.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded-postgres.js';
import { APP_ROLE, appRoleAvailable, applyMigrations } from './db/migrate.js';
import { openReadPool } from './db/read-pool.js';
import { EventExamples } from './domain/event-examples.js';
import { PayloadSchemas } from './domain/payload-schemas.js';
import { Publisher } from './publish/publisher.js';
import { loadOrCreateDevSecretsKey, parseSecretsKey, SecretBox } from './secrets/secret-box.js';
import { resealSubscriptionSecrets } from './secrets/reseal-secrets.js';
import { AttemptRecorder } from './delivery/attempt-recorder.js';
import { ClaimBatcher } from './delivery/claim-batcher.js';
import { DeliverySlots } from './delivery/delivery-slots.js';
import { claimDurationMs, USER_AGENT } from './delivery/dispatch.js';
import { EndpointRequests } from './delivery/endpoint-requests.js';
import { clientCredentialsFetcher, OAuth2Tokens } from './delivery/oauth2-tokens.js';
import { SubscriptionFairness } from './delivery/fairness.js';
import { HttpSender, type HostResolver } from './delivery/http-sender.js';
import { startApiServer, type ApiServer } from './api/server.js';
import { startWorker, type Worker } from './worker/runner.js';
import { DeliveryTelemetry } from './observability/delivery-telemetry.js';
import { HooklaneMetrics, queueStatsFrom } from './observability/metrics.js';
import { startMetricsServer, type MetricsServer } from './observability/metrics-server.js';
import { settleWithin } from './observability/shutdown.js';
import type { Tracing } from './observability/tracing.js';
import { ensureDatabaseReachable, ensurePortAvailable, listenError } from './preflight.js';
import { PartitionKeeper } from './retention/partition-keeper.js';
import path from 'node:path';

/** How long a stop waits for the last spans to reach the OTLP endpoint. */
const TRACE_FLUSH_MS = 5_000;

export interface Hooklane {
  /** The GraphQL endpoint, when this process runs the API. */
  graphqlUrl: string | undefined;
  databaseUrl: string;
  /** The metrics endpoint of its own, when METRICS_PORT is set (the API port then serves none). */
  metricsUrl: string | undefined;
  /** Stops taking work, lets in-flight deliveries finish (at most SHUTDOWN_TIMEOUT), then closes everything. */
  stop(): Promise<void>;
}

/** The database named by DATABASE_URL, or an embedded PostgreSQL under DATA_DIR. */
export async function openDatabase(config: Config, logger: Logger): Promise<{ url: string; embedded?: EmbeddedDatabase }> {
  if (config.databaseUrl) {
    await ensureDatabaseReachable(config.databaseUrl);
    return { url: config.databaseUrl };
  }
  const embedded = await startEmbeddedPostgres(path.join(config.dataDir, 'postgres'), {
    log: (line) => logger.debug({ postgres: line.trim() }, 'embedded postgres'),
    warn: (message) => logger.warn(message),
  });
  logger.info({ directory: embedded.directory, postgresPid: embedded.pid }, 'embedded PostgreSQL started');
  return { url: embedded.url, embedded };
}

/**
 * Connections per pool, at most (docs/scaling.md#database-connections sizes max_connections from
 * them): the API's (and the read pool's, with DATABASE_READ_URL); a ROLE=worker process's claims
 * and records; the same beside the API in a ROLE=all process. graphile-worker's own pool comes on
 * top (src/worker/runner.ts).
 */
export const API_POOL_SIZE = 20;
export const WORKER_POOL_SIZE = 20;
export const SHARED_WORKER_POOL_SIZE = 10;

/** What a test may put in place of the real thing; nothing here changes what the code under test does. */
export interface HooklaneSeams {
  /** Resolves delivery host names (tests map names to chosen addresses without touching DNS). */
  resolver?: HostResolver;
}

/** Starts what the role asks for against one database; used by `npm start` and by the tests. */
export async function startHooklane(config: Config, logger: Logger, seams: HooklaneSeams = {}): Promise<Hooklane> {
  // An API on a real database never starts open; a worker verifies no tokens.
  const openApi = config.role === 'worker' ? undefined : missingProductionAuth(config);
  if (openApi) throw openApi;
  // A port taken fails start-up before the embedded PostgreSQL is started for nothing.
  if (config.role !== 'worker') await ensurePortAvailable(config.host, config.port, 'PORT');
  if (config.metricsPort !== undefined) await ensurePortAvailable(config.host, config.metricsPort, 'METRICS_PORT');
  const database = await openDatabase(config, logger);
  let client: DatabaseClient | undefined;
  let workerClient: DatabaseClient | undefined;
  let readClient: DatabaseClient | undefined;
  let api: ApiServer | undefined;
  let worker: Worker | undefined;
  let sender: HttpSender | undefined;
  let metricsServer: MetricsServer | undefined;
  let partitionKeeper: PartitionKeeper | undefined;
  let tracing: Tracing | undefined;
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
      await readClient?.close();
      await client?.close();
      await database.embedded?.stop();
      // Last: the spans of everything above are ended; what is still buffered is exported, briefly.
      if (tracing) await settleWithin(tracing.shutdown(), Date.now() + TRACE_FLUSH_MS, failed('exporting the last spans'));
    })());

  try {
    // Loaded only when configured: without an OTLP endpoint the SDK is not even imported.
    if (config.tracing) tracing = new (await import('./observability/tracing.js')).Tracing(config.tracing);
    const secretBox = new SecretBox(
      config.secretsKey ? parseSecretsKey(config.secretsKey) : loadOrCreateDevSecretsKey(config.dataDir),
    );
    if (!config.secretsKey && config.databaseUrl) {
      logger.warn({ dataDir: config.dataDir }, 'SECRETS_KEY is not set: signing secrets are sealed with a development key kept in DATA_DIR');
    }
    const owner = connectDatabase(database.url, { max: 1 });
    let role: string | undefined;
    try {
      await applyMigrations(owner.db, database.url, {
        retention: config.retention,
        // Secrets stored by earlier releases unbound or unsealed are sealed for their rows before anything reads them.
        afterMigrations: (db) => resealSubscriptionSecrets(db, secretBox, logger),
      });
      role = (await appRoleAvailable(owner.db)) ? APP_ROLE : undefined;
    } finally {
      await owner.close();
    }
    if (!role) logger.warn('the hooklane_app role is not available: row-level security is not enforced (see docs/security.md)');
    // The worker's connections are its own (with ROLE=all too): its commits need not wait for the
    // WAL flush (WORKER_ASYNC_COMMIT), while the API answers only once its writes are durable.
    const workerPool = { role, applicationName: 'hooklane-worker', asyncCommit: config.worker.asyncCommit };
    client = connectDatabase(database.url, config.role === 'worker' ? { max: WORKER_POOL_SIZE, ...workerPool } : { max: API_POOL_SIZE, role });
    workerClient = config.role === 'all' ? connectDatabase(database.url, { max: SHARED_WORKER_POOL_SIZE, ...workerPool }) : client;
    // One per process: with ROLE=all, the API's publishes and the worker's operational events share it.
    const publisher = new Publisher(tracing);
    const metrics = new HooklaneMetrics({
      tenantLabels: config.metricsTenantLabels,
      queueStats: queueStatsFrom(client.sql),
      onCollectError: (error) => logger.warn({ err: error }, 'reading the job queue for metrics failed'),
    });

    if (config.role !== 'api') {
      sender = new HttpSender({
        timeoutMs: config.delivery.timeoutMs,
        allowPrivateNetworks: config.delivery.allowPrivateNetworks,
        httpsOnly: config.delivery.httpsOnly,
        responseBodyLimit: config.delivery.responseBodyLimit,
        proxy: config.delivery.proxy,
        resolver: seams.resolver,
      });
      const endpoints = new EndpointRequests({
        sender,
        secretBox,
        tokens: new OAuth2Tokens(clientCredentialsFetcher(sender, USER_AGENT)),
        timeoutMs: config.delivery.timeoutMs,
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
          slots: new DeliverySlots({
            concurrency: config.worker.concurrency,
            tenantShare: Math.max(1, Math.floor(config.worker.concurrency * config.worker.tenantShare)),
            maxBackoffMs: config.delivery.timeoutMs,
          }),
          claims: new ClaimBatcher(workerClient.db, claimDurationMs(config.delivery.timeoutMs), config.quotas.deliveriesInFlight !== null),
          recorder: new AttemptRecorder(workerClient.db),
          sender,
          endpoints,
          fairness,
          retryScheduleMs: config.delivery.retryScheduleMs,
          timeoutMs: config.delivery.timeoutMs,
          disableAfterMs: config.delivery.disableAfterMs,
          tenantInFlightQuota: config.quotas.deliveriesInFlight,
          resendBudget: config.quotas,
          tracing,
        },
        workerClient.sql,
        logger,
        new DeliveryTelemetry(metrics, logger),
      );
    }

    // Without a worker here, its retention sweep may not run for a while: windows ahead all the same.
    if (config.role === 'api') partitionKeeper = new PartitionKeeper(client.sql, config.retention, logger);

    if (config.role !== 'worker') {
      // Only the API reads what may lag; the worker's reads decide what it sends and stay on the primary.
      if (config.databaseReadUrl) readClient = await openReadPool(config.databaseReadUrl, role, API_POOL_SIZE);
      const secret = effectiveJwtSecret(config);
      const verifier = new TokenVerifier({ ...config.auth, jwtSecret: secret });
      const schemas = new PayloadSchemas();
      api = await startApiServer({
        services: {
          config,
          db: client.db,
          reader: readClient?.db ?? client.db,
          sql: client.sql,
          schemas,
          examples: new EventExamples(schemas),
          secretBox,
          publisher,
          handoff: config.worker.handoff ? worker?.handoff : undefined,
          tracing,
          portalSessions: secret ? new PortalSessionSigner(secret, config.auth) : undefined,
        },
        verifier,
        readiness: { ready: () => ready },
        logger,
        metrics,
      }).catch((error: unknown) => {
        throw listenError(error, config.host, config.port, 'PORT');
      });
    }
    if (config.metricsPort !== undefined) {
      const metricsPort = config.metricsPort;
      metricsServer = await startMetricsServer({ host: config.host, port: metricsPort, metrics, logger }).catch((error: unknown) => {
        throw listenError(error, config.host, metricsPort, 'METRICS_PORT');
      });
    }
    ready = true;
    return { graphqlUrl: api?.url, databaseUrl: database.url, metricsUrl: metricsServer?.url, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}
