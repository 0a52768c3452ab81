-- A version of what publishing reads (event types and fan-out candidates): it moves whenever a
-- subscription or event type that fan-out or validation depends on is created, changed or
-- deleted. An API process may then reuse what it read for a tenant's earlier publishes, and the
-- write checks the version it was read at: a stale read is refused (HL409) and read again, so no
-- publish misses a change committed before it was called.
ALTER TABLE "tenants" ADD COLUMN "config_version" bigint DEFAULT 0 NOT NULL;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION hooklane_bump_config_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  -- The owner's rights: whoever changed the row (a tenant transaction, a platform operation), the
  -- version moves; a row-level security mismatch must never skip it silently.
  UPDATE tenants SET config_version = config_version + 1
  WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER subscriptions_publish_context_version
AFTER INSERT OR DELETE OR UPDATE OF enabled, ordered, event_types, channels ON subscriptions
FOR EACH ROW EXECUTE FUNCTION hooklane_bump_config_version();
--> statement-breakpoint
CREATE TRIGGER event_types_publish_context_version
AFTER INSERT OR DELETE OR UPDATE OF name, schema ON event_types
FOR EACH ROW EXECUTE FUNCTION hooklane_bump_config_version();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION hooklane_publish_context(p_tenant text, p_names json, p_patterns json)
RETURNS json LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  RETURN json_build_object(
    'version', (SELECT t.config_version FROM tenants t WHERE t.id = p_tenant),
    'eventTypes', (
      SELECT coalesce(json_agg(json_build_object('id', t.id, 'name', t.name, 'schema', t.schema)), '[]'::json)
      FROM event_types t
      WHERE t.tenant_id = p_tenant AND t.name IN (SELECT json_array_elements_text(p_names))),
    'subscriptions', (
      SELECT coalesce(json_agg(json_build_object(
        'id', s.id, 'enabled', s.enabled, 'ordered', s.ordered, 'eventTypes', s.event_types, 'channels', s.channels)), '[]'::json)
      FROM subscriptions s
      WHERE s.tenant_id = p_tenant AND s.event_types && ARRAY(SELECT json_array_elements_text(p_patterns))));
END $$;
--> statement-breakpoint
-- hooklane_write_events (0007) with the version its plan was read at: refused with HL409, and
-- nothing written, when the tenant's publish context has moved since.
CREATE OR REPLACE FUNCTION hooklane_write_events(
  p_tenant text, p_events json, p_deliveries json, p_jobs json, p_stream_jobs json, p_preserve_stream_run_at boolean,
  p_quota json, p_context_version bigint
) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  IF p_context_version IS NOT NULL
     AND p_context_version IS DISTINCT FROM (SELECT t.config_version FROM tenants t WHERE t.id = p_tenant) THEN
    RAISE EXCEPTION 'the publish context changed since it was read' USING ERRCODE = 'HL409';
  END IF;
  RETURN QUERY SELECT * FROM hooklane_write_events(
    p_tenant, p_events, p_deliveries, p_jobs, p_stream_jobs, p_preserve_stream_run_at, p_quota);
END $$;
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'hooklane_app') THEN
    GRANT EXECUTE ON FUNCTION hooklane_write_events(text, json, json, json, json, boolean, json, bigint) TO hooklane_app;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'cannot grant hooklane_app the publish function';
END $$;
