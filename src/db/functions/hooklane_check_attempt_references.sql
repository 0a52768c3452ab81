-- Statement trigger on delivery_attempts (delivery_attempts_references_exist): every inserted
-- attempt's (tenant_id, delivery_id) exists (SQLSTATE 23503), checked once per statement, where a
-- foreign key to the partitioned deliveries would check each row and be checked again whenever a
-- partition of deliveries is detached. The deliveries are locked FOR KEY SHARE, as a foreign key
-- locks them: a deletion of one waits for the attempt and then deletes it too
-- (hooklane_delete_dependents). The lookup names the range of the ids, sorted, by which PostgreSQL
-- prunes the partitions of deliveries when it starts. SECURITY DEFINER, like a foreign key's check.
CREATE OR REPLACE FUNCTION public.hooklane_check_attempt_references() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_tenants text[] := ARRAY(SELECT DISTINCT a.tenant_id FROM added a);
  v_ids text[] := ARRAY(SELECT DISTINCT a.delivery_id FROM added a ORDER BY 1);
  v_wanted integer;
  v_locked integer;
BEGIN
  IF cardinality(v_tenants) = 1 THEN
    -- One tenant (every insert Hooklane makes): its deliveries by primary key.
    v_wanted := cardinality(v_ids);
    SELECT count(*) INTO v_locked FROM (
      SELECT FROM deliveries d
      WHERE d.tenant_id = v_tenants[1] AND d.id = ANY (v_ids) AND d.id >= v_ids[1] AND d.id <= v_ids[cardinality(v_ids)]
      ORDER BY d.id FOR KEY SHARE) AS locked;
  ELSE
    SELECT count(*) INTO v_wanted FROM (SELECT DISTINCT a.tenant_id, a.delivery_id FROM added a) AS pairs;
    SELECT count(*) INTO v_locked FROM (
      SELECT FROM deliveries d
      WHERE d.tenant_id = ANY (v_tenants) AND d.id = ANY (v_ids)
        AND (d.tenant_id, d.id) IN (SELECT a.tenant_id, a.delivery_id FROM added a)
      ORDER BY d.tenant_id, d.id FOR KEY SHARE) AS locked;
  END IF;
  IF v_locked <> v_wanted THEN
    RAISE EXCEPTION 'an attempt refers to a delivery its tenant does not have' USING ERRCODE = 'foreign_key_violation',
      DETAIL = format('delivery_id in %s', v_ids);
  END IF;
  RETURN NULL;
END $$;
