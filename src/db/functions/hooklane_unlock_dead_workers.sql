-- Worker liveness: graphile-worker keeps a dead process's jobs locked for four hours, so any
-- worker unlocks the jobs of pools whose heartbeat is older than p_stale_seconds, and forgets
-- those pools. Returns how many pools it declared dead.
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
REVOKE ALL ON FUNCTION public.hooklane_unlock_dead_workers(integer) FROM PUBLIC;
