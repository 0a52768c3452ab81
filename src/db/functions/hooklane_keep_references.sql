-- Row trigger on events and deliveries (events_references_fixed, deliveries_references_fixed): the
-- columns the trigger names (its arguments) never change, so a row keeps the tenant, event and
-- subscription its references were checked against on insert.
CREATE OR REPLACE FUNCTION public.hooklane_keep_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 0 .. TG_NARGS - 1 LOOP
    IF (to_jsonb(NEW) -> TG_ARGV[i]) IS DISTINCT FROM (to_jsonb(OLD) -> TG_ARGV[i]) THEN
      RAISE EXCEPTION 'the % of % % does not change', TG_ARGV[i], TG_TABLE_NAME, OLD.id USING ERRCODE = 'foreign_key_violation';
    END IF;
  END LOOP;
  RETURN NEW;
END $$;
