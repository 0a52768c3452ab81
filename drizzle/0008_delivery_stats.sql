CREATE TABLE "delivery_stats" (
	"tenant_id" text NOT NULL,
	"subscription_id" text NOT NULL,
	"bucket_start" timestamp with time zone NOT NULL,
	"deliveries" integer DEFAULT 0 NOT NULL,
	"succeeded" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"latency_histogram" integer[] DEFAULT '{}'::integer[] NOT NULL,
	"last_success_at" timestamp with time zone,
	"last_failure_at" timestamp with time zone,
	CONSTRAINT "delivery_stats_tenant_id_subscription_id_bucket_start_pk" PRIMARY KEY("tenant_id","subscription_id","bucket_start")
);
--> statement-breakpoint
CREATE INDEX "delivery_stats_tenant_bucket_idx" ON "delivery_stats" USING btree ("tenant_id","bucket_start");--> statement-breakpoint
-- hand-written:
-- Room left on each page: a minute's row is updated by every batch of attempts recorded in that
-- minute, and changes no indexed column, so each update can be HOT.
ALTER TABLE "delivery_stats" SET (fillfactor = 70);--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'hooklane_app') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON delivery_stats TO hooklane_app;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'cannot grant hooklane_app: row-level security applies only if an operator grants it';
END $$;
--> statement-breakpoint
ALTER TABLE "delivery_stats" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "delivery_stats" USING ("tenant_id" = current_setting('hooklane.tenant_id', true)) WITH CHECK ("tenant_id" = current_setting('hooklane.tenant_id', true));--> statement-breakpoint
CREATE POLICY "platform_access" ON "delivery_stats" USING (current_setting('hooklane.platform', true) = 'on') WITH CHECK (current_setting('hooklane.platform', true) = 'on');
