-- One row per topic, locked by every commit that writes the topic, from before its events
-- take their seq until it commits. Commits of the same topic therefore serialise across every
-- process sharing the database, and within a topic seq follows commit order: a reader that
-- pages past seq n can never later find a newly committed event below n. (A seq taken at
-- insert time by one process could otherwise become visible after a higher one committed by
-- another.) `commits` only makes the upsert a real update, which is what takes the row lock.
--
-- `id` numbers topics in the order they first appeared, so that each aggregator can pick up
-- the topics other instances added since it last looked (cluster-wide /stats) without
-- re-reading them all.
CREATE TABLE IF NOT EXISTS topic_heads (
    topic   TEXT COLLATE "C" PRIMARY KEY,
    commits BIGINT NOT NULL DEFAULT 0,
    id      BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

-- Topics stored before this table existed, by a loose index scan (one probe per topic).
INSERT INTO topic_heads (topic)
WITH RECURSIVE t AS (
    SELECT min(topic) AS topic FROM events
    UNION ALL
    SELECT (SELECT min(topic) FROM events WHERE topic > t.topic) FROM t WHERE t.topic IS NOT NULL
)
SELECT topic FROM t WHERE topic IS NOT NULL
ON CONFLICT (topic) DO NOTHING;
