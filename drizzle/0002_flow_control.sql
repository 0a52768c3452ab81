ALTER TABLE "subscriptions" ADD COLUMN "rate_window_ticks" bigint[];--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "rate_window_counts" integer[];--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "flow_turn_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" DROP COLUMN "rate_tokens";--> statement-breakpoint
ALTER TABLE "subscriptions" DROP COLUMN "rate_updated_at";