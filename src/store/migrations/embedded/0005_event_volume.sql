-- Event volume (src/store/volume.rs): events per minute of their timestamp, by topic and by the
-- payload's `level`, so that the log volume of a topic, split by level, or the errors of a day,
-- are sums over a row per topic, level and minute instead of counts over the events. The same
-- table as the PostgreSQL backend's.
--
-- `level_kind` says what the payload's `level` is: 0 absent, 1 a string of at most 64 bytes
-- (then `level` holds it), 2 anything else (`level` is empty). The view below computes it from
-- the payload, as SQLite reads JSON, and the removal trigger computes it the same way, so what
-- is added and what is subtracted always agree.
CREATE TABLE IF NOT EXISTS event_volume (
    minute     INTEGER NOT NULL,
    topic      TEXT    NOT NULL,
    level_kind INTEGER NOT NULL,
    level      TEXT    NOT NULL,
    events     INTEGER NOT NULL,
    PRIMARY KEY (minute, topic, level_kind, level)
) WITHOUT ROWID;

-- Each row's key in the volume. `ts` is in microseconds; the minute is a floor division, also
-- before 1970 (`/` and `%` truncate toward zero).
CREATE VIEW IF NOT EXISTS event_volume_keys AS
SELECT seq, (ts - (((ts % 60000000) + 60000000) % 60000000)) / 60000000 AS minute, topic,
       CASE
           WHEN NOT json_valid(payload) THEN 2
           WHEN json_type(payload, '$.level') IS NULL THEN 0
           WHEN json_type(payload, '$.level') = 'text'
                AND length(CAST(payload ->> '$.level' AS BLOB)) <= 64 THEN 1
           ELSE 2
       END AS level_kind,
       CASE
           WHEN json_valid(payload) AND json_type(payload, '$.level') = 'text'
                AND length(CAST(payload ->> '$.level' AS BLOB)) <= 64
           THEN payload ->> '$.level'
           ELSE ''
       END AS level
FROM events;

-- The writer adds a group's rows in the transaction that inserts them (embedded/writer.rs);
-- this trigger subtracts a row in the transaction that deletes it: retention, purge and removal
-- alike. A minute's row that reaches zero goes.
CREATE TRIGGER IF NOT EXISTS events_volume_delete AFTER DELETE ON events BEGIN
    UPDATE event_volume SET events = events - 1
    WHERE (minute, topic, level_kind, level) = (
        SELECT minute, topic, level_kind, level FROM (
            SELECT (old.ts - (((old.ts % 60000000) + 60000000) % 60000000)) / 60000000 AS minute,
                   old.topic AS topic,
                   CASE
                       WHEN NOT json_valid(old.payload) THEN 2
                       WHEN json_type(old.payload, '$.level') IS NULL THEN 0
                       WHEN json_type(old.payload, '$.level') = 'text'
                            AND length(CAST(old.payload ->> '$.level' AS BLOB)) <= 64 THEN 1
                       ELSE 2
                   END AS level_kind,
                   CASE
                       WHEN json_valid(old.payload) AND json_type(old.payload, '$.level') = 'text'
                            AND length(CAST(old.payload ->> '$.level' AS BLOB)) <= 64
                       THEN old.payload ->> '$.level'
                       ELSE ''
                   END AS level
        )
    );
    DELETE FROM event_volume
    WHERE minute = (old.ts - (((old.ts % 60000000) + 60000000) % 60000000)) / 60000000
      AND topic = old.topic AND events <= 0;
END;

-- Rows stored before this table existed, counted once, here: one pass over the events.
INSERT INTO event_volume (minute, topic, level_kind, level, events)
SELECT minute, topic, level_kind, level, count(*) FROM event_volume_keys
GROUP BY minute, topic, level_kind, level;
