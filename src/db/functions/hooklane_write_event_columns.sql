-- A publish's write in one statement: the events, their deliveries, their jobs and (last, so that
-- the tenant's row is locked only until this statement commits) the publish quota. The caller
-- plans the deliveries and jobs of every event; only those of events actually inserted are written
-- (an event whose idempotency key was used before is skipped). Returns the inserted events' ids.
-- Every row goes to the partition of events and deliveries its id's time names.
-- Refused, with nothing written: a publish context read at another version than the tenant's
-- (HL409), and a quota exceeded (HL429, the bucket's state as JSON in the detail).
--
-- The rows come as columns: each a text of values joined by newlines, split with string_to_array
-- and zipped by unnest, which parses far faster than a JSON object per row. Every value so joined
-- is one no newline can be part of: generated ids, event type names, delivery statuses, ISO
-- timestamps, event type versions, and bodies that are compact JSON (JSON escapes a newline in a
-- string). The optional fields, which can hold anything, go as JSON, and only when an event or a
-- delivery has one.
--
-- The function inserts a delivery only for an event it has just inserted for its tenant and a
-- subscription of that tenant it has locked FOR KEY SHARE, so what hooklane_check_delivery_references
-- checks holds by construction: it says so (hooklane.deliveries_vouched, for its own insert only,
-- reset right after it, and rolled back with it if it fails), and that trigger does not fire for it.
CREATE OR REPLACE FUNCTION public.hooklane_write_event_columns(
  p_tenant text,
  p_event_ids text, p_event_types text, p_event_bodies text, p_event_created_at text,
  -- The version of its event type each event's payload was checked against.
  p_event_type_versions text,
  -- Null, or one [idempotency_key, ordering_key, channels, test, trace_context] per event.
  p_event_options jsonb,
  p_delivery_ids text, p_delivery_event_ids text, p_delivery_subscription_ids text, p_delivery_statuses text,
  -- Null, or one ordering key per delivery.
  p_delivery_ordering_keys jsonb,
  p_stream_jobs json, p_preserve_stream_run_at boolean, p_quota json, p_context_version bigint
) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  -- The inserted events' ids as the keys of a jsonb object: membership is a binary search.
  v_inserted jsonb;
  v_inserted_count bigint;
  v_event_count bigint;
  v_specs json;
  v_quota record;
  v_event_ids text[] := string_to_array(p_event_ids, E'\n');
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  IF p_context_version IS NOT NULL
     AND p_context_version IS DISTINCT FROM (SELECT t.config_version FROM tenants t WHERE t.id = p_tenant) THEN
    RAISE EXCEPTION 'the publish context changed since it was read' USING ERRCODE = 'HL409';
  END IF;
  WITH e AS (
    SELECT c.n, c.id, c.event_type, c.body, c.created_at::timestamptz AS created_at, c.event_type_version::integer AS event_type_version,
      p_event_options -> (c.n::integer - 1) AS options
    FROM unnest(v_event_ids, string_to_array(p_event_types, E'\n'),
      string_to_array(p_event_bodies, E'\n'), string_to_array(p_event_created_at, E'\n'), string_to_array(p_event_type_versions, E'\n'))
      WITH ORDINALITY AS c(id, event_type, body, created_at, event_type_version, n)
  ), keyed AS (
    -- An idempotency key is taken in event_idempotency_keys (unique per tenant, whatever partition
    -- its event is in), in the events' order: of two events with one key, the first is written.
    INSERT INTO event_idempotency_keys (tenant_id, idempotency_key, event_id)
    SELECT p_tenant, e.options ->> 0, e.id FROM e WHERE e.options ->> 0 IS NOT NULL
    ORDER BY e.n
    ON CONFLICT DO NOTHING
    RETURNING event_idempotency_keys.event_id
  ), inserted AS (
    INSERT INTO events (id, tenant_id, event_type, body, idempotency_key, ordering_key, channels, event_type_version, test, trace_context, created_at)
    SELECT e.id, p_tenant, e.event_type, e.body, e.options ->> 0, e.options ->> 1,
      CASE WHEN jsonb_typeof(e.options -> 2) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(e.options -> 2)) END,
      e.event_type_version, coalesce((e.options ->> 3)::boolean, false), e.options ->> 4, e.created_at
    FROM e
    -- Without a key, or with the key just taken for it.
    WHERE e.options ->> 0 IS NULL OR e.id IN (SELECT k.event_id FROM keyed k)
    ORDER BY e.n
    RETURNING events.id
  )
  SELECT coalesce(jsonb_object_agg(inserted.id, true), '{}'), count(*) INTO v_inserted, v_inserted_count FROM inserted;
  v_event_count := cardinality(v_event_ids);

  -- The subscriptions that receive are this tenant's that still exist: one deleted since the caller
  -- read it receives nothing (rather than failing the publish). They are locked sorted, so writers
  -- and deletions meet these locks in one order, and before the first delivery is inserted.
  PERFORM set_config('hooklane.deliveries_vouched', 'on', true);
  WITH d AS MATERIALIZED (
    SELECT c.id, c.event_id, c.subscription_id, c.status, p_delivery_ordering_keys ->> (c.n::integer - 1) AS ordering_key
    FROM unnest(string_to_array(p_delivery_ids, E'\n'), string_to_array(p_delivery_event_ids, E'\n'),
      string_to_array(p_delivery_subscription_ids, E'\n'), string_to_array(p_delivery_statuses, E'\n'))
      WITH ORDINALITY AS c(id, event_id, subscription_id, status, n)
  ), receiving AS MATERIALIZED (
    SELECT s.id FROM subscriptions s
    WHERE s.id IN (SELECT DISTINCT d.subscription_id FROM d) AND s.tenant_id = p_tenant
    ORDER BY s.id FOR KEY SHARE
  )
  INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, status, ordering_key, next_attempt_at)
  SELECT d.id, p_tenant, d.event_id, d.subscription_id, d.status::delivery_status, d.ordering_key,
    CASE WHEN d.status = 'PENDING' THEN now() END
  FROM d
  WHERE v_inserted ? d.event_id AND d.subscription_id IN (SELECT r.id FROM receiving r);
  PERFORM set_config('hooklane.deliveries_vouched', 'off', true);

  -- When every event was inserted (no idempotency key was used before), every shared job goes.
  IF v_inserted_count = v_event_count THEN
    SELECT json_agg(j.value -> 'spec') INTO v_specs FROM json_array_elements(p_stream_jobs) AS j;
  ELSE
    SELECT json_agg(j.value -> 'spec') INTO v_specs
    FROM json_array_elements(p_stream_jobs) AS j
    WHERE EXISTS (SELECT FROM json_array_elements_text(j.value -> 'event_ids') AS e(id) WHERE v_inserted ? e.id);
  END IF;
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
