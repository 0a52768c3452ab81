-- Response times (ms) as delivery_stats keeps them: element i (from 0) counts the times in
-- [1.2^i, 1.2^(i+1)) ms, times under 1 ms in the first, times from 1.2^63 ms (about 97 s) in the
-- last; empty bins after the last non-empty one are left out. A bin is 20% wide, so its geometric
-- middle (src/db/scoped/delivery-stats.ts) is within 10% of every time in it.
CREATE OR REPLACE FUNCTION public.hooklane_latency_histogram(p_durations_ms integer[])
RETURNS integer[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  WITH binned AS (
    SELECT least(63, floor(ln(greatest(d, 1)) / ln(1.2)))::integer AS bin FROM unnest(p_durations_ms) AS d
  )
  SELECT coalesce(array_agg((SELECT count(*)::integer FROM binned b WHERE b.bin = i) ORDER BY i), '{}'::integer[])
  FROM generate_series(0, (SELECT max(bin) FROM binned)) AS i
$$;
