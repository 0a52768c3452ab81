-- Response times (ms) as delivery_stats keeps them: element i (from 1) counts the times in
-- [1.2^(i-1), 1.2^i) ms, times under 1 ms in the first, times from 1.2^63 ms (about 97 s) in the
-- 64th and last; empty bins after the last non-empty one are left out. A bin is 20% wide, so its
-- geometric middle (latencyOfBin in src/db/scoped/delivery-stats.ts) is within 10% of every time in
-- it. PL/pgSQL, whose plans last the session: a SQL function that is not inlined is planned again
-- at every statement that calls it.
CREATE OR REPLACE FUNCTION public.hooklane_latency_histogram(p_durations_ms integer[])
RETURNS integer[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  v_histogram integer[] := '{}';
  v_duration integer;
  v_bin integer;
BEGIN
  FOREACH v_duration IN ARRAY coalesce(p_durations_ms, '{}') LOOP
    v_bin := least(63, floor(ln(greatest(v_duration, 1)) / ln(1.2)))::integer + 1;
    WHILE coalesce(array_length(v_histogram, 1), 0) < v_bin LOOP
      v_histogram := v_histogram || 0;
    END LOOP;
    v_histogram[v_bin] := v_histogram[v_bin] + 1;
  END LOOP;
  RETURN v_histogram;
END $$;
