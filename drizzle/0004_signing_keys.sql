ALTER TABLE "subscriptions" ADD COLUMN "previous_secrets_expire_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "ed25519_secret_key" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "ed25519_public_key" text;