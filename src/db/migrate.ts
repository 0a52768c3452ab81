import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { Logger as GraphileLogger, runMigrations } from 'graphile-worker';
import { findInErrorChain } from '../errors.js';
import type { Database } from './client.js';
import { DEFAULT_RETENTION, type RetentionSettings } from '../config.js';

const moduleFolder = path.dirname(fileURLToPath(import.meta.url));

/** drizzle-kit's migrations: schema changes only. At the repository's root, beside src/ (or dist/). */
export const MIGRATIONS_FOLDER = path.resolve(moduleFolder, '../../drizzle');

/**
 * Hooklane's SQL functions, one file each, named for the function it defines: the one current
 * definition of each. Beside this module, so a build must copy the folder next to the compiled file.
 */
export const FUNCTIONS_FOLDER = path.resolve(moduleFolder, 'functions');

/**
 * Functions that earlier schemas defined and nothing calls any more: dropped where they exist, so
 * that an upgraded database holds the same functions as a new one. A function whose arguments
 * change gets its old signature listed here (CREATE OR REPLACE would keep it as an overload).
 */
export const RETIRED_FUNCTIONS = [
  'hooklane_write_events(text, json, json, json, json, boolean, json)',
  'hooklane_write_events(text, json, json, json, json, boolean, json, bigint)',
  'hooklane_claim_deliveries(text, json, integer)',
  'hooklane_write_event_columns(text, text, text, text, text, jsonb, text, text, text, text, jsonb, json, boolean, json, bigint)',
  'hooklane_record_successes(text, json)',
];

/** PostgreSQL's invalid_function_definition: among others, CREATE OR REPLACE changing a result type. */
const INVALID_FUNCTION_DEFINITION = '42P13';

// graphile-worker logs each of its migrations; start-up prints its own summary instead.
const quietGraphileLogger = new GraphileLogger(() => () => {});

/** The role the application's connections take on: row-level security applies to it. */
export const APP_ROLE = 'hooklane_app';

/** A database whose migrations stop before the baseline: it needs the migrations the baseline replaced. */
export class SchemaTooOldError extends Error {
  constructor(lastApplied: number, baseline: { tag: string; when: number }) {
    super(
      `the database's last migration (created_at ${lastApplied}) is older than ${baseline.tag} (${baseline.when}): ` +
        'start a Hooklane release from before the migrations were squashed once, to bring it to that schema, then this one',
    );
    this.name = 'SchemaTooOldError';
  }
}

export interface SqlFunctionFile {
  /** The function's name: the file's name without `.sql`. */
  name: string;
  sql: string;
  /** A trigger function (RETURNS trigger): created before the migrations too, see below. */
  returnsTrigger: boolean;
}

/** The function files, by name. Each must define the function it is named for. */
export function readFunctionFiles(folder: string = FUNCTIONS_FOLDER): SqlFunctionFile[] {
  return readdirSync(folder)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => {
      const name = file.slice(0, -'.sql'.length);
      const text = readFileSync(path.join(folder, file), 'utf8');
      // The names go into the grants' statement below: plain identifiers only.
      if (!/^hooklane_[a-z0-9_]+$/.test(name) || !text.includes(`CREATE OR REPLACE FUNCTION public.${name}(`)) {
        throw new Error(`${path.join(folder, file)} must define the function public.${name} with CREATE OR REPLACE FUNCTION`);
      }
      return { name, sql: text, returnsTrigger: /\bRETURNS\s+trigger\b/i.test(text) };
    });
}

interface Journal {
  entries: { tag: string; when: number }[];
}

