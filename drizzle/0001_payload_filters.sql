ALTER TABLE "subscriptions" ADD COLUMN "filter" jsonb;--> statement-breakpoint
CREATE INDEX "events_tenant_type_idx" ON "events" USING btree ("tenant_id","event_type","id");--> statement-breakpoint
-- hand-written: a subscription's filter is part of what fan-out reads, so changing it moves the
-- publish context version like the other fan-out settings.
DROP TRIGGER "subscriptions_publish_context_version" ON "subscriptions";--> statement-breakpoint
CREATE TRIGGER "subscriptions_publish_context_version"
AFTER INSERT OR DELETE OR UPDATE OF enabled, ordered, event_types, channels, filter ON "subscriptions"
FOR EACH ROW EXECUTE FUNCTION hooklane_bump_config_version();
