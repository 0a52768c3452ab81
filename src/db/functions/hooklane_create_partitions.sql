-- Creates the time windows of events, deliveries and delivery_attempts ahead of time: contiguous
-- from the newest window's end until three widths past p_now, the same bounds in all three tables
-- (an event's deliveries and their attempts are in its window, bar the few deliveries made later).
-- Returns how many windows it made. Called at every start, by every retention sweep, and by API
-- processes between sweeps (src/retention), so publishing always has a partition to write to.
--
-- The width is about an eighth of the longest retention (RETENTION, every tenant's own), rounded
-- down to a round duration from 1s to 7d, and at least two sweep intervals: a window is dropped
-- whole once it ends before every tenant's horizon, so a row lives at most its retention plus one
-- width (and a sweep interval), while the partitions stay few (about ten per retention).
-- A gap since the newest window (nothing ran for a while) becomes one window up to now.
--
-- Each partition is created standalone and attached: ATTACH takes SHARE UPDATE EXCLUSIVE on the
-- parent, which publishing and delivery never wait for (a partition created in its parent would take
-- ACCESS EXCLUSIVE). SECURITY DEFINER: the partitions belong to the tables' owner; the application
-- role reaches them only through the parents. Serialized by an advisory lock.
CREATE OR REPLACE FUNCTION public.hooklane_create_partitions(p_default_retention_ms bigint, p_sweep_interval_ms bigint, p_now timestamptz)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET lock_timeout = '2s' AS $$
DECLARE
  v_widths integer[] := ARRAY[1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
  -- Never ahead of the clock by more than a day, whatever the caller says.
  v_now_ms bigint := (extract(epoch FROM least(p_now, now() + interval '1 day')) * 1000)::bigint;
  v_longest_ms bigint;
  v_width_ms bigint;
  v_until_ms bigint;
  v_from_ms bigint;
  v_to_ms bigint;
  v_suffix text;
  v_created integer := 0;
  v_table record;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('hooklane.partitions'));
  SELECT greatest(p_default_retention_ms, coalesce(max(t.quota_retention_ms), 0)) INTO v_longest_ms FROM tenants t;
  SELECT 1000 * greatest(
    coalesce((SELECT max(w) FROM unnest(v_widths) AS w WHERE w::bigint * 8000 <= v_longest_ms), 1),
    coalesce((SELECT min(w) FROM unnest(v_widths) AS w WHERE w::bigint * 1000 >= 2 * p_sweep_interval_ms), 604800))
  INTO v_width_ms;
  v_until_ms := v_now_ms + 3 * v_width_ms;
  SELECT (extract(epoch FROM max(w.to_at)) * 1000)::bigint INTO v_to_ms
  FROM hooklane_partition_windows() AS w WHERE w.table_name = 'events' AND w.attached AND w.window_name <> 'beyond';
  IF v_to_ms IS NULL THEN
    RAISE EXCEPTION 'events has no time window to continue from (its partition events_before is missing)';
  END IF;
  WHILE v_to_ms < v_until_ms LOOP
    v_from_ms := v_to_ms;
    v_to_ms := CASE WHEN v_from_ms < v_now_ms - v_width_ms THEN v_now_ms - v_now_ms % 1000 ELSE v_from_ms + v_width_ms END;
    v_suffix := 'p' || to_char(to_timestamp(v_from_ms / 1000.0) AT TIME ZONE 'UTC', 'YYYYMMDD_HH24MISS');
    FOR v_table IN SELECT * FROM (VALUES ('events', 'evt', ''), ('deliveries', 'dlv', ' WITH (fillfactor = 70)'), ('delivery_attempts', 'dlv', ''))
      AS t(name, prefix, storage) LOOP
      EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)%s',
        v_table.name || '_' || v_suffix, v_table.name, v_table.storage);
      EXECUTE format('ALTER TABLE public.%I ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
        v_table.name, v_table.name || '_' || v_suffix,
        v_table.prefix || '_' || lpad(to_hex(v_from_ms), 12, '0'), v_table.prefix || '_' || lpad(to_hex(v_to_ms), 12, '0'));
    END LOOP;
    v_created := v_created + 1;
  END LOOP;
  RETURN v_created;
END $$;
REVOKE ALL ON FUNCTION public.hooklane_create_partitions(bigint, bigint, timestamptz) FROM PUBLIC;
