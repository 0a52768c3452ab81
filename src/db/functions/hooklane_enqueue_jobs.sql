-- Enqueues graphile-worker jobs (each a job_spec as JSON) for the application role, which cannot
-- touch graphile-worker's tables: it runs with the owner's rights and does nothing but enqueue.
-- plpgsql, not sql, so that its statement is planned once per connection, not at every call.
-- No hash or merge joins: add_jobs's statements join the few new jobs to the jobs table, and their
-- cached plans, made while the table was small, would otherwise keep scanning all of it as the
-- queue grows, until the next ANALYZE. Generic plans are forced because PostgreSQL otherwise keeps
-- planning add_jobs's insert afresh at every call, judging a custom plan cheaper.
CREATE OR REPLACE FUNCTION public.hooklane_enqueue_jobs(specs json, preserve_run_at boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  SET enable_hashjoin = off SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
  PERFORM FROM graphile_worker.add_jobs(array(
    SELECT json_populate_record(null::graphile_worker.job_spec, spec) FROM json_array_elements(specs) AS spec
  ), preserve_run_at);
END $fn$;
REVOKE ALL ON FUNCTION public.hooklane_enqueue_jobs(json, boolean) FROM PUBLIC;
