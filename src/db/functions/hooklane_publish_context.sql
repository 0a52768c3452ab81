-- What publishing reads before it writes, in one statement: the tenant's publish context version
-- (tenants.config_version, see hooklane_bump_config_version), the named event types (to check the
-- payloads against, with the schema's version and whether the type is archived) and the
-- subscriptions whose patterns overlap the events' (fan-out candidates, with what fan-out matches
-- on: patterns, channels, payload filter).
CREATE OR REPLACE FUNCTION public.hooklane_publish_context(p_tenant text, p_names json, p_patterns json)
RETURNS json LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  RETURN json_build_object(
    'version', (SELECT t.config_version FROM tenants t WHERE t.id = p_tenant),
    'eventTypes', (
      SELECT coalesce(json_agg(json_build_object('id', t.id, 'name', t.name, 'schema', t.schema, 'version', t.version,
        'archived', t.archived_at IS NOT NULL)), '[]'::json)
      FROM event_types t
      WHERE t.tenant_id = p_tenant AND t.name IN (SELECT json_array_elements_text(p_names))),
    'subscriptions', (
      SELECT coalesce(json_agg(json_build_object(
        'id', s.id, 'enabled', s.enabled, 'ordered', s.ordered, 'eventTypes', s.event_types, 'channels', s.channels,
        'filter', s.filter)), '[]'::json)
      FROM subscriptions s
      WHERE s.tenant_id = p_tenant AND s.event_types && ARRAY(SELECT json_array_elements_text(p_patterns))));
END $$;
