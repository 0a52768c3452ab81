DROP INDEX "deliveries_pending_by_tenant_idx";--> statement-breakpoint
CREATE INDEX "deliveries_tenant_status_idx" ON "deliveries" USING btree ("tenant_id","status","id") WHERE "deliveries"."status" <> 'SUCCEEDED';--> statement-breakpoint
CREATE INDEX "events_tenant_ordering_key_idx" ON "events" USING btree ("tenant_id","ordering_key","id") WHERE "events"."ordering_key" is not null;