-- Only events with an idempotency key get an entry in its unique index: most events have none, and
-- NULL keys never conflict, so their entries only cost every publish an index insert. The ON CONFLICT
-- of hooklane_write_events (0015) names the predicate, so it matches this index. On a large events
-- table, rebuilding the index holds writes to events for as long as the build takes.
DROP INDEX "events_tenant_idempotency_key";--> statement-breakpoint
CREATE UNIQUE INDEX "events_tenant_idempotency_key" ON "events" USING btree ("tenant_id","idempotency_key") WHERE "events"."idempotency_key" is not null;