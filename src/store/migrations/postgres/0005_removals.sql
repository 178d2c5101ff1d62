-- Rows deleted by retention (expired) and by purges (purged), one row per aggregator instance
-- so that two instances pruning at once never contend on a counter. Written in the same
-- transaction as the DELETE it counts: after any crash, the rows stored equal the sum of
-- unique_processed minus the sum of expired and purged.
CREATE TABLE IF NOT EXISTS removal_counters (
    instance TEXT PRIMARY KEY,
    expired  BIGINT NOT NULL DEFAULT 0,
    purged   BIGINT NOT NULL DEFAULT 0
);
