ALTER TABLE "events" ALTER COLUMN "body" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "payload_expunged_at" timestamp with time zone;