-- Keeps one tenant's delivery_stats small, for the retention sweep: rows older than p_fold_after
-- are folded into the row of their hour (one per subscription and hour: exact for intervals of an
-- hour or more, which are all that windows reaching that far back use), and rows older than p_keep
-- are deleted. At most p_limit rows of each kind per call, so each call is a short transaction;
-- returns how many rows it folded or deleted: call again while that is not 0.
CREATE OR REPLACE FUNCTION public.hooklane_sweep_delivery_stats(
  p_tenant text, p_fold_after interval DEFAULT '7 days', p_keep interval DEFAULT '400 days', p_limit integer DEFAULT 10000)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_deleted integer;
  v_folded integer;
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  DELETE FROM delivery_stats s
  WHERE s.tenant_id = p_tenant AND (s.subscription_id, s.bucket_start) IN (
    SELECT o.subscription_id, o.bucket_start FROM delivery_stats o
    WHERE o.tenant_id = p_tenant AND o.bucket_start < now() - p_keep
    LIMIT p_limit);
  GET DIAGNOSTICS v_deleted = ROW_COUNT;

  WITH picked AS (
    SELECT o.subscription_id, o.bucket_start FROM delivery_stats o
    WHERE o.tenant_id = p_tenant AND o.bucket_start < now() - p_fold_after
      AND o.bucket_start <> date_bin('1 hour', o.bucket_start, timestamptz 'epoch')
    LIMIT p_limit
  ), gone AS (
    DELETE FROM delivery_stats s USING picked p
    WHERE s.tenant_id = p_tenant AND s.subscription_id = p.subscription_id AND s.bucket_start = p.bucket_start
    RETURNING s.*
  ), hours AS (
    SELECT g.subscription_id, date_bin('1 hour', g.bucket_start, timestamptz 'epoch') AS hour,
      sum(g.deliveries)::integer AS deliveries, sum(g.succeeded)::integer AS succeeded, sum(g.failed)::integer AS failed,
      sum(g.attempts)::integer AS attempts, max(g.last_success_at) AS last_success_at, max(g.last_failure_at) AS last_failure_at,
      count(*) AS folded
    FROM gone g GROUP BY 1, 2
  ), bins AS (
    -- Each histogram has every bin from the first to its last: so have their sums.
    SELECT g.subscription_id, date_bin('1 hour', g.bucket_start, timestamptz 'epoch') AS hour, b.i, sum(b.n)::integer AS n
    FROM gone g, unnest(g.latency_histogram) WITH ORDINALITY AS b(n, i) GROUP BY 1, 2, 3
  ), histograms AS (
    SELECT b.subscription_id, b.hour, array_agg(b.n ORDER BY b.i) AS latency_histogram FROM bins b GROUP BY 1, 2
  ), upserted AS (
    INSERT INTO delivery_stats AS s (tenant_id, subscription_id, bucket_start, deliveries, succeeded, failed, attempts,
      latency_histogram, last_success_at, last_failure_at)
    SELECT p_tenant, h.subscription_id, h.hour, h.deliveries, h.succeeded, h.failed, h.attempts,
      coalesce(l.latency_histogram, '{}'::integer[]), h.last_success_at, h.last_failure_at
    FROM hours h LEFT JOIN histograms l ON l.subscription_id = h.subscription_id AND l.hour = h.hour
    ORDER BY h.subscription_id, h.hour
    ON CONFLICT (tenant_id, subscription_id, bucket_start) DO UPDATE SET
      deliveries = s.deliveries + excluded.deliveries,
      succeeded = s.succeeded + excluded.succeeded,
      failed = s.failed + excluded.failed,
      attempts = s.attempts + excluded.attempts,
      latency_histogram = hooklane_add_histograms(s.latency_histogram, excluded.latency_histogram),
      last_success_at = greatest(s.last_success_at, excluded.last_success_at),
      last_failure_at = greatest(s.last_failure_at, excluded.last_failure_at)
  )
  SELECT coalesce(sum(h.folded), 0)::integer INTO v_folded FROM hours h;
  RETURN v_deleted + v_folded;
END $$;
