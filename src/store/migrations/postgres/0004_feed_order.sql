-- The live tail across every topic (GET /events/stream without a topic) follows rows in
-- (tx, seq) order, tx being the id of the transaction that inserted the row, and reads only
-- rows below the oldest transaction still running (pg_snapshot_xmin): every transaction below
-- that horizon has ended, so no row can later appear behind a follower's position, even though
-- seq alone can commit out of order across topics and processes. Within one topic seq is
-- already commit order (topic_heads), and a topic's tail uses it, like GET /events.
--
-- Rows stored before this migration get tx 0: they are all committed, and come first.
-- Adding a column with a constant default is instant; only the index reads the table.
ALTER TABLE events ADD COLUMN IF NOT EXISTS tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ALTER COLUMN tx SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX IF NOT EXISTS events_tx_seq ON events (tx, seq);
