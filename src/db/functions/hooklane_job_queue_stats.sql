-- Metrics (src/observability/metrics.ts): the size and age of the due, unlocked part of the job
-- queue, read with the owner's rights; it returns two numbers and nothing of any job's payload.
CREATE OR REPLACE FUNCTION public.hooklane_job_queue_stats()
RETURNS TABLE (due_jobs bigint, oldest_due_age_seconds double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
  SELECT count(*), coalesce(extract(epoch FROM now() - min(run_at))::double precision, 0)
  FROM graphile_worker.jobs
  WHERE run_at <= now() AND locked_at IS NULL AND attempts < max_attempts;
$fn$;
REVOKE ALL ON FUNCTION public.hooklane_job_queue_stats() FROM PUBLIC;
