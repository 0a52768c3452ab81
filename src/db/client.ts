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

export interface PoolOptions {
  max?: number;
  /** Every connection takes this role on at start-up: the application's queries then run under row-level security. */
  role?: string;
  /** Shown in pg_stat_activity; default `hooklane`. */
  applicationName?: string;
  /** Commits return before their WAL is flushed (`synchronous_commit = off`): for the worker's writes only. */
  asyncCommit?: boolean;
  /** Every transaction is read-only (`default_transaction_read_only`): for the read pool, which must never write. */
  readOnly?: boolean;
}

/**
 * A connection pool. Its options are startup parameters of each connection, so they cost no round trip.
 */
export function connectDatabase(url: string, options: PoolOptions = {}): DatabaseClient {
  const sql = postgres(url, {
    max: options.max ?? 10,
    // While the database is unreachable, fail fast with a clear error instead of hanging a request.
    connect_timeout: 5,
    onnotice: () => {},
    connection: {
      application_name: options.applicationName ?? 'hooklane',
      ...(options.role ? { role: options.role } : {}),
      ...(options.asyncCommit ? { synchronous_commit: 'off' } : {}),
      ...(options.readOnly ? { default_transaction_read_only: 'on' } : {}),
    } as Record<string, string>,
  });
  const db = drizzle(preparingStatements(sql), { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}

/**
 * Beyond this many parameters a statement is sent unnamed: only lists (`IN (...)`, multi-row
 * inserts) get that long, and each length would otherwise be one more prepared statement per
 * connection, kept until the connection closes.
 */
const MAX_PREPARED_PARAMETERS = 32;

type Unsafe = Sql['unsafe'];
type UnsafeOptions = NonNullable<Parameters<Unsafe>[2]>;

/**
 * drizzle runs its queries through postgres.js unnamed (`prepare: false`) unless given a name, and
 * postgres.js then asks the server to describe every statement that has parameters before it
 * binds them: two round trips per statement, and a parse and plan at every call. This hands
 * drizzle a client whose statements are prepared once per connection and then cost one round
 * trip, in transactions too (postgres.js keeps them per connection, keyed by their text and types).
 */
function preparingStatements<T extends Sql>(client: T): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'unsafe') {
        const unsafe: Unsafe = (query, parameters, options?: UnsafeOptions) =>
          target.unsafe(query, parameters, { ...options, prepare: (parameters?.length ?? 0) <= MAX_PREPARED_PARAMETERS });
        return unsafe;
      }
      if (property === 'begin' || property === 'savepoint') {
        return (...args: unknown[]) => {
          const work = args.pop() as (inner: Sql) => unknown;
          const open = Reflect.get(target, property, receiver) as (...rest: unknown[]) => Promise<unknown>;
          return open.call(target, ...args, (inner: Sql) => work(preparingStatements(inner)));
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Runs one unit of work against the database. Tenant-scoped stores receive one from their
 * TenantScope: inside a transaction it is that transaction; outside, each call gets its own
 * transaction with the tenant set for row-level security.
 */
export type Run = <T>(work: (db: Executor) => PromiseLike<T>) => Promise<T>;
