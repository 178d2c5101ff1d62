-- Events, one row per distinct (topic, event_id): the same schema as the PostgreSQL backend.
-- Every insert is ON CONFLICT (topic, event_id) DO NOTHING, which makes at-least-once delivery
-- exactly-once in effect.
CREATE TABLE IF NOT EXISTS events (
    -- Commit sequence number (the rowid). Since retention (0002) the writer gives it: one more
    -- than the highest ever given, so it only increases even when rows are deleted; it follows
    -- commit order because one writer connection commits one transaction at a time.
    seq         INTEGER PRIMARY KEY,
    topic       TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    -- Publisher timestamp, microseconds since the Unix epoch (UTC): exact comparisons for
    -- since/until and the same precision as PostgreSQL's timestamptz.
    ts          INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    -- The payload text exactly as published.
    payload     TEXT    NOT NULL,
    -- Commit time, microseconds since the Unix epoch (UTC).
    received_at INTEGER NOT NULL,
    UNIQUE (topic, event_id)
);

-- Serves GET /events: per-topic ordered listing and keyset pagination on (topic, seq).
CREATE UNIQUE INDEX IF NOT EXISTS events_topic_seq ON events (topic, seq);

-- Counters, written in the same transaction as the rows they count; one row per shard. One
-- process owns the file, so unlike PostgreSQL there is no instance column.
CREATE TABLE IF NOT EXISTS shard_counters (
    shard             INTEGER PRIMARY KEY,
    received          INTEGER NOT NULL DEFAULT 0,
    unique_processed  INTEGER NOT NULL DEFAULT 0,
    duplicate_dropped INTEGER NOT NULL DEFAULT 0
);
