-- A subscription's flow control, shared by every worker: admits one claimed delivery under the
-- subscription's maxInFlight and rateLimit, or defers it to its turn. Returns wait_ms 0 (admitted),
-- or the milliseconds until its turn and the limit that turned it away.
--
-- rateLimit N: no window of one second, wherever it starts, holds the starts of more than N
-- attempts of the subscription (by PostgreSQL's clock, read once the subscription's row is
-- locked). The row keeps the starts of the last second counted per 10 ms tick
-- (rate_window_ticks, rate_window_counts: at most 101 ticks); a tick counts until one second after
-- it ends, so every start of the last second is counted. A burst of N goes at once; a saturated
-- subscription gets N starts per 1.01 s.
--
-- maxInFlight M: the subscription's counted claims, this delivery's included (it is claimed before
-- it is admitted), are at most M; two workers racing for the last place both see each other.
--
-- A delivery turned away is not attempted. It takes the next turn in the subscription's line
-- (flow_turn_at is the turn given last): one spacing after the turn before it, 1.01 s / N for a
-- rate limit, the usual attempt duration / M for maxInFlight (p_attempt_ms, from the worker). So a
-- backlog comes back at the pace the subscription can take, a few deliveries at a time, not all
-- of it at every refusal. Under a rate limit, a delivery that has not waited yet (no
-- next_attempt_at) joins the end of a line that is still waiting, rather than taking the place of
-- one whose turn has come. Under maxInFlight alone, the place of one that ended goes to whoever
-- asks first: the line's pace is an estimate, the count is not.
--
-- With p_next_job (a graphile-worker job_spec as JSON, without run_at), a delivery turned away is
-- deferred here, in the same statement: its claim ends, it is due at its turn, and p_next_job is
-- enqueued for then. With null, the caller defers it. p_now replaces the clock (tests only).
CREATE OR REPLACE FUNCTION public.hooklane_admit_flow(
  p_tenant text, p_subscription text, p_delivery text, p_rate_limit integer, p_max_in_flight integer,
  p_attempt_ms double precision, p_next_job json, p_now timestamptz DEFAULT NULL
) RETURNS TABLE (wait_ms integer, reason text)
LANGUAGE plpgsql AS $$
DECLARE
  v_ticks bigint[];
  v_counts integer[];
  v_turn timestamptz;
  v_now timestamptz;
  v_tick bigint;
  v_live_ticks bigint[] := '{}';
  v_live_counts integer[] := '{}';
  v_started integer := 0;
  v_spacing_ms double precision := 0;
  v_reason text;
  v_at timestamptz;
  v_leaving integer := 0;
  v_last integer;
  i integer;
