CREATE TYPE "public"."endpoint_auth_type" AS ENUM('BEARER', 'BASIC', 'OAUTH2');--> statement-breakpoint
ALTER TYPE "public"."attempt_outcome" ADD VALUE 'PROXY_ERROR';--> statement-breakpoint
ALTER TYPE "public"."attempt_outcome" ADD VALUE 'OAUTH2_ERROR';--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "header_names" text[];--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "headers" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "auth_type" "endpoint_auth_type";--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "auth_credentials" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "tls_client_certificate" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "tls_client_key" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "tls_client_certificate_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "tls_ca_certificate" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "endpoint_version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_headers_complete" CHECK (("subscriptions"."header_names" is null) = ("subscriptions"."headers" is null));--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_auth_complete" CHECK (("subscriptions"."auth_type" is null) = ("subscriptions"."auth_credentials" is null));--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_tls_client_complete" CHECK (("subscriptions"."tls_client_certificate" is null) = ("subscriptions"."tls_client_key" is null));