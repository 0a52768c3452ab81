-- Publishing in one statement: the events, their deliveries, their jobs and (last, so that the
-- tenant's row is locked only until this statement commits) the publish quota. The caller plans
-- the deliveries and jobs of every event; only those of events actually inserted are written (an
-- event whose idempotency key was used before is skipped). A refused quota raises HL429 with the
-- bucket's state as JSON in the detail, and nothing is written. Returns the inserted events' ids.
CREATE OR REPLACE FUNCTION hooklane_write_events(
  p_tenant text, p_events json, p_deliveries json, p_jobs json, p_stream_jobs json, p_preserve_stream_run_at boolean, p_quota json
) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  -- The inserted events' ids as the keys of a jsonb object: membership is a binary search, where
  -- `= ANY (array)` would compare every delivery with every event of a 1,000-event batch.
  v_inserted jsonb;
  v_specs json;
  v_quota record;
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  WITH inserted AS (
    INSERT INTO events (id, tenant_id, event_type, body, idempotency_key, ordering_key, channels, created_at)
    SELECT e.id, p_tenant, e.event_type, e.body, e.idempotency_key, e.ordering_key, e.channels, e.created_at
    FROM json_to_recordset(p_events) AS e(
      id text, event_type text, body text, idempotency_key text, ordering_key text, channels text[], created_at timestamptz)
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING events.id
  )
  SELECT coalesce(jsonb_object_agg(inserted.id, true), '{}') INTO v_inserted FROM inserted;

  INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, status, ordering_key, next_attempt_at)
  SELECT d.id, p_tenant, d.event_id, d.subscription_id, d.status::delivery_status, d.ordering_key,
    CASE WHEN d.status = 'PENDING' THEN now() END
  FROM json_to_recordset(p_deliveries) AS d(id text, event_id text, subscription_id text, status text, ordering_key text)
  WHERE v_inserted ? d.event_id
    -- A subscription deleted since the caller read it receives nothing (rather than failing the publish).
    AND EXISTS (SELECT FROM subscriptions s WHERE s.id = d.subscription_id AND s.tenant_id = p_tenant);

  SELECT json_agg(j.value -> 'spec') INTO v_specs
  FROM json_array_elements(p_jobs) AS j WHERE v_inserted ? (j.value ->> 'event_id');
  IF v_specs IS NOT NULL THEN PERFORM hooklane_enqueue_jobs(v_specs, false); END IF;

  SELECT json_agg(j.value -> 'spec') INTO v_specs
  FROM json_array_elements(p_stream_jobs) AS j
  WHERE EXISTS (SELECT FROM json_array_elements_text(j.value -> 'event_ids') AS e(id) WHERE v_inserted ? e.id);
  IF v_specs IS NOT NULL THEN PERFORM hooklane_enqueue_jobs(v_specs, p_preserve_stream_run_at); END IF;

  IF p_quota IS NOT NULL THEN
    SELECT * INTO v_quota FROM hooklane_reserve_publish(p_tenant, (p_quota ->> 'count')::integer, (p_quota ->> 'rate')::float8,
      (p_quota ->> 'burst')::float8, (p_quota ->> 'monthly')::integer, p_quota ->> 'period');
    IF NOT v_quota.ok THEN
      RAISE EXCEPTION 'publish quota exceeded: %', v_quota.quota USING ERRCODE = 'HL429',
        DETAIL = json_build_object('quota', v_quota.quota, 'tokens', v_quota.tokens, 'rate', v_quota.rate, 'burst', v_quota.burst)::text;
    END IF;
  END IF;
  RETURN QUERY SELECT jsonb_object_keys(v_inserted);
END $$;
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'hooklane_app') THEN
    GRANT EXECUTE ON FUNCTION hooklane_write_events(text, json, json, json, json, boolean, json) TO hooklane_app;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'cannot grant hooklane_app the publish function';
END $$;
