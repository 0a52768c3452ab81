-- The claim reaches every row by its primary key alone. The single UPDATE of 0005 also named the
-- tenant and status = 'PENDING', which let the planner pick deliveries_pending_by_tenant_idx when
-- statistics lagged behind a fast-growing table (any fresh database, or a tenant's sudden burst)
-- and then read all of a tenant's pending deliveries to claim one. Here the delivery is locked by
-- id, checked, and only then claimed; its event, subscription and tenant are read by id.
CREATE OR REPLACE FUNCTION hooklane_claim_delivery(p_tenant text, p_id text, p_claim_ms integer)
RETURNS TABLE (
  id text, attempt_count integer, ordering_key text, event_id text, event_type text, event_created_at timestamptz,
  body text, subscription_id text, url text, secrets text[], ed25519_secret_key text, enabled boolean, failing boolean,
  payload_mode payload_mode, retry_schedule_ms integer[], rate_limit integer, max_in_flight integer, ordered boolean,
  quota_deliveries_in_flight integer
) LANGUAGE plpgsql AS $$
DECLARE
  v deliveries%ROWTYPE;
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  SELECT * INTO v FROM deliveries d WHERE d.id = p_id FOR NO KEY UPDATE;
  IF NOT FOUND
    OR v.tenant_id <> p_tenant
    OR v.status <> 'PENDING'
    OR (v.claimed_until IS NOT NULL AND v.claimed_until >= now())
    OR (v.next_attempt_at IS NOT NULL AND v.next_attempt_at > now()) THEN
    RETURN;
  END IF;
  UPDATE deliveries d SET claimed_until = now() + p_claim_ms * interval '1 millisecond' WHERE d.id = p_id;
  RETURN QUERY
  SELECT v.id, v.attempt_count, v.ordering_key, v.event_id, e.event_type, e.created_at, e.body, v.subscription_id, s.url,
    CASE WHEN s.previous_secrets_expire_at > now() THEN s.secrets ELSE s.secrets[1:1] END,
    s.ed25519_secret_key, s.enabled, (s.failing_since IS NOT NULL OR s.failed_deliveries_in_row > 0),
    s.payload_mode, s.retry_schedule_ms, s.rate_limit, s.max_in_flight, s.ordered, t.quota_deliveries_in_flight
  FROM events e, subscriptions s, tenants t
  WHERE e.id = v.event_id AND e.tenant_id = p_tenant
    AND s.id = v.subscription_id AND s.tenant_id = p_tenant
    AND t.id = p_tenant;
END $$;
