-- Events, one row per distinct (topic, event_id). The primary key is what makes the effect of
-- at-least-once delivery exactly-once: every insert is ON CONFLICT DO NOTHING.
CREATE TABLE IF NOT EXISTS events (
    -- Commit sequence number: within a topic, listing order. A topic is owned by one shard,
    -- which commits one batch at a time, so within a topic seq follows commit order.
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    -- Byte-order collation: the same order as the embedded store and as Rust's str, whatever
    -- the database's locale, and cheaper comparisons in the two indexes that hold these keys.
    topic       TEXT COLLATE "C" NOT NULL,
    event_id    TEXT COLLATE "C" NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    source      TEXT        NOT NULL,
    -- json, not jsonb: the payload is returned exactly as it was published.
    payload     JSON        NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, event_id)
);

-- Serves GET /events: per-topic ordered listing and keyset pagination on (topic, seq).
CREATE UNIQUE INDEX IF NOT EXISTS events_topic_seq ON events (topic, seq);

-- Counters are written in the same transaction as the rows they count, one row per
-- (aggregator instance, shard) so that concurrent commits never contend on a counter.
CREATE TABLE IF NOT EXISTS shard_counters (
    instance          TEXT    NOT NULL,
    shard             INTEGER NOT NULL,
    received          BIGINT  NOT NULL DEFAULT 0,
    unique_processed  BIGINT  NOT NULL DEFAULT 0,
    duplicate_dropped BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (instance, shard)
);
