-- Claims a tenant's deliveries in one statement: the jobs a worker takes at once start their
-- attempts with one round trip between them instead of one each. Each delivery is claimed as by
-- hooklane_claim_delivery; those that cannot be claimed are left out of the result.
CREATE OR REPLACE FUNCTION hooklane_claim_deliveries(p_tenant text, p_ids json, p_claim_ms integer)
RETURNS TABLE (
  id text, attempt_count integer, ordering_key text, event_id text, event_type text, event_created_at timestamptz,
  body text, subscription_id text, url text, secrets text[], ed25519_secret_key text, enabled boolean, failing boolean,
  payload_mode payload_mode, retry_schedule_ms integer[], rate_limit integer, max_in_flight integer, ordered boolean,
  quota_deliveries_in_flight integer
) LANGUAGE plpgsql AS $$
DECLARE
  v_id text;
BEGIN
  FOR v_id IN SELECT DISTINCT value FROM json_array_elements_text(p_ids) ORDER BY 1 LOOP
    RETURN QUERY SELECT * FROM hooklane_claim_delivery(p_tenant, v_id, p_claim_ms);
  END LOOP;
END $$;
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'hooklane_app') THEN
    GRANT EXECUTE ON FUNCTION hooklane_claim_deliveries(text, json, integer) TO hooklane_app;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'cannot grant hooklane_app the batch claim';
END $$;
