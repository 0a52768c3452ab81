-- One bounded batch of the retention sweep's deletion within partitions (src/retention): up to
-- p_limit of a tenant's events with an id between p_after_id and p_before_id (the id of the
-- tenant's horizon) and created before p_before_at, in id order, are deleted with their deliveries,
-- attempts and idempotency keys (hooklane_delete_dependents), except those with a delivery still
-- PENDING or HELD, which stay until it ends. Returns how many it examined and deleted, and the last
-- id examined, where the next batch starts. Each statement is planned with its ids as constants
-- (custom plans), so it opens only the partitions that hold them.
CREATE OR REPLACE FUNCTION public.hooklane_expire_events(
  p_tenant text, p_after_id text, p_before_id text, p_before_at timestamptz, p_limit integer
) RETURNS TABLE (examined integer, deleted integer, last_id text)
LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off SET plan_cache_mode = force_custom_plan AS $$
DECLARE
  v_ids text[];
  v_kept text[];
  v_deleted integer;
BEGIN
  v_ids := ARRAY(
    SELECT e.id FROM events e
    WHERE e.tenant_id = p_tenant AND e.id > p_after_id AND e.id < p_before_id AND e.created_at < p_before_at
    ORDER BY e.id LIMIT p_limit);
  IF cardinality(v_ids) = 0 THEN
    RETURN QUERY SELECT 0, 0, NULL::text;
    RETURN;
  END IF;
  -- `status::text`: by the events' index, not the partial indexes of PENDING or HELD deliveries.
  v_kept := ARRAY(
    SELECT DISTINCT d.event_id FROM deliveries d
    WHERE d.event_id = ANY (v_ids) AND d.tenant_id = p_tenant AND d.status::text IN ('PENDING', 'HELD'));
  DELETE FROM events e WHERE e.tenant_id = p_tenant AND e.id = ANY (v_ids) AND e.id <> ALL (v_kept);
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  RETURN QUERY SELECT cardinality(v_ids), v_deleted, v_ids[cardinality(v_ids)];
END $$;
