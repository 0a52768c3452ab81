CREATE TYPE "public"."attempt_outcome" AS ENUM('SUCCESS', 'HTTP_ERROR', 'RATE_LIMITED', 'GONE', 'TIMEOUT', 'DNS_ERROR', 'CONNECTION_ERROR', 'TLS_ERROR', 'REFUSED');--> statement-breakpoint
CREATE TYPE "public"."subscription_disabled_reason" AS ENUM('MANUAL', 'FAILING', 'GONE');--> statement-breakpoint
CREATE TYPE "public"."payload_mode" AS ENUM('FULL', 'THIN');--> statement-breakpoint
ALTER TYPE "public"."delivery_status" ADD VALUE 'HELD';--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "ordering_key" text;--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "claimed_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "delivery_attempts" ADD COLUMN "outcome" "attempt_outcome";--> statement-breakpoint
UPDATE "delivery_attempts" SET "outcome" = CASE WHEN "status_code" BETWEEN 200 AND 299 THEN 'SUCCESS'::"attempt_outcome" WHEN "status_code" IS NOT NULL THEN 'HTTP_ERROR'::"attempt_outcome" WHEN "error" LIKE 'timed out%' THEN 'TIMEOUT'::"attempt_outcome" WHEN "error" LIKE 'refused%' THEN 'REFUSED'::"attempt_outcome" ELSE 'CONNECTION_ERROR'::"attempt_outcome" END;--> statement-breakpoint
ALTER TABLE "delivery_attempts" ALTER COLUMN "outcome" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "ordering_key" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "channels" text[];--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "retry_schedule_ms" integer[];--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "ordered" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "channels" text[];--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "payload_mode" "payload_mode" DEFAULT 'FULL' NOT NULL;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "rate_limit" integer;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "rate_tokens" double precision;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "rate_updated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "max_in_flight" integer;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "disabled_reason" "subscription_disabled_reason";--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "failing_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "failed_deliveries_in_row" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "deliveries_subscription_status_idx" ON "deliveries" USING btree ("subscription_id","status","id");--> statement-breakpoint
CREATE INDEX "deliveries_claimed_idx" ON "deliveries" USING btree ("subscription_id") WHERE "deliveries"."claimed_until" is not null;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_rate_limit_positive" CHECK ("subscriptions"."rate_limit" is null or "subscriptions"."rate_limit" > 0);--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_max_in_flight_positive" CHECK ("subscriptions"."max_in_flight" is null or "subscriptions"."max_in_flight" > 0);