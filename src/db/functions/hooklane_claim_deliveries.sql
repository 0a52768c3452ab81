-- Claims a batch of a tenant's deliveries and returns everything their attempts need (whether the
-- event is a test event, and its trace context, included), in one call; a delivery that is not due, not PENDING or claimed by someone else is left out. A claim sets
-- claimed_until, which is in no index, so it is a HOT update. The claims a limit counts (the
-- subscription's maxInFlight, the tenant's in-flight quota, or every claim when
-- p_count_every_claim: a default in-flight quota is configured) also set counted_claim_until,
-- which deliveries_counted_claims_idx covers.
--
-- The UPDATE's scan of `id = ANY (...)` visits, and so locks, the rows in one order for every
-- claim, so two claims never take each other's rows in opposite orders; each row is checked again
-- once locked. Every row is reached by primary key: no plan may read a tenant's pending deliveries
-- to claim a few when statistics lag behind a fast-growing table, so `status::text` keeps the
-- partial pending index out, and no hash or merge join and no sequential scan is allowed.
--
-- deliveries and events are partitioned by id: each statement names the range of its ids, sorted,
-- by which PostgreSQL prunes the partitions of its plan (planned once per connection) when it
-- starts, so it reads only the partitions that hold them. Hence two statements, the claim and then
-- the read of the claimed deliveries' events, whose ids the first returns.
--
-- endpoint_version is null for a subscription without endpoint settings (headers, auth, TLS): only
-- the others' attempts read and open them (src/delivery/endpoint-requests.ts), by this version.
CREATE OR REPLACE FUNCTION public.hooklane_claim_deliveries(p_tenant text, p_ids json, p_claim_ms integer, p_count_every_claim boolean)
RETURNS TABLE (
  id text, attempt_count integer, ordering_key text, event_id text, event_type text, event_created_at timestamptz,
  body text, subscription_id text, url text, secrets text[], ed25519_secret_key text, enabled boolean, failing boolean,
  payload_mode payload_mode, retry_schedule_ms integer[], rate_limit integer, max_in_flight integer, ordered boolean,
  quota_deliveries_in_flight integer, endpoint_version integer, test boolean, trace_context text
) LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  v_ids text[] := ARRAY(SELECT DISTINCT w.value FROM json_array_elements_text(p_ids) AS w ORDER BY 1);
  v_until timestamptz := now() + p_claim_ms * interval '1 millisecond';
  v_counted boolean := p_count_every_claim;
  v_claimed text[];
  v_attempts integer[];
  v_keys text[];
  v_deliveries_events text[];
  v_subscriptions text[];
  v_events text[];
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  IF NOT v_counted THEN
    SELECT t.quota_deliveries_in_flight IS NOT NULL INTO v_counted FROM tenants t WHERE t.id = p_tenant;
  END IF;
  -- deliveries alone in the UPDATE: a join would let the planner reach them through a
  -- subscription's index and read its whole backlog to claim a few.
  WITH claimed AS (
    UPDATE deliveries d SET claimed_until = v_until,
      counted_claim_until = CASE
        WHEN v_counted OR (SELECT s.max_in_flight IS NOT NULL FROM subscriptions s WHERE s.tenant_id = p_tenant AND s.id = d.subscription_id) THEN v_until
      END
    WHERE d.tenant_id = p_tenant AND d.id = ANY (v_ids) AND d.id >= v_ids[1] AND d.id <= v_ids[cardinality(v_ids)]
      AND d.status::text = 'PENDING'
      AND (d.claimed_until IS NULL OR d.claimed_until < now())
      AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= now())
    RETURNING d.id AS delivery_id, d.attempt_count AS attempts, d.ordering_key AS key, d.event_id AS event, d.subscription_id AS subscription
  )
  SELECT array_agg(c.delivery_id), array_agg(c.attempts), array_agg(c.key), array_agg(c.event), array_agg(c.subscription),
    array_agg(DISTINCT c.event ORDER BY c.event)
  INTO v_claimed, v_attempts, v_keys, v_deliveries_events, v_subscriptions, v_events
  FROM claimed c;
  IF v_claimed IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
  -- The events alone by primary key, their ids constants of the plan: only their partitions are read.
  WITH ev AS MATERIALIZED (
    SELECT e.id, e.event_type, e.created_at, e.body, e.test, e.trace_context FROM events e
    WHERE e.tenant_id = p_tenant AND e.id = ANY (v_events) AND e.id >= v_events[1] AND e.id <= v_events[cardinality(v_events)]
  )
  SELECT c.delivery_id, c.attempts, c.key, c.event, e.event_type, e.created_at, e.body, c.subscription, s.url,
    CASE WHEN s.previous_secrets_expire_at > now() THEN s.secrets ELSE s.secrets[1:1] END,
    s.ed25519_secret_key, s.enabled, (s.failing_since IS NOT NULL OR s.failed_deliveries_in_row > 0),
    s.payload_mode, s.retry_schedule_ms, s.rate_limit, s.max_in_flight, s.ordered, t.quota_deliveries_in_flight,
    CASE WHEN s.header_names IS NOT NULL OR s.auth_type IS NOT NULL OR s.tls_client_certificate IS NOT NULL
      OR s.tls_ca_certificate IS NOT NULL THEN s.endpoint_version END, e.test, e.trace_context
  FROM unnest(v_claimed, v_attempts, v_keys, v_deliveries_events, v_subscriptions) AS c(delivery_id, attempts, key, event, subscription)
  JOIN ev e ON e.id = c.event
  JOIN subscriptions s ON s.tenant_id = p_tenant AND s.id = c.subscription
  JOIN tenants t ON t.id = p_tenant;
END $$;
