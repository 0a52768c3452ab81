-- Completes, by key, the jobs of first attempts handed over in-process (src/db/jobs.ts,
-- HandedOffJobs) once they are dealt with, with graphile-worker's complete_jobs (which leaves a job
-- a worker has locked alone). Only such jobs: the application role completes nothing else. The
-- keys go as an array so that the lookup is by the jobs' key index, whatever the queue's length.
CREATE OR REPLACE FUNCTION public.hooklane_complete_handed_off_jobs(job_keys json)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
BEGIN
  PERFORM FROM graphile_worker.complete_jobs(array(
    SELECT id FROM graphile_worker.jobs
    WHERE key = ANY (array(SELECT json_array_elements_text(job_keys))) AND key LIKE 'handoff:%'
  ));
END $fn$;
REVOKE ALL ON FUNCTION public.hooklane_complete_handed_off_jobs(json) FROM PUBLIC;
