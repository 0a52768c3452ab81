ALTER TABLE "event_types" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "event_types" ADD COLUMN "deprecated" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "event_types" ADD COLUMN "archived_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "event_type_version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "test" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- hand-written:
-- Archiving refuses publishes, so the publish context version moves with archived_at too.
DROP TRIGGER "event_types_publish_context_version" ON "event_types";--> statement-breakpoint
CREATE TRIGGER "event_types_publish_context_version"
AFTER INSERT OR DELETE OR UPDATE OF name, schema, archived_at ON "event_types"
FOR EACH ROW EXECUTE FUNCTION hooklane_bump_config_version();
