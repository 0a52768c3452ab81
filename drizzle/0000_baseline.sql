-- Hooklane's schema: tables, types, constraints, indexes, row-level security and triggers. The
-- functions live in src/db/functions, one file each, applied by src/db/migrate.ts at every start;
-- the trigger functions are applied before the migrations, so the triggers below can name them.
--
-- This migration carries the `when` of the last migration it stands for (see src/db/migrate.ts):
-- a database that already has that schema does not run it, and every later migration runs on both.
CREATE TYPE "public"."tenant_status" AS ENUM('ACTIVE', 'SUSPENDED');--> statement-breakpoint
CREATE TYPE "public"."payload_mode" AS ENUM('FULL', 'THIN');--> statement-breakpoint
CREATE TYPE "public"."subscription_disabled_reason" AS ENUM('MANUAL', 'FAILING', 'GONE');--> statement-breakpoint
CREATE TYPE "public"."delivery_status" AS ENUM('PENDING', 'SUCCEEDED', 'FAILED', 'HELD');--> statement-breakpoint
CREATE TYPE "public"."attempt_outcome" AS ENUM('SUCCESS', 'HTTP_ERROR', 'RATE_LIMITED', 'GONE', 'TIMEOUT', 'DNS_ERROR', 'CONNECTION_ERROR', 'TLS_ERROR', 'REFUSED');--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"status" "tenant_status" DEFAULT 'ACTIVE' NOT NULL,
	"quota_publish_rate" integer,
	"quota_publish_burst" integer,
	"quota_events_per_month" integer,
	"quota_subscriptions" integer,
	"quota_event_types" integer,
	"quota_payload_bytes" integer,
	"quota_deliveries_in_flight" integer,
	"publish_tokens" double precision,
	"publish_tokens_at" timestamp with time zone,
	"config_version" bigint DEFAULT 0 NOT NULL
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
CREATE TABLE "event_types" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"schema" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_types_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "event_types_name_format" CHECK ("event_types"."name" ~ '^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$')
);
--> statement-breakpoint
CREATE TABLE "subscriptions" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"url" text NOT NULL,
	"event_types" text[] NOT NULL,
	"description" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"secrets" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retry_schedule_ms" integer[],
	"ordered" boolean DEFAULT false NOT NULL,
	"channels" text[],
	"payload_mode" "payload_mode" DEFAULT 'FULL' NOT NULL,
	"rate_limit" integer,
	"rate_tokens" double precision,
	"rate_updated_at" timestamp with time zone,
	"max_in_flight" integer,
	"disabled_reason" "subscription_disabled_reason",
	"failing_since" timestamp with time zone,
	"failed_deliveries_in_row" integer DEFAULT 0 NOT NULL,
	"previous_secrets_expire_at" timestamp with time zone,
	"ed25519_secret_key" text,
	"ed25519_public_key" text,
	CONSTRAINT "subscriptions_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "subscriptions_has_secret" CHECK (cardinality("subscriptions"."secrets") >= 1),
	CONSTRAINT "subscriptions_rate_limit_positive" CHECK ("subscriptions"."rate_limit" is null or "subscriptions"."rate_limit" > 0),
	CONSTRAINT "subscriptions_max_in_flight_positive" CHECK ("subscriptions"."max_in_flight" is null or "subscriptions"."max_in_flight" > 0)
);
--> statement-breakpoint
-- Events and deliveries keep their references through the triggers at the end of this file, which
-- act once per statement, rather than foreign keys, which look up and lock a row for every row a
-- publish inserts.
CREATE TABLE "events" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"event_type" text NOT NULL,
	"body" text NOT NULL,
	"idempotency_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ordering_key" text,
	"channels" text[],
	CONSTRAINT "events_tenant_id_key" UNIQUE("tenant_id","id")
);
--> statement-breakpoint
-- Room left on each page, so that a claim (which changes only claimed_until, in no index) is a HOT update.
CREATE TABLE "deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"event_id" text NOT NULL,
	"subscription_id" text NOT NULL,
	"status" "delivery_status" DEFAULT 'PENDING' NOT NULL,
	"attempt_count" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ordering_key" text,
	"claimed_until" timestamp with time zone,
	"counted_claim_until" timestamp with time zone,
	CONSTRAINT "deliveries_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "deliveries_attempt_count_nonnegative" CHECK ("deliveries"."attempt_count" >= 0)
) WITH (fillfactor = 70);
--> statement-breakpoint
CREATE TABLE "delivery_attempts" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"delivery_id" text NOT NULL,
	"status_code" integer,
	"error" text,
	"duration_ms" integer NOT NULL,
	"response_body" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"outcome" "attempt_outcome" NOT NULL,
	CONSTRAINT "delivery_attempts_duration_nonnegative" CHECK ("delivery_attempts"."duration_ms" >= 0)
);
--> statement-breakpoint
-- Worker liveness: each worker pool's last heartbeat. The application role reaches it only through
-- the SECURITY DEFINER functions hooklane_worker_heartbeat, hooklane_worker_stopped and
-- hooklane_unlock_dead_workers.
CREATE TABLE "hooklane_worker_heartbeats" (
	"worker_id" text PRIMARY KEY NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tenant_usage" ADD CONSTRAINT "tenant_usage_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_types" ADD CONSTRAINT "event_types_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "delivery_attempts" ADD CONSTRAINT "delivery_attempts_tenant_id_delivery_id_deliveries_tenant_id_id_fk" FOREIGN KEY ("tenant_id","delivery_id") REFERENCES "public"."deliveries"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_tenant_idx" ON "audit_log" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "event_types_tenant_name_key" ON "event_types" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE INDEX "subscriptions_event_types_idx" ON "subscriptions" USING gin ("event_types");--> statement-breakpoint
-- Partial: an event without an idempotency key (most) costs no entry; NULLs never conflict anyway.
CREATE UNIQUE INDEX "events_tenant_idempotency_key" ON "events" USING btree ("tenant_id","idempotency_key") WHERE "events"."idempotency_key" is not null;--> statement-breakpoint
CREATE INDEX "deliveries_event_idx" ON "deliveries" USING btree ("event_id");--> statement-breakpoint
-- Every read of deliveries by subscription names a status, or only the subscription (a prefix).
CREATE INDEX "deliveries_subscription_status_idx" ON "deliveries" USING btree ("subscription_id","status","id");--> statement-breakpoint
CREATE INDEX "deliveries_pending_by_tenant_idx" ON "deliveries" USING btree ("tenant_id") WHERE "deliveries"."status" = 'PENDING';--> statement-breakpoint
-- Only the claims a limit counts (maxInFlight, the tenant's in-flight quota): other claims stay HOT.
CREATE INDEX "deliveries_counted_claims_idx" ON "deliveries" USING btree ("tenant_id","subscription_id") WHERE "deliveries"."counted_claim_until" is not null;--> statement-breakpoint
CREATE INDEX "delivery_attempts_delivery_idx" ON "delivery_attempts" USING btree ("delivery_id","id");--> statement-breakpoint
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
-- The tenant tables only: hooklane_worker_heartbeats has no policy and is reached through functions.
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'hooklane_app') THEN
    -- Members may SET ROLE hooklane_app, which is how the application's connections take it on.
    EXECUTE format('GRANT hooklane_app TO %I', current_user);
    GRANT USAGE ON SCHEMA public TO hooklane_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON
      tenants, tenant_usage, audit_log, event_types, subscriptions, events, deliveries, delivery_attempts
    TO hooklane_app;
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
CREATE POLICY "platform_access" ON "delivery_attempts" USING (current_setting('hooklane.platform', true) = 'on') WITH CHECK (current_setting('hooklane.platform', true) = 'on');--> statement-breakpoint
-- The publish context version (tenants.config_version) moves with every change that fan-out or
-- validation reads.
CREATE TRIGGER "subscriptions_publish_context_version"
AFTER INSERT OR DELETE OR UPDATE OF enabled, ordered, event_types, channels ON "subscriptions"
FOR EACH ROW EXECUTE FUNCTION hooklane_bump_config_version();--> statement-breakpoint
CREATE TRIGGER "event_types_publish_context_version"
AFTER INSERT OR DELETE OR UPDATE OF name, schema ON "event_types"
FOR EACH ROW EXECUTE FUNCTION hooklane_bump_config_version();--> statement-breakpoint
-- References kept per statement: an inserted event's tenant exists; an inserted delivery's event
-- and subscription exist and are its tenant's (unless the inserting statement vouches for them:
-- hooklane.deliveries_vouched); these references never change; deleting a tenant deletes its
-- events, deleting subscriptions or events deletes their deliveries.
CREATE TRIGGER "events_tenant_exists" AFTER INSERT ON "events"
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION hooklane_check_event_references();--> statement-breakpoint
CREATE TRIGGER "deliveries_references_exist" AFTER INSERT ON "deliveries"
REFERENCING NEW TABLE AS added FOR EACH STATEMENT
WHEN (current_setting('hooklane.deliveries_vouched', true) IS DISTINCT FROM 'on')
EXECUTE FUNCTION hooklane_check_delivery_references();--> statement-breakpoint
CREATE TRIGGER "events_references_fixed" BEFORE UPDATE OF tenant_id ON "events"
FOR EACH ROW EXECUTE FUNCTION hooklane_keep_references('tenant_id');--> statement-breakpoint
CREATE TRIGGER "deliveries_references_fixed" BEFORE UPDATE OF tenant_id, event_id, subscription_id ON "deliveries"
FOR EACH ROW EXECUTE FUNCTION hooklane_keep_references('tenant_id', 'event_id', 'subscription_id');--> statement-breakpoint
CREATE TRIGGER "tenants_delete_events" AFTER DELETE ON "tenants"
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION hooklane_delete_dependents();--> statement-breakpoint
CREATE TRIGGER "subscriptions_delete_deliveries" AFTER DELETE ON "subscriptions"
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION hooklane_delete_dependents();--> statement-breakpoint
CREATE TRIGGER "events_delete_deliveries" AFTER DELETE ON "events"
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION hooklane_delete_dependents();
