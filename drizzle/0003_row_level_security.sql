-- Row-level security: the second wall between tenants. The application connects with the role
-- hooklane_app, which has no BYPASSRLS; every transaction declares the tenant it acts for in
-- hooklane.tenant_id (or hooklane.platform for operator work), and each policy admits only those
-- rows. The migrating role owns the tables and is not subject to these policies.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hooklane_app') THEN
    CREATE ROLE hooklane_app NOLOGIN NOBYPASSRLS;
  END IF;
EXCEPTION
  -- Another database on the same server created it at the same moment: fine.
  WHEN unique_violation OR duplicate_object THEN NULL;
  WHEN insufficient_privilege THEN
  RAISE NOTICE 'cannot create role hooklane_app: row-level security applies only if an operator creates it';
END $$;
--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'hooklane_app') THEN
    -- Members may SET ROLE hooklane_app, which is how the application's connections take it on.
    EXECUTE format('GRANT hooklane_app TO %I', current_user);
    GRANT USAGE ON SCHEMA public TO hooklane_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO hooklane_app;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'cannot grant hooklane_app: row-level security applies only if an operator grants it';
END $$;
--> statement-breakpoint
ALTER TABLE "tenants" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "tenant_usage" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "audit_log" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "event_types" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "subscriptions" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "events" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "deliveries" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "delivery_attempts" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "tenants" USING ("id" = current_setting('hooklane.tenant_id', true)) WITH CHECK ("id" = current_setting('hooklane.tenant_id', true));--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "tenant_usage" USING ("tenant_id" = current_setting('hooklane.tenant_id', true)) WITH CHECK ("tenant_id" = current_setting('hooklane.tenant_id', true));--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "audit_log" USING ("tenant_id" = current_setting('hooklane.tenant_id', true)) WITH CHECK ("tenant_id" = current_setting('hooklane.tenant_id', true));--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "event_types" USING ("tenant_id" = current_setting('hooklane.tenant_id', true)) WITH CHECK ("tenant_id" = current_setting('hooklane.tenant_id', true));--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "subscriptions" USING ("tenant_id" = current_setting('hooklane.tenant_id', true)) WITH CHECK ("tenant_id" = current_setting('hooklane.tenant_id', true));--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "events" USING ("tenant_id" = current_setting('hooklane.tenant_id', true)) WITH CHECK ("tenant_id" = current_setting('hooklane.tenant_id', true));--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "deliveries" USING ("tenant_id" = current_setting('hooklane.tenant_id', true)) WITH CHECK ("tenant_id" = current_setting('hooklane.tenant_id', true));--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "delivery_attempts" USING ("tenant_id" = current_setting('hooklane.tenant_id', true)) WITH CHECK ("tenant_id" = current_setting('hooklane.tenant_id', true));--> statement-breakpoint
CREATE POLICY "platform_access" ON "tenants" USING (current_setting('hooklane.platform', true) = 'on') WITH CHECK (current_setting('hooklane.platform', true) = 'on');--> statement-breakpoint
CREATE POLICY "platform_access" ON "tenant_usage" USING (current_setting('hooklane.platform', true) = 'on') WITH CHECK (current_setting('hooklane.platform', true) = 'on');--> statement-breakpoint
CREATE POLICY "platform_access" ON "audit_log" USING (current_setting('hooklane.platform', true) = 'on') WITH CHECK (current_setting('hooklane.platform', true) = 'on');--> statement-breakpoint
CREATE POLICY "platform_access" ON "event_types" USING (current_setting('hooklane.platform', true) = 'on') WITH CHECK (current_setting('hooklane.platform', true) = 'on');--> statement-breakpoint
CREATE POLICY "platform_access" ON "subscriptions" USING (current_setting('hooklane.platform', true) = 'on') WITH CHECK (current_setting('hooklane.platform', true) = 'on');--> statement-breakpoint
CREATE POLICY "platform_access" ON "events" USING (current_setting('hooklane.platform', true) = 'on') WITH CHECK (current_setting('hooklane.platform', true) = 'on');--> statement-breakpoint
CREATE POLICY "platform_access" ON "deliveries" USING (current_setting('hooklane.platform', true) = 'on') WITH CHECK (current_setting('hooklane.platform', true) = 'on');--> statement-breakpoint
CREATE POLICY "platform_access" ON "delivery_attempts" USING (current_setting('hooklane.platform', true) = 'on') WITH CHECK (current_setting('hooklane.platform', true) = 'on');
