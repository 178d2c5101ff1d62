-- One row per topic, locked by every commit that writes the topic, from before its events
-- take their seq until it commits. Commits of the same topic therefore serialise across every
-- process sharing the database, and within a topic seq follows commit order: a reader that
-- pages past seq n can never later find a newly committed event below n. (A seq taken at
-- insert time by one process could otherwise become visible after a higher one committed by
-- another.) `commits` only makes the upsert a real update, which is what takes the row lock.
CREATE TABLE IF NOT EXISTS topic_heads (
    topic   TEXT COLLATE "C" PRIMARY KEY,
    commits BIGINT NOT NULL DEFAULT 0
);
