-- One row per aggregator instance sharing the database, written every second by that
-- instance: what /stats lists under `instances`, with whether each looks alive.
CREATE TABLE IF NOT EXISTS instances (
    instance     TEXT PRIMARY KEY,
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);
