-- Takes p_count events from the tenant's publish-rate bucket and the month's allowance, atomically:
-- both or neither. Returns ok, or which quota refused and the bucket's state for a Retry-After.
-- With p_period or p_monthly null it takes rate tokens only: re-sent deliveries (retries, replays,
-- recoveries) and test events spend the publish rate but are not new events, so the month's
-- allowance is neither checked nor counted.
-- The clock is read once, after the tenant's row is locked: a publisher that waited for the lock
-- refills from when it got it, two readings in one expression cannot leave a fresh bucket a hair
-- short of its burst, and a refill is never negative.
CREATE OR REPLACE FUNCTION public.hooklane_reserve_publish(
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
  IF p_period IS NOT NULL AND p_monthly IS NOT NULL THEN
    SELECT u.events INTO v_used FROM tenant_usage u WHERE u.tenant_id = p_tenant AND u.period = p_period;
    IF coalesce(v_used, 0) + p_count > v_monthly THEN
      RETURN QUERY SELECT false, 'eventsPerMonth'::text, v_tokens, v_rate, v_burst;
      RETURN;
    END IF;
  END IF;
  UPDATE tenants SET publish_tokens = v_tokens - p_count, publish_tokens_at = v_now WHERE tenants.id = p_tenant;
  IF p_period IS NOT NULL AND p_monthly IS NOT NULL THEN
    INSERT INTO tenant_usage (tenant_id, period, events) VALUES (p_tenant, p_period, p_count)
      ON CONFLICT (tenant_id, period) DO UPDATE SET events = tenant_usage.events + excluded.events;
  END IF;
  RETURN QUERY SELECT true, NULL::text, v_tokens - p_count, v_rate, v_burst;
END $$;
