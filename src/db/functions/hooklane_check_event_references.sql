-- Statement trigger on events (events_tenant_exists): every inserted event's tenant exists
-- (SQLSTATE 23503, as a foreign key reports it), checked once per statement rather than per row.
-- The tenants are locked FOR KEY SHARE in id order, so a tenant's deletion waits for the write and
-- then deletes what it wrote. An event's idempotency key is recorded in event_idempotency_keys,
-- where it is unique per tenant across every partition of events: a key the tenant used for
-- another event is refused (SQLSTATE 23505, as a unique index reports it). A publish
-- (hooklane_write_event_columns) has recorded its keys already, in the same statement, and writes
-- only the events whose key was free. SECURITY DEFINER, like a foreign key's check: it reads past
-- row-level security.
CREATE OR REPLACE FUNCTION public.hooklane_check_event_references() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_tenants text[] := ARRAY(SELECT DISTINCT a.tenant_id FROM added a);
  v_locked integer;
  v_taken record;
BEGIN
  SELECT count(*) INTO v_locked FROM (SELECT FROM tenants t WHERE t.id = ANY (v_tenants) ORDER BY t.id FOR KEY SHARE) AS locked;
  IF v_locked <> cardinality(v_tenants) THEN
    RAISE EXCEPTION 'an event refers to a tenant that does not exist' USING ERRCODE = 'foreign_key_violation',
      DETAIL = format('tenant_id in %s', v_tenants);
  END IF;
  IF EXISTS (SELECT FROM added a WHERE a.idempotency_key IS NOT NULL) THEN
    INSERT INTO event_idempotency_keys (tenant_id, idempotency_key, event_id)
    SELECT a.tenant_id, a.idempotency_key, a.id FROM added a WHERE a.idempotency_key IS NOT NULL
    ORDER BY a.tenant_id, a.idempotency_key
    ON CONFLICT DO NOTHING;
    SELECT a.tenant_id, a.idempotency_key INTO v_taken
    FROM added a JOIN event_idempotency_keys k ON k.tenant_id = a.tenant_id AND k.idempotency_key = a.idempotency_key
    WHERE k.event_id <> a.id
    LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'tenant % used the idempotency key % for another event', v_taken.tenant_id, v_taken.idempotency_key
        USING ERRCODE = 'unique_violation', CONSTRAINT = 'event_idempotency_keys_pkey';
    END IF;
  END IF;
  RETURN NULL;
END $$;
