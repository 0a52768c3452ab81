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
  // Several processes may start at once against one database: one migrates, the others wait.
  // `db` holds a single connection, so the lock and the migrations share a session.
  await db.execute(sql`select pg_advisory_lock(hashtext('hooklane.migrations'))`);
  try {
    await migrateHoldingLock(db, databaseUrl);
  } finally {
    await db.execute(sql`select pg_advisory_unlock(hashtext('hooklane.migrations'))`);
  }
}

async function migrateHoldingLock(db: Database, databaseUrl: string): Promise<void> {
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  await runMigrations({ connectionString: databaseUrl, logger: quietGraphileLogger });
  // graphile-worker's schema is created after ours, so what refers to it cannot live in a drizzle
  // migration. Its tables use row-level security of their own; the application role reaches them
  // only through this function, which runs with the owner's rights and does nothing but enqueue.
  await db.execute(sql.raw(`
    CREATE OR REPLACE FUNCTION public.hooklane_enqueue_jobs(specs json, preserve_run_at boolean)
    RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
      SET enable_hashjoin = off SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan AS $fn$
    BEGIN
      -- plpgsql, not sql: its statement is planned once per connection, not at every call. And no
      -- hash or merge joins: add_jobs's statements join the few new jobs to the jobs table, and
      -- their cached plans, made while the table was small, would otherwise keep scanning all of
      -- it as the queue grows (0.8 ms per publish at 2,000 queued jobs) until the next ANALYZE.
      -- Generic plans forced: PostgreSQL kept planning add_jobs's insert afresh at every call
      -- (0.3 ms per publish), judging a custom plan cheaper.
      PERFORM FROM graphile_worker.add_jobs(array(
        SELECT json_populate_record(null::graphile_worker.job_spec, spec) FROM json_array_elements(specs) AS spec
      ), preserve_run_at);
    END $fn$;
    REVOKE ALL ON FUNCTION public.hooklane_enqueue_jobs(json, boolean) FROM PUBLIC;
    DO $$
    BEGIN
      IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
        GRANT EXECUTE ON FUNCTION public.hooklane_enqueue_jobs(json, boolean) TO ${APP_ROLE};
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'cannot grant ${APP_ROLE} the right to enqueue jobs';
    END $$;`));
  // The jobs of first attempts handed over in-process (src/db/jobs.ts, HandedOffJobs), completed by
  // key once they are dealt with, with graphile-worker's complete_jobs (which leaves a job a worker
  // has locked alone). Only such jobs: the application role completes nothing else. The keys go as
  // an array so that the lookup is by the jobs' key index, whatever the length of the queue.
  await db.execute(sql.raw(`
    CREATE OR REPLACE FUNCTION public.hooklane_complete_handed_off_jobs(job_keys json)
    RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
    BEGIN
      PERFORM FROM graphile_worker.complete_jobs(array(
        SELECT id FROM graphile_worker.jobs
        WHERE key = ANY (array(SELECT json_array_elements_text(job_keys))) AND key LIKE 'handoff:%'
      ));
    END $fn$;
    REVOKE ALL ON FUNCTION public.hooklane_complete_handed_off_jobs(json) FROM PUBLIC;
    DO $$
    BEGIN
      IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
        GRANT EXECUTE ON FUNCTION public.hooklane_complete_handed_off_jobs(json) TO ${APP_ROLE};
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'cannot grant ${APP_ROLE} the right to complete handed-off jobs';
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
  await installWorkerLiveness(db);
}

/**
 * Worker liveness. graphile-worker keeps a dead process's jobs locked for four hours; workers
 * therefore record a heartbeat, and any worker unlocks the jobs of pools whose heartbeat stopped.
 */
async function installWorkerLiveness(db: Database): Promise<void> {
  await db.execute(sql.raw(`
    CREATE TABLE IF NOT EXISTS public.hooklane_worker_heartbeats (
      worker_id text PRIMARY KEY,
      heartbeat_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE OR REPLACE FUNCTION public.hooklane_worker_heartbeat(p_worker_id text)
    RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
      INSERT INTO public.hooklane_worker_heartbeats (worker_id) VALUES (p_worker_id)
      ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now();
    $fn$;
    CREATE OR REPLACE FUNCTION public.hooklane_worker_stopped(p_worker_id text)
    RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
      DELETE FROM public.hooklane_worker_heartbeats WHERE worker_id = p_worker_id;
    $fn$;
    CREATE OR REPLACE FUNCTION public.hooklane_unlock_dead_workers(p_stale_seconds integer)
    RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
    DECLARE
      dead text[];
    BEGIN
      WITH gone AS (
        DELETE FROM public.hooklane_worker_heartbeats
        WHERE heartbeat_at < now() - make_interval(secs => p_stale_seconds)
        RETURNING worker_id
      )
      SELECT array_agg(worker_id) INTO dead FROM gone;
      IF dead IS NULL THEN RETURN 0; END IF;
      PERFORM graphile_worker.force_unlock_workers(dead);
      RETURN cardinality(dead);
    END $fn$;
    REVOKE ALL ON FUNCTION public.hooklane_worker_heartbeat(text) FROM PUBLIC;
    REVOKE ALL ON FUNCTION public.hooklane_worker_stopped(text) FROM PUBLIC;
    REVOKE ALL ON FUNCTION public.hooklane_unlock_dead_workers(integer) FROM PUBLIC;
    DO $$
    BEGIN
      IF EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
        GRANT EXECUTE ON FUNCTION public.hooklane_worker_heartbeat(text) TO ${APP_ROLE};
        GRANT EXECUTE ON FUNCTION public.hooklane_worker_stopped(text) TO ${APP_ROLE};
        GRANT EXECUTE ON FUNCTION public.hooklane_unlock_dead_workers(integer) TO ${APP_ROLE};
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'cannot grant ${APP_ROLE} the worker liveness functions';
    END $$;`));
}

/** True when the application role exists and this connection may take it on. */
export async function appRoleAvailable(db: Database): Promise<boolean> {
  const rows = (await db.execute(
    sql`select pg_has_role(current_user, ${APP_ROLE}, 'MEMBER') as member from pg_roles where rolname = ${APP_ROLE}`,
  )) as unknown as { member: boolean }[];
  return rows[0]?.member === true;
}
