-- Attempts in one statement: a batch of successes, or one attempt that failed or will be retried.
-- Their rows; their deliveries' new state (`status`, `next_attempt_at`), with their claims (counted
-- or not) ended; and, from the deliveries it updated, the rollup of the current minute per
-- subscription in delivery_stats, which `stats` reads. One round trip and one implicit transaction
-- (or part of the caller's); the statement's text never changes, so it is prepared once per connection.
-- The UPDATE names the range of the deliveries' ids, sorted, by which PostgreSQL prunes the
-- partitions of deliveries when it starts: it reads only the partitions that hold them.
--
-- What the rollup counts: `deliveries` the first attempts, `succeeded` / `failed` the deliveries
-- that became SUCCEEDED / FAILED, `attempts` every attempt, `latency_histogram` the response times
-- of the attempts that got an HTTP answer, `last_success_at` / `last_failure_at` the last
-- successful / failed attempt. Each (subscription, minute) row is upserted in subscription order,
-- so two batches never wait on each other's rows in a cycle.
CREATE OR REPLACE FUNCTION public.hooklane_record_attempts(p_tenant text, p_attempts json)
RETURNS void LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_ids text[] := ARRAY(SELECT a.delivery_id FROM json_to_recordset(p_attempts) AS a(delivery_id text) ORDER BY 1);
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  WITH attempt AS MATERIALIZED (
    SELECT * FROM json_to_recordset(p_attempts) AS a(
      id text, delivery_id text, status_code integer, outcome text, error text, duration_ms integer, response_body text,
      status text, next_attempt_at timestamptz)
  ), stored AS (
    INSERT INTO delivery_attempts (id, tenant_id, delivery_id, status_code, outcome, error, duration_ms, response_body)
    SELECT a.id, p_tenant, a.delivery_id, a.status_code, a.outcome::attempt_outcome, a.error, a.duration_ms, a.response_body
    FROM attempt a
  ), moved AS (
    -- By primary key, one lookup per delivery, whatever the statistics say.
    UPDATE deliveries d SET status = a.status::delivery_status, next_attempt_at = a.next_attempt_at, claimed_until = NULL,
      counted_claim_until = NULL, attempt_count = d.attempt_count + 1, updated_at = now()
    FROM attempt a
    WHERE d.tenant_id = p_tenant AND d.id = ANY (v_ids) AND d.id >= v_ids[1] AND d.id <= v_ids[cardinality(v_ids)]
      AND a.delivery_id = d.id
    RETURNING d.subscription_id, d.attempt_count, d.status, a.outcome, a.status_code, a.duration_ms
  )
  INSERT INTO delivery_stats AS s (tenant_id, subscription_id, bucket_start, deliveries, succeeded, failed, attempts,
    latency_histogram, last_success_at, last_failure_at)
  SELECT p_tenant, m.subscription_id, date_bin('1 minute', now(), timestamptz 'epoch'),
    count(*) FILTER (WHERE m.attempt_count = 1),
    count(*) FILTER (WHERE m.status = 'SUCCEEDED'),
    count(*) FILTER (WHERE m.status = 'FAILED'),
    count(*),
    hooklane_latency_histogram(array_agg(m.duration_ms) FILTER (WHERE m.status_code IS NOT NULL)),
    CASE WHEN bool_or(m.outcome = 'SUCCESS') THEN now() END,
    CASE WHEN bool_or(m.outcome <> 'SUCCESS') THEN now() END
  FROM moved m
  GROUP BY m.subscription_id
  ORDER BY m.subscription_id
  ON CONFLICT (tenant_id, subscription_id, bucket_start) DO UPDATE SET
    deliveries = s.deliveries + excluded.deliveries,
    succeeded = s.succeeded + excluded.succeeded,
    failed = s.failed + excluded.failed,
    attempts = s.attempts + excluded.attempts,
    latency_histogram = hooklane_add_histograms(s.latency_histogram, excluded.latency_histogram),
    last_success_at = greatest(s.last_success_at, excluded.last_success_at),
    last_failure_at = greatest(s.last_failure_at, excluded.last_failure_at);
END $$;
