-- A batch of claims in one statement: 0009 called 0006's hooklane_claim_delivery once per id, four
-- statements per delivery, and claiming was the largest share of PostgreSQL's time per delivery.
-- The rules of 0006 hold: rows are locked in id order (two workers claiming overlapping batches
-- never deadlock), each is checked once locked, and every row is reached by primary key alone. No
-- plan may read a tenant's pending deliveries to claim a few (what 0006 fixed when statistics lag
-- behind a fast-growing table): `status::text` cannot use the partial pending index, and the
-- function allows no hash or merge join and no sequential scan.
CREATE OR REPLACE FUNCTION hooklane_claim_deliveries(p_tenant text, p_ids json, p_claim_ms integer)
RETURNS TABLE (
  id text, attempt_count integer, ordering_key text, event_id text, event_type text, event_created_at timestamptz,
  body text, subscription_id text, url text, secrets text[], ed25519_secret_key text, enabled boolean, failing boolean,
  payload_mode payload_mode, retry_schedule_ms integer[], rate_limit integer, max_in_flight integer, ordered boolean,
  quota_deliveries_in_flight integer
) LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
  v_ids text[] := ARRAY(SELECT DISTINCT w.value FROM json_array_elements_text(p_ids) AS w);
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  RETURN QUERY
  WITH locked AS (
    SELECT d.id AS delivery_id FROM deliveries d
    WHERE d.id = ANY (v_ids) AND d.tenant_id = p_tenant
    ORDER BY d.id
    FOR NO KEY UPDATE
  ), claimed AS (
    UPDATE deliveries d SET claimed_until = now() + p_claim_ms * interval '1 millisecond'
    FROM locked l
    WHERE d.id = l.delivery_id
      AND d.status::text = 'PENDING'
      AND (d.claimed_until IS NULL OR d.claimed_until < now())
      AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= now())
    RETURNING d.id AS delivery_id, d.attempt_count AS attempts, d.ordering_key AS key, d.event_id AS event, d.subscription_id AS subscription
  )
  SELECT c.delivery_id, c.attempts, c.key, c.event, e.event_type, e.created_at, e.body, c.subscription, s.url,
    CASE WHEN s.previous_secrets_expire_at > now() THEN s.secrets ELSE s.secrets[1:1] END,
    s.ed25519_secret_key, s.enabled, (s.failing_since IS NOT NULL OR s.failed_deliveries_in_row > 0),
    s.payload_mode, s.retry_schedule_ms, s.rate_limit, s.max_in_flight, s.ordered, t.quota_deliveries_in_flight
  FROM claimed c
  JOIN events e ON e.id = c.event AND e.tenant_id = p_tenant
  JOIN subscriptions s ON s.id = c.subscription AND s.tenant_id = p_tenant
  JOIN tenants t ON t.id = p_tenant;
END $$;
--> statement-breakpoint
-- 0006's one-delivery claim served only 0009's loop.
DROP FUNCTION IF EXISTS hooklane_claim_delivery(text, text, integer);
