-- Two latency histograms (hooklane_latency_histogram) added bin by bin; the shorter one counts as
-- zeros past its end. PL/pgSQL, for the reason hooklane_latency_histogram gives.
CREATE OR REPLACE FUNCTION public.hooklane_add_histograms(p_left integer[], p_right integer[])
RETURNS integer[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  v_sum integer[] := coalesce(p_left, '{}');
  v_count integer := coalesce(array_length(p_right, 1), 0);
BEGIN
  FOR v_bin IN 1 .. v_count LOOP
    IF v_bin > coalesce(array_length(v_sum, 1), 0) THEN
      v_sum := v_sum || p_right[v_bin];
    ELSE
      v_sum[v_bin] := v_sum[v_bin] + p_right[v_bin];
    END IF;
  END LOOP;
  RETURN v_sum;
END $$;
