import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { Logger as GraphileLogger, runMigrations } from 'graphile-worker';
import type { Database } from './client.js';

export const MIGRATIONS_FOLDER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle');

// graphile-worker logs each of its migrations; start-up prints its own summary instead.
const quietGraphileLogger = new GraphileLogger(() => () => {});

/** The role the application's connections take on: row-level security applies to it. */
export const APP_ROLE = 'hooklane_app';

/**
 * Applies Hooklane's drizzle-kit migrations and graphile-worker's own schema, then lets the
 * application role enqueue jobs. Idempotent; runs as the owner of the schema.
 */
export async function applyMigrations(db: Database, databaseUrl: string): Promise<void> {
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  await runMigrations({ connectionString: databaseUrl, logger: quietGraphileLogger });
  // graphile-worker's schema is created after ours, so what refers to it cannot live in a drizzle
  // migration. Its tables use row-level security of their own; the application role reaches them
  // only through this function, which runs with the owner's rights and does nothing but enqueue.
  await db.execute(sql.raw(`
    CREATE OR REPLACE FUNCTION public.hooklane_enqueue_jobs(specs json, preserve_run_at boolean)
    RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
      SELECT FROM graphile_worker.add_jobs(array(
        SELECT json_populate_record(null::graphile_worker.job_spec, spec) FROM json_array_elements(specs) AS spec
      ), preserve_run_at);
    $fn$;
    REVOKE ALL ON FUNCTION public.hooklane_enqueue_jobs(json, boolean) FROM PUBLIC;
    DO $$
    BEGIN
      IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
        GRANT EXECUTE ON FUNCTION public.hooklane_enqueue_jobs(json, boolean) TO ${APP_ROLE};
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'cannot grant ${APP_ROLE} the right to enqueue jobs';
    END $$;`));
  // Metrics (src/observability/metrics.ts): the size and age of the due, unlocked part of the
  // queue, read with the owner's rights; it returns two numbers and nothing of any job's payload.
  await db.execute(sql.raw(`
    CREATE OR REPLACE FUNCTION public.hooklane_job_queue_stats()
    RETURNS TABLE (due_jobs bigint, oldest_due_age_seconds double precision)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
      SELECT count(*), coalesce(extract(epoch FROM now() - min(run_at))::double precision, 0)
      FROM graphile_worker.jobs
      WHERE run_at <= now() AND locked_at IS NULL AND attempts < max_attempts;
    $fn$;
    REVOKE ALL ON FUNCTION public.hooklane_job_queue_stats() FROM PUBLIC;
    DO $$
    BEGIN
      IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
        GRANT EXECUTE ON FUNCTION public.hooklane_job_queue_stats() TO ${APP_ROLE};
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'cannot grant ${APP_ROLE} the right to read queue statistics';
    END $$;`));
}

/** True when the application role exists and this connection may take it on. */
export async function appRoleAvailable(db: Database): Promise<boolean> {
  const rows = (await db.execute(
    sql`select pg_has_role(current_user, ${APP_ROLE}, 'MEMBER') as member from pg_roles where rolname = ${APP_ROLE}`,
  )) as unknown as { member: boolean }[];
  return rows[0]?.member === true;
}
