-- A batch of successful attempts in one statement: their rows, and their deliveries SUCCEEDED with
-- their claims (counted or not) ended. One round trip and one implicit transaction; the statement's
-- text never changes, so it is prepared once per connection. The UPDATE names the range of the
-- deliveries' ids, sorted, by which PostgreSQL prunes the partitions of deliveries when it starts:
-- it reads only the partitions that hold them.
CREATE OR REPLACE FUNCTION public.hooklane_record_successes(p_tenant text, p_attempts json)
RETURNS void LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_ids text[] := ARRAY(SELECT a.delivery_id FROM json_to_recordset(p_attempts) AS a(delivery_id text) ORDER BY 1);
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  INSERT INTO delivery_attempts (id, tenant_id, delivery_id, status_code, outcome, error, duration_ms, response_body)
  SELECT a.id, p_tenant, a.delivery_id, a.status_code, a.outcome::attempt_outcome, a.error, a.duration_ms, a.response_body
  FROM json_to_recordset(p_attempts) AS a(
    id text, delivery_id text, status_code integer, outcome text, error text, duration_ms integer, response_body text);
  -- By primary key, one lookup per delivery, whatever the statistics say.
  UPDATE deliveries d SET status = 'SUCCEEDED', next_attempt_at = NULL, claimed_until = NULL, counted_claim_until = NULL,
    attempt_count = d.attempt_count + 1, updated_at = now()
  WHERE d.tenant_id = p_tenant AND d.id = ANY (v_ids) AND d.id >= v_ids[1] AND d.id <= v_ids[cardinality(v_ids)];
END $$;