/**
 * Brings the database to the current schema and functions; idempotent, and run at every start as
 * the owner of the schema. Under an advisory lock: several processes may start at once against
 * one database, one migrates and the others wait. `db` holds a single connection, so the lock, the
 * migrations and the functions share a session. In order:
 *
 * 1. The trigger functions, with their bodies unchecked (only the names must exist): a migration
 *    that creates a trigger names its function, and a new database has none yet.
 * 2. drizzle-kit's migrations (schema only). drizzle's migrator runs every migration whose journal
 *    `when` is later than the `created_at` of the last row in drizzle.__drizzle_migrations. The
 *    first migration, 0000_baseline, is the squash of the migrations 0000-0020 that earlier
 *    releases ran, and carries the `when` of the last of them: a new database runs it, a database
 *    that ran 0020 has a row with that `created_at` and skips it, and both run any later one.
 *    A database stopped before 0020 would run the baseline on top of its tables: it is refused.
 * 3. graphile-worker's schema, which some functions refer to.
 * 4. In one transaction, every function file (CREATE OR REPLACE, bodies checked; see
 *    createOrReplaceFunction), the retired functions dropped, the application role's right to
 *    call each function that is not a trigger function, and its rights on the tables
 *    (APP_TABLE_PRIVILEGES), so that a role an operator creates or grants after the migrations
 *    ran gets them at the next start.
 * 5. The time windows of the partitioned tables, ahead of now (hooklane_create_partitions), for
 *    the retention in force: publishing has a partition to write to from the first moment.
 * 6. `afterMigrations`, still under the lock: data upgrades that need the application (start-up
 *    seals secrets again with SECRETS_KEY, see reseal-secrets.ts).
 */
export async function applyMigrations(
  db: Database,
  databaseUrl: string,
  options: { retention?: RetentionSettings; afterMigrations?: (db: Database) => Promise<unknown> } = {},
): Promise<void> {
  const retention = options.retention ?? DEFAULT_RETENTION;
  const functions = readFunctionFiles();
  await db.execute(sql`select pg_advisory_lock(hashtext('hooklane.migrations'))`);
  try {
    await refuseSchemaOlderThanBaseline(db);
    await db.transaction(async (tx) => {
      await tx.execute(sql`set local check_function_bodies = off`);
      for (const fn of functions.filter((f) => f.returnsTrigger)) await tx.execute(sql.raw(fn.sql));
    });
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
    await runMigrations({ connectionString: databaseUrl, logger: quietGraphileLogger });
    await db.transaction(async (tx) => {
      for (const fn of functions) await createOrReplaceFunction(tx, fn);
      for (const signature of RETIRED_FUNCTIONS) await tx.execute(sql.raw(`DROP FUNCTION IF EXISTS public.${signature}`));
      await tx.execute(sql.raw(grantCallsToAppRole(functions.map((f) => f.name))));
      await tx.execute(sql.raw(grantTablesToAppRole()));
    });
    await db.execute(
      sql`select hooklane_create_partitions(${retention.defaultMs}::bigint, ${retention.sweepIntervalMs}::bigint, now())`,
    );
    await options.afterMigrations?.(db);
  } finally {
    await db.execute(sql`select pg_advisory_unlock(hashtext('hooklane.migrations'))`);
  }
}

/**
 * CREATE OR REPLACE keeps a function's result columns: a file whose RETURNS TABLE changed is
 * refused on a database that has the older definition. Then the function is dropped (every
 * overload of its name: any other is retired anyway) and created anew, in the migration's
 * transaction, so a caller sees the old function or the new one, never neither.
 */
async function createOrReplaceFunction(tx: Pick<Database, 'execute' | 'transaction'>, fn: SqlFunctionFile): Promise<void> {
  try {
    await tx.transaction(async (savepoint) => {
      await savepoint.execute(sql.raw(fn.sql));
    });
  } catch (error) {
    if (!findInErrorChain(error, ({ code }) => (code === INVALID_FUNCTION_DEFINITION ? true : undefined))) throw error;
    await tx.execute(sql.raw(`
      DO $drop$
      DECLARE
        existing regprocedure;
      BEGIN
        FOR existing IN SELECT p.oid::regprocedure FROM pg_proc p
          WHERE p.pronamespace = 'public'::regnamespace AND p.proname = '${fn.name}'
        LOOP
          EXECUTE format('DROP FUNCTION %s', existing);
        END LOOP;
      END $drop$;`));
    await tx.execute(sql.raw(fn.sql));
  }
}

