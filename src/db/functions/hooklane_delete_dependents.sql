-- Statement trigger on tenants, subscriptions, events and deliveries (tenants_delete_events,
-- subscriptions_delete_deliveries, events_delete_deliveries, deliveries_delete_attempts): what
-- hangs from deleted rows goes with them, a tenant's events, a subscription's or an event's
-- deliveries and a subscription's delivery_stats rows (a tenant's go with its subscriptions), an
-- event's idempotency key, a delivery's attempts. One function for them all, by the table that
-- fired. SECURITY DEFINER: a deletion removes every dependent row, whatever row-level security
-- shows the deleting role.
CREATE OR REPLACE FUNCTION public.hooklane_delete_dependents() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF TG_TABLE_NAME = 'tenants' THEN
    DELETE FROM events e USING gone g WHERE e.tenant_id = g.id;
  ELSIF TG_TABLE_NAME = 'subscriptions' THEN
    DELETE FROM deliveries d USING gone g WHERE d.subscription_id = g.id AND d.tenant_id = g.tenant_id;
    DELETE FROM delivery_stats s USING gone g WHERE s.tenant_id = g.tenant_id AND s.subscription_id = g.id;
  ELSIF TG_TABLE_NAME = 'events' THEN
    DELETE FROM deliveries d USING gone g WHERE d.event_id = g.id AND d.tenant_id = g.tenant_id;
    DELETE FROM event_idempotency_keys k USING gone g
    WHERE g.idempotency_key IS NOT NULL AND k.tenant_id = g.tenant_id AND k.idempotency_key = g.idempotency_key AND k.event_id = g.id;
  ELSE
    DELETE FROM delivery_attempts a USING gone g WHERE a.tenant_id = g.tenant_id AND a.delivery_id = g.id;
  END IF;
  RETURN NULL;
END $$;
