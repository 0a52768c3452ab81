import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';
import { connectDatabase } from '../../src/db/client.js';
import { applyMigrations } from '../../src/db/migrate.js';
import type { RetentionSettings } from '../../src/config.js';

/** Creates a fresh, empty database on the test server and returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const serverUrl = inject('postgresUrl');
  const name = `hooklane_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database with every migration and SQL function applied, as a start would; returns its URL. */
export async function createMigratedDatabase(options: { retention?: RetentionSettings } = {}): Promise<string> {
  const url = await createTestDatabase();
  const migrator = connectDatabase(url, { max: 1 });
  try {
    await applyMigrations(migrator.db, url, options);
  } finally {
    await migrator.close();
  }
  return url;
}