async function refuseSchemaOlderThanBaseline(db: Database): Promise<void> {
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as Journal;
  const baseline = journal.entries[0]!;
  const [state] = (await db.execute(
    sql`select to_regclass('drizzle.__drizzle_migrations') is not null as tracked`,
  )) as unknown as { tracked: boolean }[];
  if (!state?.tracked) return;
  const [last] = (await db.execute(
    sql`select max(created_at)::text as created_at from drizzle.__drizzle_migrations`,
  )) as unknown as { created_at: string | null }[];
  if (last?.created_at != null && Number(last.created_at) < baseline.when) {
    throw new SchemaTooOldError(Number(last.created_at), baseline);
  }
}

/** EXECUTE for the application role on each named function but trigger functions, which no one calls. */
function grantCallsToAppRole(names: string[]): string {
  return `
    DO $grants$
    DECLARE
      callable regprocedure;
    BEGIN
      IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
        FOR callable IN
          SELECT p.oid::regprocedure FROM pg_proc p
          WHERE p.pronamespace = 'public'::regnamespace AND p.prorettype <> 'trigger'::regtype
            AND p.proname = ANY (ARRAY[${names.map((name) => `'${name}'`).join(', ')}]::text[])
        LOOP
          EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO ${APP_ROLE}', callable);
        END LOOP;
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'cannot grant ${APP_ROLE} the right to call Hooklane''s functions';
    END $grants$;`;
}

/**
 * The application role's rights on the tables of the public schema: every tenant table in full,
 * the platform's audit log to read and append. hooklane_worker_heartbeats is left out: the role
 * reaches it only through SECURITY DEFINER functions. (test/db/managed-postgres.test.ts keeps this in
 * step with the schema.)
 */
export const APP_TABLE_PRIVILEGES: Readonly<Record<string, readonly string[]>> = {
  tenants: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  tenant_usage: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  audit_log: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  event_types: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  subscriptions: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  events: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  event_idempotency_keys: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  deliveries: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  delivery_attempts: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  delivery_stats: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  platform_audit_log: ['SELECT', 'INSERT'],
};

/**
 * When the application role exists: membership in it for the migrating role (which needs
 * CREATEROLE, or ADMIN OPTION on the role, to grant it; without, an operator runs the GRANT) and
 * the role's rights on the schema and the tables. Only what is missing is granted.
 */
function grantTablesToAppRole(): string {
  const wanted = Object.entries(APP_TABLE_PRIVILEGES)
    .flatMap(([table, privileges]) => privileges.map((privilege) => `('${table}', '${privilege}')`))
    .join(', ');
  return `
    DO $grants$
    DECLARE
      wanted record;
    BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
        RETURN;
      END IF;
      BEGIN
        IF NOT pg_has_role(current_user, '${APP_ROLE}', 'MEMBER') THEN
          EXECUTE format('GRANT ${APP_ROLE} TO %I', current_user);
        END IF;
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'cannot grant ${APP_ROLE} to %: row-level security applies only once an operator grants it', current_user;
      END;
      IF NOT has_schema_privilege('${APP_ROLE}', 'public', 'USAGE') THEN
        GRANT USAGE ON SCHEMA public TO ${APP_ROLE};
      END IF;
      FOR wanted IN SELECT * FROM (VALUES ${wanted}) AS w(table_name, privilege) LOOP
        IF NOT has_table_privilege('${APP_ROLE}', format('public.%I', wanted.table_name), wanted.privilege) THEN
          EXECUTE format('GRANT %s ON public.%I TO ${APP_ROLE}', wanted.privilege, wanted.table_name);
        END IF;
      END LOOP;
    END $grants$;`;
}

/** True when the application role exists and this connection may take it on. */
export async function appRoleAvailable(db: Database): Promise<boolean> {
  const rows = (await db.execute(
    sql`select pg_has_role(current_user, ${APP_ROLE}, 'MEMBER') as member from pg_roles where rolname = ${APP_ROLE}`,
  )) as unknown as { member: boolean }[];
  return rows[0]?.member === true;
}
