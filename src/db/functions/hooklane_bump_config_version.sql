-- Trigger on subscriptions and event_types: moves the tenant's publish context version whenever
-- something fan-out or validation depends on is created, changed or deleted. An API process reuses
-- what it read for a tenant's earlier publishes, and the write refuses a stale read (HL409).
-- The owner's rights: whoever changed the row (a tenant transaction, a platform operation), the
-- version moves; a row-level security mismatch must never skip it silently.
CREATE OR REPLACE FUNCTION public.hooklane_bump_config_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  UPDATE tenants SET config_version = config_version + 1
  WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
  RETURN NULL;
END $$;
