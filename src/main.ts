// First: it sets NODE_ENV before any library that reads it is loaded.
import './node-env.js';
import v8 from 'node:v8';
import { authIsConfigured, effectiveJwtSecret } from './auth/dev-secret.js';
import { signHs256Token } from './auth/jwt.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { StartupError } from './errors.js';
import { connectDatabase } from './db/client.js';
import { applyMigrations } from './db/migrate.js';
import { openDatabase, startHooklane } from './app.js';
import { createLogger } from './logger.js';

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

async function migrateOnly(config: Config) {
  const logger = createLogger(config.logLevel, undefined, config.logFormat);
  const database = await openDatabase(config, logger);
  const client = connectDatabase(database.url, { max: 2 });
  try {
    await applyMigrations(client.db, database.url, { retention: config.retention });
    console.log('Migrations applied.');
  } finally {
    await client.close();
    await database.embedded?.stop();
  }
}

/**
 * When memory is plentiful V8 lets the old generation grow to several times the live heap before
 * collecting it. Growing by at most 2x keeps a busy process's resident memory close to what it
 * uses, at the same throughput (docs/performance.md has the figures).
 * A growth factor, not a cap: the heap still grows as far as live data needs. V8 reads the factor
 * at each collection, so setting it at start-up takes effect; one given on the command line wins.
 */
function limitHeapGrowth(): void {
  if (process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return;
  v8.setFlagsFromString('--heap-growing-percent=100');
}

async function serve(config: Config) {
  limitHeapGrowth();
  const logger = createLogger(config.logLevel, undefined, config.logFormat);
  const hooklane = await startHooklane(config, logger);
  logger.info({ role: config.role, graphqlUrl: hooklane.graphqlUrl }, 'Hooklane started');
  if (hooklane.graphqlUrl) {
    console.log(`\nHooklane GraphQL API: ${hooklane.graphqlUrl}`);
    // Only the embedded mode gets here without AUTH_* (startHooklane refuses DATABASE_URL without it).
    // The token goes to the terminal, never through the logger: log lines are shipped and kept.
    if (!authIsConfigured(config)) {
      const token = await signHs256Token(effectiveJwtSecret(config)!, { sub: 'dev-admin', roles: ['admin'] }, { expiresIn: '30d' });
      console.log(`Development admin token (no AUTH_* variable is set; secret kept in ${config.dataDir}):\n${token}\n`);
    }
  }
  let stopping = false;
  for (const signal of SHUTDOWN_SIGNALS) {
    process.on(signal, () => {
      // A repeated signal is ignored: Ctrl-C reaches both npm/tsx and this process, which relay it again.
      // The embedded PostgreSQL runs in a session of its own: no signal of this group reaches it,
      // and it stops last, after the worker has recorded its attempts (app.ts stop()).
      if (stopping) return;
      stopping = true;
      // No new requests or jobs; in-flight ones get SHUTDOWN_TIMEOUT (app.ts stop()), then pools close.
      logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
      // Last resort if closing the pools hangs after the bounded wait: never outlive the timeout by much.
      setTimeout(() => {
        logger.error('shutdown did not complete in time: exiting');
        process.exit(1);
      }, config.shutdownTimeoutMs + 15_000).unref();
      hooklane.stop().then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

async function main() {
  const config = loadConfig();
  if (process.argv[2] === 'migrate') await migrateOnly(config);
  else await serve(config);
}

main().catch((error: unknown) => {
  // A failure the user can fix is one line with its cause and its fix; anything else, in full.
  console.error(error instanceof StartupError || error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
