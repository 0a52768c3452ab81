-- Two latency histograms (hooklane_latency_histogram) added bin by bin; the shorter one counts as
-- zeros past its end.
CREATE OR REPLACE FUNCTION public.hooklane_add_histograms(p_left integer[], p_right integer[])
RETURNS integer[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(coalesce(l, 0) + coalesce(r, 0) ORDER BY i), '{}'::integer[])
  FROM unnest(p_left, p_right) WITH ORDINALITY AS pair(l, r, i)
$$;
