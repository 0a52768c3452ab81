-- Every read of deliveries by subscription names a status (due, held, failed in a window) or only
-- the subscription (the deletion of its deliveries), and deliveries_subscription_status_idx
-- (subscription_id, status, id) serves both. (subscription_id, id) alone, from 0000, served none of
-- them, and cost an index entry for every delivery written and every status change: 8 ms of a
-- 1,000-event publishEvents' 75 in PostgreSQL.
DROP INDEX IF EXISTS "deliveries_subscription_idx";
