-- The partitions of events, deliveries and delivery_attempts (and any such table left detached by
-- a retention sweep that stopped half way): each with its bounds, as ids and as times. A time
-- window is named for its start, `<table>_pYYYYMMDD_HHMMSS` (UTC); `<table>_before` holds every id
-- older than the first window, `<table>_beyond` the ids from `<prefix>_1` up, which are no time
-- Hooklane's ids reach. An id's time is its first 12 hex digits after the prefix: the UUIDv7
-- milliseconds (src/ids.ts).
CREATE OR REPLACE FUNCTION public.hooklane_partition_windows()
RETURNS TABLE (
  table_name text, partition_name text, window_name text, from_id text, to_id text, from_at timestamptz, to_at timestamptz,
  attached boolean, detach_pending boolean
) LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $fn$
  WITH found AS (
    SELECT parent.relname::text AS table_name, child.relname::text AS partition_name,
      pg_get_expr(child.relpartbound, child.oid) AS bound, true AS attached, i.inhdetachpending AS detach_pending
    FROM pg_inherits i
    JOIN pg_class child ON child.oid = i.inhrelid
    JOIN pg_class parent ON parent.oid = i.inhparent
    WHERE parent.relnamespace = 'public'::regnamespace AND parent.relname IN ('events', 'deliveries', 'delivery_attempts')
    UNION ALL
    SELECT substring(c.relname FROM '^(events|deliveries|delivery_attempts)_p\d{8}_\d{6}$'), c.relname::text, NULL, false, false
    FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
      AND c.relname ~ '^(events|deliveries|delivery_attempts)_p\d{8}_\d{6}$'
  ), bounds AS (
    SELECT f.*, substring(f.partition_name FROM '_(p\d{8}_\d{6}|before|beyond)$') AS window_name,
      substring(f.bound FROM 'FROM \(''([^'']*)''\)') AS from_id, substring(f.bound FROM 'TO \(''([^'']*)''\)') AS to_id
    FROM found f
  )
  SELECT b.table_name, b.partition_name, b.window_name, b.from_id, b.to_id,
    CASE WHEN b.from_id ~ '^[a-z]+_[0-9a-f]{12}$' THEN to_timestamp(('x' || lpad(right(b.from_id, 12), 16, '0'))::bit(64)::bigint / 1000.0) END,
    CASE WHEN b.to_id ~ '^[a-z]+_[0-9a-f]{12}$' THEN to_timestamp(('x' || lpad(right(b.to_id, 12), 16, '0'))::bit(64)::bigint / 1000.0) END,
    b.attached, b.detach_pending
  FROM bounds b
  ORDER BY b.table_name, b.from_id NULLS FIRST, b.partition_name;
$fn$;
