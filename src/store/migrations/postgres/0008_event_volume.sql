-- Event volume (src/store/volume.rs): events per minute of their timestamp, by topic and by the
-- payload's `level`, so that the log volume of a topic, split by level, or the errors of a day,
-- are sums over a row per topic, level and minute instead of counts over the events.
--
-- `level_kind` says what the payload's `level` is: 0 absent, 1 a string of at most 64 bytes
-- (then `level` holds it), 2 anything else (`level` is empty). Computed by the triggers below
-- from the payload, as the database reads JSON, both when a row is counted and when it is
-- removed, so the two always agree: `payload -> 'level'` scans the stored text for the field
-- (the last of duplicate keys, as `jsonb` and the model read it) at half the cost of parsing
-- the whole payload into `jsonb`, and only the value found is converted.
CREATE TABLE IF NOT EXISTS event_volume (
    minute     BIGINT           NOT NULL,
    topic      TEXT COLLATE "C" NOT NULL,
    level_kind SMALLINT         NOT NULL,
    level      TEXT COLLATE "C" NOT NULL,
    events     BIGINT           NOT NULL,
    PRIMARY KEY (minute, topic, level_kind, level)
);

CREATE OR REPLACE FUNCTION event_volume_kind(level jsonb) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE
        WHEN level IS NULL THEN 0
        WHEN jsonb_typeof(level) = 'string' AND octet_length(level #>> '{}') <= 64 THEN 1
        ELSE 2
    END)::smallint
$$;

CREATE OR REPLACE FUNCTION event_volume_level(level jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(level) = 'string' AND octet_length(level #>> '{}') <= 64
        THEN level #>> '{}'
        ELSE ''
    END
$$;

-- Rows stored before this table existed are counted by a background task (postgres/volume.rs)
-- in (topic, seq) order, a bounded batch per transaction: `upto_seq` is the highest seq they
-- can have, (`done_topic`, `done_seq`) the last row counted so far, `complete` set once every
-- one is. Until then the store answers every count from the events. The task locks this row
-- (FOR UPDATE) around each batch and the removal trigger reads it FOR SHARE, so a removal
-- subtracts exactly the rows that were added: those counted by the task or by the insert
-- trigger.
CREATE TABLE IF NOT EXISTS event_volume_backfill (
    singleton  BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    upto_seq   BIGINT  NOT NULL,
    done_topic TEXT COLLATE "C",
    done_seq   BIGINT,
    complete   BOOLEAN NOT NULL
);

-- Statement-level triggers with transition tables: one aggregate per commit, whatever wrote
-- the rows. Rows are upserted in key order, so two transactions touching the same minutes
-- lock them in the same order.
CREATE OR REPLACE FUNCTION event_volume_count_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_volume AS v (minute, topic, level_kind, level, events)
    SELECT minute, topic, event_volume_kind(level), event_volume_level(level), count(*)
    FROM (
        SELECT floor(extract(epoch FROM ts) / 60)::bigint AS minute, topic,
               (payload -> 'level')::jsonb AS level
        FROM added OFFSET 0
    ) AS keyed
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (minute, topic, level_kind, level)
        DO UPDATE SET events = v.events + excluded.events;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION event_volume_count_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    state event_volume_backfill;
BEGIN
    SELECT * INTO state FROM event_volume_backfill;
    IF NOT state.complete THEN
        SELECT * INTO state FROM event_volume_backfill FOR SHARE;
    END IF;
    WITH keyed AS MATERIALIZED (
        SELECT floor(extract(epoch FROM ts) / 60)::bigint AS minute, topic,
               (payload -> 'level')::jsonb AS level
        FROM removed
        WHERE state.complete OR seq > state.upto_seq
           OR (state.done_topic IS NOT NULL AND (topic, seq) <= (state.done_topic, state.done_seq))
    ), gone AS (
        SELECT minute, topic, event_volume_kind(level) AS level_kind,
               event_volume_level(level) AS level, count(*) AS events
        FROM keyed GROUP BY 1, 2, 3, 4
    ), locked AS (
        SELECT v.minute, v.topic, v.level_kind, v.level, gone.events
        FROM event_volume AS v
        JOIN gone USING (minute, topic, level_kind, level)
        ORDER BY 1, 2, 3, 4
        FOR UPDATE OF v
    )
    UPDATE event_volume AS v SET events = v.events - locked.events
    FROM locked
    WHERE (v.minute, v.topic, v.level_kind, v.level)
        = (locked.minute, locked.topic, locked.level_kind, locked.level);
    DELETE FROM event_volume AS v
    USING (SELECT DISTINCT floor(extract(epoch FROM ts) / 60)::bigint AS minute, topic
           FROM removed) AS touched
    WHERE v.minute = touched.minute AND v.topic = touched.topic AND v.events <= 0;
    RETURN NULL;
END
$$;

-- Taken before the highest seq is read: it waits for every commit in progress and holds new
-- ones until this migration commits, so every row either has a seq up to `upto_seq` or fires
-- the insert trigger.
LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO event_volume_backfill (upto_seq, done_topic, done_seq, complete)
SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('events', 'seq')::regclass), 0),
       NULL, NULL, NOT EXISTS (SELECT 1 FROM events)
ON CONFLICT (singleton) DO NOTHING;

DROP TRIGGER IF EXISTS events_volume_added ON events;
CREATE TRIGGER events_volume_added AFTER INSERT ON events
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION event_volume_count_added();

DROP TRIGGER IF EXISTS events_volume_removed ON events;
CREATE TRIGGER events_volume_removed AFTER DELETE ON events
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION event_volume_count_removed();
