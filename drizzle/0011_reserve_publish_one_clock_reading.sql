-- The publish bucket read the clock twice in one expression (now - coalesce(last refill, now)):
-- the second reading is later, so a fresh bucket held a hair less than its burst and refused a
-- batch of exactly the burst. One reading per call, taken once the tenant's row is locked (a
-- publisher that waited for the lock refills from when it got it), and never a negative refill.
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
  v_now timestamptz;
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  PERFORM FROM tenants t WHERE t.id = p_tenant FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT false, 'tenant'::text, 0::float8, 0::float8, 0::float8;
    RETURN;
  END IF;
  -- One reading of the clock, once the row is ours: two calls of clock_timestamp() in one
  -- expression differ, and a fresh bucket (no publish yet) then held a hair less than its burst.
  v_now := clock_timestamp();
  SELECT coalesce(t.quota_publish_rate, p_rate), coalesce(t.quota_publish_burst, p_burst),
         least(coalesce(t.quota_publish_burst, p_burst), coalesce(t.publish_tokens, coalesce(t.quota_publish_burst, p_burst))
           + greatest(0, extract(epoch FROM v_now - coalesce(t.publish_tokens_at, v_now))) * coalesce(t.quota_publish_rate, p_rate)),
         coalesce(t.quota_events_per_month, p_monthly)
    INTO v_rate, v_burst, v_tokens, v_monthly
    FROM tenants t WHERE t.id = p_tenant;
  IF v_tokens < p_count THEN
    RETURN QUERY SELECT false, 'publishRate'::text, v_tokens, v_rate, v_burst;
    RETURN;
  END IF;
  SELECT u.events INTO v_used FROM tenant_usage u WHERE u.tenant_id = p_tenant AND u.period = p_period;
  IF coalesce(v_used, 0) + p_count > v_monthly THEN
    RETURN QUERY SELECT false, 'eventsPerMonth'::text, v_tokens, v_rate, v_burst;
    RETURN;
  END IF;
  UPDATE tenants SET publish_tokens = v_tokens - p_count, publish_tokens_at = v_now WHERE tenants.id = p_tenant;
  INSERT INTO tenant_usage (tenant_id, period, events) VALUES (p_tenant, p_period, p_count)
    ON CONFLICT (tenant_id, period) DO UPDATE SET events = tenant_usage.events + excluded.events;
  RETURN QUERY SELECT true, NULL::text, v_tokens - p_count, v_rate, v_burst;
END $$;