BEGIN
  PERFORM set_config('hooklane.tenant_id', p_tenant, true);
  IF p_rate_limit IS NULL THEN
    -- maxInFlight alone: an admission writes nothing, so it takes no lock.
    SELECT s.flow_turn_at INTO v_turn FROM subscriptions s WHERE s.id = p_subscription AND s.tenant_id = p_tenant;
  ELSE
    SELECT s.rate_window_ticks, s.rate_window_counts, s.flow_turn_at INTO v_ticks, v_counts, v_turn
      FROM subscriptions s WHERE s.id = p_subscription AND s.tenant_id = p_tenant FOR NO KEY UPDATE;
  END IF;
  IF NOT FOUND THEN
    -- Deleted meanwhile, with its deliveries: nothing to hold back.
    RETURN QUERY SELECT 0, NULL::text;
    RETURN;
  END IF;
  v_now := coalesce(p_now, clock_timestamp());
  v_tick := floor(extract(epoch FROM v_now) * 100)::bigint;

  IF p_rate_limit IS NOT NULL THEN
    -- A start in tick t happened before (t + 1) * 10 ms: it is in the last second while t >= now's tick - 100.
    FOR i IN 1 .. coalesce(array_length(v_ticks, 1), 0) LOOP
      IF v_ticks[i] >= v_tick - 100 THEN
        v_live_ticks := v_live_ticks || v_ticks[i];
        v_live_counts := v_live_counts || v_counts[i];
        v_started := v_started + v_counts[i];
      END IF;
    END LOOP;
    v_spacing_ms := 1010.0 / p_rate_limit;
  END IF;
  IF p_max_in_flight IS NOT NULL THEN
    v_spacing_ms := greatest(v_spacing_ms, p_attempt_ms / p_max_in_flight);
  END IF;

  IF p_rate_limit IS NOT NULL AND v_turn > v_now AND NOT EXISTS (
    SELECT FROM deliveries d WHERE d.id = p_delivery AND d.tenant_id = p_tenant AND d.next_attempt_at IS NOT NULL
  ) THEN
    v_reason := 'rate_limit';
  END IF;
  IF v_reason IS NULL AND p_max_in_flight IS NOT NULL AND (
    SELECT count(*) FROM deliveries d
    WHERE d.tenant_id = p_tenant AND d.subscription_id = p_subscription
      AND d.counted_claim_until IS NOT NULL AND d.counted_claim_until > now()
  ) > p_max_in_flight THEN
    v_reason := 'max_in_flight';
  END IF;
  IF v_reason IS NULL AND p_rate_limit IS NOT NULL AND v_started >= p_rate_limit THEN
    v_reason := 'rate_limit';
  END IF;

  IF v_reason IS NULL THEN
    IF p_rate_limit IS NOT NULL THEN
      v_last := coalesce(array_length(v_live_ticks, 1), 0);
      IF v_last > 0 AND v_live_ticks[v_last] >= v_tick THEN
        -- This tick again (or a clock set back: the latest tick, which leaves the window later).
        v_live_counts[v_last] := v_live_counts[v_last] + 1;
      ELSE
        v_live_ticks := v_live_ticks || v_tick;
        v_live_counts := v_live_counts || 1;
      END IF;
      UPDATE subscriptions s SET rate_window_ticks = v_live_ticks, rate_window_counts = v_live_counts
        WHERE s.id = p_subscription AND s.tenant_id = p_tenant;
    END IF;
    RETURN QUERY SELECT 0, NULL::text;
    RETURN;
  END IF;

  v_at := v_now;
  IF p_rate_limit IS NOT NULL AND v_started >= p_rate_limit THEN
    -- Not before enough of the last second's starts have left the window for one more.
    FOR i IN 1 .. coalesce(array_length(v_live_ticks, 1), 0) LOOP
      v_leaving := v_leaving + v_live_counts[i];
      IF v_leaving > v_started - p_rate_limit THEN
        v_at := to_timestamp((v_live_ticks[i] + 101) / 100.0);
        EXIT;
      END IF;
    END LOOP;
  END IF;
  -- The turn is taken in the UPDATE: without the row lock (maxInFlight alone) it reads the latest turn.
  UPDATE subscriptions s SET
    flow_turn_at = greatest(v_at, greatest(v_now, coalesce(s.flow_turn_at, v_now)) + v_spacing_ms * interval '1 millisecond'),
    rate_window_ticks = CASE WHEN p_rate_limit IS NULL THEN s.rate_window_ticks ELSE v_live_ticks END,
    rate_window_counts = CASE WHEN p_rate_limit IS NULL THEN s.rate_window_counts ELSE v_live_counts END
    WHERE s.id = p_subscription AND s.tenant_id = p_tenant
    RETURNING s.flow_turn_at INTO v_at;
  IF p_next_job IS NOT NULL THEN
    UPDATE deliveries d SET claimed_until = NULL, counted_claim_until = NULL, next_attempt_at = v_at, updated_at = now()
      WHERE d.id = p_delivery AND d.tenant_id = p_tenant;
    PERFORM hooklane_enqueue_jobs(json_build_array((p_next_job::jsonb || jsonb_build_object('run_at', v_at))::json), false);
  END IF;
  RETURN QUERY SELECT greatest(1, ceil(extract(epoch FROM v_at - v_now) * 1000))::integer, v_reason;
END $$;
