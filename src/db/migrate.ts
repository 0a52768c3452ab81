import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { Logger as GraphileLogger, runMigrations } from 'graphile-worker';
import type { Database } from './client.js';

export const MIGRATIONS_FOLDER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle');

// graphile-worker logs each of its migrations; start-up prints its own summary instead.
const quietGraphileLogger = new GraphileLogger(() => () => {});

/** Applies Hooklane's drizzle-kit migrations and graphile-worker's own schema. Idempotent. */
export async function applyMigrations(db: Database, databaseUrl: string): Promise<void> {
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  await runMigrations({ connectionString: databaseUrl, logger: quietGraphileLogger });
}
