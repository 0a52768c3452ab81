import type { Logger } from 'pino';
import type { Runner } from 'graphile-worker';
import { effectiveJwtSecret } from './auth/dev-secret.js';
import { TokenVerifier } from './auth/jwt.js';
import type { Config } from './config.js';
import { connectDatabase, type DatabaseClient } from './db/client.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded-postgres.js';
import { APP_ROLE, appRoleAvailable, applyMigrations } from './db/migrate.js';
import { PayloadSchemas } from './domain/payload-schemas.js';
import { SubscriptionFairness } from './delivery/fairness.js';
import { HttpSender, type HostResolver } from './delivery/http-sender.js';
import { startApiServer, type ApiServer } from './api/server.js';
import { startWorker } from './worker/runner.js';
import path from 'node:path';

export interface Hooklane {
  /** The GraphQL endpoint, when this process runs the API. */
  graphqlUrl: string | undefined;
  databaseUrl: string;
  /** Stops taking work, lets in-flight deliveries finish, then closes everything. */
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
  let api: ApiServer | undefined;
  let worker: Runner | undefined;
  let sender: HttpSender | undefined;
  let ready = false;

  const stop = async () => {
    await api?.close();
    await worker?.stop();
    await sender?.close();
    await client?.close();
    await database.embedded?.stop();
  };

  try {
    const owner = connectDatabase(database.url, { max: 1 });
    let role: string | undefined;
    try {
      await applyMigrations(owner.db, database.url);
      role = (await appRoleAvailable(owner.db)) ? APP_ROLE : undefined;
    } finally {
      await owner.close();
    }
    if (!role) logger.warn('the hooklane_app role is not available: row-level security is not enforced (see README, Security)');
    client = connectDatabase(database.url, { max: 20, role });

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
        { databaseUrl: database.url, concurrency: config.worker.concurrency, pollIntervalMs: config.worker.pollIntervalMs },
        {
          db: client.db,
          sender,
          fairness,
          retryScheduleMs: config.delivery.retryScheduleMs,
          timeoutMs: config.delivery.timeoutMs,
          disableAfterMs: config.delivery.disableAfterMs,
          tenantInFlightQuota: config.quotas.deliveriesInFlight,
        },
        logger,
      );
    }

    if (config.role !== 'worker') {
      const secret = effectiveJwtSecret(config);
      const verifier = new TokenVerifier({ ...config.auth, jwtSecret: secret });
      api = await startApiServer({
        services: { config, db: client.db, sql: client.sql, schemas: new PayloadSchemas() },
        verifier,
        readiness: { ready: () => ready },
        logger,
      });
    }
    ready = true;
    return { graphqlUrl: api?.url, databaseUrl: database.url, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}
