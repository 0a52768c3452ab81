import { authIsConfigured, effectiveJwtSecret } from './auth/dev-secret.js';
import { signHs256Token } from './auth/jwt.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { connectDatabase } from './db/client.js';
import { applyMigrations } from './db/migrate.js';
import { openDatabase, startHooklane } from './app.js';
import { createLogger } from './logger.js';

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

async function migrateOnly(config: Config) {
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config, logger);
  const client = connectDatabase(database.url, { max: 2 });
  try {
    await applyMigrations(client.db, database.url);
    console.log('Migrations applied.');
  } finally {
    await client.close();
    await database.embedded?.stop();
  }
}

async function serve(config: Config) {
  const logger = createLogger(config.logLevel);
  const hooklane = await startHooklane(config, logger);
  logger.info({ role: config.role, graphqlUrl: hooklane.graphqlUrl }, 'Hooklane started');
  if (hooklane.graphqlUrl) {
    console.log(`\nHooklane GraphQL API: ${hooklane.graphqlUrl}`);
    if (!authIsConfigured(config)) {
      const token = await signHs256Token(effectiveJwtSecret(config)!, { sub: 'dev-admin', roles: ['admin'] }, { expiresIn: '30d' });
      console.log(`Development admin token (no AUTH_* variable is set; secret kept in ${config.dataDir}):\n${token}\n`);
    }
  }
  let stopping = false;
  for (const signal of SHUTDOWN_SIGNALS) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      hooklane.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  if (process.argv[2] === 'migrate') await migrateOnly(config);
  else await serve(config);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
