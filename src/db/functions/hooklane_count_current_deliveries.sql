-- For `stats`: PENDING and HELD deliveries now, each counted up to p_cap, of each subscription that
-- p_subscription_ids (a JSON array) names, or, when it is null, of the whole tenant (subject '').
-- Each count reads at most p_cap entries of deliveries_subscription_status_idx (the tenant's,
-- subscription by subscription): (subscription_id, status) is matched as a range of one row value
-- and the rows are ordered by the index's columns, so that only that index gives them in order and
-- the scan starts at the first match and stops at the cap, whatever the planner guesses about how
-- many match (given equalities, it may scan the table or the primary key from the oldest delivery:
-- for a backlog of recent deliveries, all of them).
-- SECURITY DEFINER: under row-level security the status comparison, not leakproof, could not be
-- part of the index condition. It counts the rows the tenant's policy would show: those of
-- p_tenant, when p_tenant is the tenant the transaction declares.
CREATE OR REPLACE FUNCTION public.hooklane_count_current_deliveries(p_tenant text, p_subscription_ids json, p_cap integer)
RETURNS TABLE (subject text, pending integer, held integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  WITH subject AS (
    SELECT x.id AS subject, ARRAY[x.id] AS subscription_ids
    FROM json_array_elements_text(p_subscription_ids) AS x(id)
    UNION ALL
    SELECT '', ARRAY(SELECT s.id FROM subscriptions s WHERE s.tenant_id = p_tenant)
    WHERE p_subscription_ids IS NULL
  ), counted AS (
    SELECT j.subject, w.status,
      (SELECT count(*) FROM (
        SELECT 1 FROM unnest(j.subscription_ids) AS s(id) CROSS JOIN LATERAL (
          SELECT 1 FROM deliveries d
          WHERE (d.subscription_id, d.status) >= (s.id, w.status) AND (d.subscription_id, d.status) <= (s.id, w.status)
            AND d.tenant_id = p_tenant
          ORDER BY d.subscription_id, d.status, d.id
          LIMIT p_cap) AS c
        LIMIT p_cap) AS p)::integer AS n
    FROM subject j CROSS JOIN (VALUES ('PENDING'::delivery_status), ('HELD'::delivery_status)) AS w(status)
    WHERE p_tenant = current_setting('hooklane.tenant_id', true)
  )
  SELECT c.subject, sum(c.n) FILTER (WHERE c.status = 'PENDING')::integer, sum(c.n) FILTER (WHERE c.status = 'HELD')::integer
  FROM counted c GROUP BY c.subject
$$;
REVOKE ALL ON FUNCTION public.hooklane_count_current_deliveries(text, json, integer) FROM PUBLIC;
