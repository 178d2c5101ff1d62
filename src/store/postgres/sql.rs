//! The SQL of the PostgreSQL backend: migrations and the statements the store prepares.

/// Ordered schema migrations; each runs once, in its own transaction, under an advisory lock
/// so that several aggregators starting together do not race.
pub(super) const MIGRATIONS: [(i32, &str); 3] = [
    (1, include_str!("../migrations/postgres/0001_events.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_topic_heads.sql"),
    ),
    (3, include_str!("../migrations/postgres/0003_instances.sql")),
];

/// Arbitrary but fixed key for `pg_advisory_xact_lock` around migrations.
pub(super) const MIGRATION_LOCK_KEY: i64 = 0x6167_6772_6567_6174;

/// One group commit in one statement. `heads` locks the commit's topics in topic order (so two
/// commits cannot deadlock) before any of its events takes a `seq`: the `WHERE` on `inserted`
/// reads `heads` through a sub-query that PostgreSQL runs before the insert's first row. The
/// locks hold until the statement commits, so same-topic commits of every process serialise
/// and, within a topic, `seq` follows commit order (see migration 0002).
pub(super) const COMMIT_SQL: &str = "\
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
        AS i(topic, event_id, ts, source, payload)
), heads AS (
    INSERT INTO topic_heads AS h (topic)
    SELECT DISTINCT topic FROM input ORDER BY topic
    ON CONFLICT (topic) DO UPDATE SET commits = h.commits + 1
    RETURNING topic
), inserted AS (
    INSERT INTO events (topic, event_id, ts, source, payload)
    SELECT topic, event_id, ts, source, payload::json FROM input
    WHERE (SELECT count(*) FROM heads) >= 0
    ON CONFLICT (topic, event_id) DO NOTHING
    RETURNING topic, event_id
), counted AS (
    INSERT INTO shard_counters AS c (instance, shard, received, unique_processed, duplicate_dropped)
    SELECT $6, $7, $8, k.n, $8 - k.n FROM (SELECT count(*) AS n FROM inserted) AS k
    ON CONFLICT (instance, shard) DO UPDATE SET
        received = c.received + excluded.received,
        unique_processed = c.unique_processed + excluded.unique_processed,
        duplicate_dropped = c.duplicate_dropped + excluded.duplicate_dropped
    RETURNING received, unique_processed, duplicate_dropped
)
SELECT topic, event_id, NULL::bigint, NULL::bigint, NULL::bigint FROM inserted
UNION ALL
SELECT NULL, NULL, received, unique_processed, duplicate_dropped FROM counted";

/// Distinct topics by a loose index scan over the primary key: one index probe per topic
/// instead of a scan of every row, so start-up stays fast with millions of events.
pub(super) const TOPICS_SQL: &str = "\
WITH RECURSIVE t AS (
    SELECT min(topic) AS topic FROM events
    UNION ALL
    SELECT (SELECT min(topic) FROM events WHERE topic > t.topic) FROM t WHERE t.topic IS NOT NULL
)
SELECT topic FROM t WHERE topic IS NOT NULL";

/// Per shard: the sum over every instance, then this instance's own row (zeros when absent).
pub(super) const COUNTERS_SQL: &str = "\
SELECT shard,
       sum(received)::bigint, sum(unique_processed)::bigint, sum(duplicate_dropped)::bigint,
       coalesce(sum(received) FILTER (WHERE instance = $1), 0)::bigint,
       coalesce(sum(unique_processed) FILTER (WHERE instance = $1), 0)::bigint,
       coalesce(sum(duplicate_dropped) FILTER (WHERE instance = $1), 0)::bigint
FROM shard_counters GROUP BY shard ORDER BY shard";

/// This instance's counter row of one shard.
pub(super) const OWN_COUNTERS_SQL: &str = "\
SELECT received, unique_processed, duplicate_dropped FROM shard_counters
WHERE instance = $1 AND shard = $2";

/// Records this instance's heartbeat (its start time is kept from its first beat).
pub(super) const HEARTBEAT_SQL: &str = "\
INSERT INTO instances (instance, started_at, heartbeat_at) VALUES ($1, $2, now())
ON CONFLICT (instance) DO UPDATE SET started_at = excluded.started_at, heartbeat_at = now()";

/// Topics first committed after a position, in that order, a bounded number at a time.
pub(super) const NEW_TOPICS_SQL: &str =
    "SELECT id, topic FROM topic_heads WHERE id > $1 ORDER BY id LIMIT $2";

/// Every instance and its last heartbeat, with the database's clock for comparison.
pub(super) const INSTANCES_SQL: &str =
    "SELECT instance, started_at, heartbeat_at, now() FROM instances ORDER BY instance";
