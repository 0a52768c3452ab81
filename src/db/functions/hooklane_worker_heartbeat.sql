-- Worker liveness: a worker pool records that it is alive (see hooklane_unlock_dead_workers).
CREATE OR REPLACE FUNCTION public.hooklane_worker_heartbeat(p_worker_id text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
  INSERT INTO public.hooklane_worker_heartbeats (worker_id) VALUES (p_worker_id)
  ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now();
$fn$;
REVOKE ALL ON FUNCTION public.hooklane_worker_heartbeat(text) FROM PUBLIC;
