CREATE TYPE "public"."tenant_status" AS ENUM('ACTIVE', 'SUSPENDED');--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text,
	"actor_subject" text,
	"actor_role" text NOT NULL,
	"action" text NOT NULL,
	"target_id" text,
	"details" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenant_usage" (
	"tenant_id" text NOT NULL,
	"period" text NOT NULL,
	"events" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "tenant_usage_tenant_id_period_pk" PRIMARY KEY("tenant_id","period"),
	CONSTRAINT "tenant_usage_events_nonnegative" CHECK ("tenant_usage"."events" >= 0)
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "status" "tenant_status" DEFAULT 'ACTIVE' NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "quota_publish_rate" integer;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "quota_publish_burst" integer;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "quota_events_per_month" integer;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "quota_subscriptions" integer;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "quota_event_types" integer;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "quota_payload_bytes" integer;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "quota_deliveries_in_flight" integer;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "publish_tokens" double precision;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "publish_tokens_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenant_usage" ADD CONSTRAINT "tenant_usage_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_tenant_idx" ON "audit_log" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE INDEX "deliveries_pending_by_tenant_idx" ON "deliveries" USING btree ("tenant_id") WHERE "deliveries"."status" = 'PENDING';