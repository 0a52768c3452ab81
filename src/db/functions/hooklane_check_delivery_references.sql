-- Statement trigger on deliveries (deliveries_references_exist): every inserted delivery's
-- (tenant_id, event_id) and (tenant_id, subscription_id) exist (SQLSTATE 23503), so no delivery
-- points at another tenant's rows. Checked once per statement rather than per row; a publish's own
-- write (hooklane_write_event_columns) vouches for its insert and the trigger's condition skips it.
-- SECURITY DEFINER, like a foreign key's check: it reads past row-level security. Each row is
-- looked up by its primary key, (tenant_id, id); an event in the partition its id names.
CREATE OR REPLACE FUNCTION public.hooklane_check_delivery_references() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
DECLARE
  v_missing record;
BEGIN
  -- Each event and subscription once, however many deliveries name it (a fan-out of 10 names each
  -- event 10 times and each subscription 1,000 times in a batch).
  SELECT r.tenant_id, r.event_id AS id, 'event' AS kind INTO v_missing
  FROM (SELECT DISTINCT a.tenant_id, a.event_id FROM added a) r
  WHERE NOT EXISTS (SELECT FROM events e WHERE e.tenant_id = r.tenant_id AND e.id = r.event_id)
  LIMIT 1;
  IF NOT FOUND THEN
    SELECT r.tenant_id, r.subscription_id AS id, 'subscription' AS kind INTO v_missing
    FROM (SELECT DISTINCT a.tenant_id, a.subscription_id FROM added a) r
    WHERE NOT EXISTS (SELECT FROM subscriptions s WHERE s.tenant_id = r.tenant_id AND s.id = r.subscription_id)
    LIMIT 1;
  END IF;
  IF FOUND THEN
    RAISE EXCEPTION 'a delivery refers to % %, which tenant % does not have', v_missing.kind, v_missing.id, v_missing.tenant_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
