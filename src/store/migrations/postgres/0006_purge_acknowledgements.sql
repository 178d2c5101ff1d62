-- The summed `purged` counter as of the last purge this instance has made its shards forget
-- their remembered keys for: a purge answers once every live instance has caught up with it,
-- so that a purged key published again on any of them is stored again.
ALTER TABLE instances ADD COLUMN IF NOT EXISTS purges_seen BIGINT NOT NULL DEFAULT 0;
