-- Hot-path statements as functions that declare their tenant themselves: one round trip and one
-- implicit transaction instead of BEGIN, set_config, the statement and COMMIT. They run with the
-- caller's rights (SECURITY INVOKER), so row-level security applies to what they touch.

-- Starts an attempt: claims a due PENDING delivery and returns everything the attempt needs.
CREATE OR REPLACE FUNCTION hooklane_claim_delivery(p_tenant text, p_id text, p_claim_ms integer)
RETURNS TABLE (
  id text, attempt_count integer, ordering_key text, event_id text, event_type text, event_created_at timestamptz,
  body text, subscription_id text, url text, secrets text[], ed25519_secret_key text, enabled boolean, failing boolean,
  payload_mode payload_mode, retry_schedule_ms integer[], rate_limit integer, max_in_flight integer, ordered boolean,
  quota_deliveries_in_flight integer
) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  RETURN QUERY
  UPDATE deliveries d
  SET claimed_until = now() + p_claim_ms * interval '1 millisecond'
  FROM events e, subscriptions s, tenants t
  WHERE d.tenant_id = p_tenant AND d.id = p_id
    AND d.status = 'PENDING'
    AND (d.claimed_until IS NULL OR d.claimed_until < now())
    AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= now())
    AND e.tenant_id = d.tenant_id AND e.id = d.event_id
    AND s.tenant_id = d.tenant_id AND s.id = d.subscription_id
    AND t.id = d.tenant_id
  RETURNING d.id, d.attempt_count, d.ordering_key, d.event_id, e.event_type, e.created_at, e.body, d.subscription_id, s.url,
    CASE WHEN s.previous_secrets_expire_at > now() THEN s.secrets ELSE s.secrets[1:1] END,
    s.ed25519_secret_key, s.enabled, (s.failing_since IS NOT NULL OR s.failed_deliveries_in_row > 0),
    s.payload_mode, s.retry_schedule_ms, s.rate_limit, s.max_in_flight, s.ordered, t.quota_deliveries_in_flight;
END $$;
--> statement-breakpoint
-- Takes p_count events from the tenant's publish-rate bucket and the month's allowance, atomically:
-- both or neither. Returns ok, or which quota refused and the bucket state for a Retry-After.
CREATE OR REPLACE FUNCTION hooklane_reserve_publish(
  p_tenant text, p_count integer, p_rate double precision, p_burst double precision, p_monthly integer, p_period text
) RETURNS TABLE (ok boolean, quota text, tokens double precision, rate double precision, burst double precision)
LANGUAGE plpgsql AS $$
DECLARE
  v_rate double precision;
  v_burst double precision;
  v_tokens double precision;
  v_used integer;
  v_monthly integer;
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  SELECT coalesce(t.quota_publish_rate, p_rate), coalesce(t.quota_publish_burst, p_burst),
         least(coalesce(t.quota_publish_burst, p_burst), coalesce(t.publish_tokens, coalesce(t.quota_publish_burst, p_burst))
           + extract(epoch FROM clock_timestamp() - coalesce(t.publish_tokens_at, clock_timestamp())) * coalesce(t.quota_publish_rate, p_rate)),
         coalesce(t.quota_events_per_month, p_monthly)
    INTO v_rate, v_burst, v_tokens, v_monthly
    FROM tenants t WHERE t.id = p_tenant FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT false, 'tenant'::text, 0::float8, 0::float8, 0::float8;
    RETURN;
  END IF;
  IF v_tokens < p_count THEN
    RETURN QUERY SELECT false, 'publishRate'::text, v_tokens, v_rate, v_burst;
    RETURN;
  END IF;
  SELECT u.events INTO v_used FROM tenant_usage u WHERE u.tenant_id = p_tenant AND u.period = p_period;
  IF coalesce(v_used, 0) + p_count > v_monthly THEN
    RETURN QUERY SELECT false, 'eventsPerMonth'::text, v_tokens, v_rate, v_burst;
    RETURN;
  END IF;
  UPDATE tenants SET publish_tokens = v_tokens - p_count, publish_tokens_at = clock_timestamp() WHERE tenants.id = p_tenant;
  INSERT INTO tenant_usage (tenant_id, period, events) VALUES (p_tenant, p_period, p_count)
    ON CONFLICT (tenant_id, period) DO UPDATE SET events = tenant_usage.events + excluded.events;
  RETURN QUERY SELECT true, NULL::text, v_tokens - p_count, v_rate, v_burst;
END $$;
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'hooklane_app') THEN
    GRANT EXECUTE ON FUNCTION hooklane_claim_delivery(text, text, integer) TO hooklane_app;
    GRANT EXECUTE ON FUNCTION hooklane_reserve_publish(text, integer, double precision, double precision, integer, text) TO hooklane_app;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'cannot grant hooklane_app the hot-path functions';
END $$;
