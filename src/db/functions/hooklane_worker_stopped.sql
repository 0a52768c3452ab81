-- Worker liveness: a worker pool that stops cleanly leaves no heartbeat behind.
CREATE OR REPLACE FUNCTION public.hooklane_worker_stopped(p_worker_id text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
  DELETE FROM public.hooklane_worker_heartbeats WHERE worker_id = p_worker_id;
$fn$;
REVOKE ALL ON FUNCTION public.hooklane_worker_stopped(text) FROM PUBLIC;
