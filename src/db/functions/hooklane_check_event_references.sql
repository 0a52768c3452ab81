-- Statement trigger on events (events_tenant_exists): every inserted event's tenant exists
-- (SQLSTATE 23503, as a foreign key reports it), checked once per statement rather than per row.
-- The tenants are locked FOR KEY SHARE in id order, so a tenant's deletion waits for the write and
-- then deletes what it wrote. SECURITY DEFINER, like a foreign key's check: it reads past row-level
-- security.
CREATE OR REPLACE FUNCTION public.hooklane_check_event_references() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_tenants text[] := ARRAY(SELECT DISTINCT a.tenant_id FROM added a);
  v_locked integer;
BEGIN
  SELECT count(*) INTO v_locked FROM (SELECT FROM tenants t WHERE t.id = ANY (v_tenants) ORDER BY t.id FOR KEY SHARE) AS locked;
  IF v_locked <> cardinality(v_tenants) THEN
    RAISE EXCEPTION 'an event refers to a tenant that does not exist' USING ERRCODE = 'foreign_key_violation',
      DETAIL = format('tenant_id in %s', v_tenants);
  END IF;
  RETURN NULL;
END $$;
