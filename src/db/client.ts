import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres, { type Sql } from 'postgres';
import * as schema from './schema.js';

export type Database = PostgresJsDatabase<typeof schema>;
/** A database handle or a transaction inside one: tenant-scoped queries accept either. */
export type Executor = Database | Parameters<Parameters<Database['transaction']>[0]>[0];

export interface DatabaseClient {
  sql: Sql;
  db: Database;
  close(): Promise<void>;
}

/**
 * A connection pool. With `role`, every connection takes that role on at start-up (a startup
 * parameter, so it costs no round trip): the application's queries then run under row-level security.
 */
export function connectDatabase(url: string, options: { max?: number; role?: string } = {}): DatabaseClient {
  const sql = postgres(url, {
    max: options.max ?? 10,
    // While the database is unreachable, fail fast with a clear error instead of hanging a request.
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: 'hooklane', ...(options.role ? { role: options.role } : {}) } as Record<string, string>,
  });
  const db = drizzle(sql, { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}

/**
 * Runs one unit of work against the database. Tenant-scoped stores receive one from their
 * TenantScope: inside a transaction it is that transaction; outside, each call gets its own
 * transaction with the tenant set for row-level security.
 */
export type Run = <T>(work: (db: Executor) => PromiseLike<T>) => Promise<T>;
