//! The SQL of the PostgreSQL backend: migrations and the statements the store prepares.

/// Ordered schema migrations; each runs once, in its own transaction, under an advisory lock
/// so that several aggregators starting together do not race.
pub(super) const MIGRATIONS: [(i32, &str); 8] = [
    (1, include_str!("../migrations/postgres/0001_events.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_topic_heads.sql"),
    ),
    (3, include_str!("../migrations/postgres/0003_instances.sql")),
    (
        4,
        include_str!("../migrations/postgres/0004_feed_order.sql"),
    ),
    (5, include_str!("../migrations/postgres/0005_removals.sql")),
    (
        6,
        include_str!("../migrations/postgres/0006_purge_acknowledgements.sql"),
    ),
    (7, include_str!("../migrations/postgres/0007_search.sql")),
    (
        8,
        include_str!("../migrations/postgres/0008_event_volume.sql"),
    ),
];

/// Arbitrary but fixed key for `pg_advisory_xact_lock` around migrations.
pub(super) const MIGRATION_LOCK_KEY: i64 = 0x6167_6772_6567_6174;

/// Key space of the per-topic advisory locks (the two-key form, so that it never meets the
/// one-key migration lock).
pub(super) const TOPIC_LOCK_SPACE: i32 = 0x6167_6774;

/// Key space of the pruners' per-topic advisory locks: one instance at a time deletes from a
/// topic; the others skip it (a try-lock) rather than wait on its rows.
pub(super) const PRUNE_LOCK_SPACE: i32 = 0x6167_6770;

/// Key space of the pruners' sweep lock (key 0): one instance at a time sweeps the default
/// retention; the others leave it to that one for the walk.
pub(super) const SWEEP_LOCK_SPACE: i32 = 0x6167_6777;

/// The part of a commit that writes rows, shared by [`COMMIT_SQL`] and [`COMMIT_ROWS_SQL`]:
/// the input, the per-topic locks, the new topics and the inserted events (see [`COMMIT_SQL`]).
macro_rules! commit_rows {
    () => {
        "\
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
                         $10::text[])
        AS i(topic, event_id, ts, source, payload, words)
), locks AS (
    SELECT pg_advisory_xact_lock($9, k.key) FROM (
        SELECT DISTINCT hashtext(topic) AS key FROM input ORDER BY key
    ) AS k
), heads AS (
    INSERT INTO topic_heads (topic)
    SELECT DISTINCT topic FROM input
    WHERE (SELECT count(*) FROM locks) >= 0
    ON CONFLICT (topic) DO NOTHING
    RETURNING topic
), inserted AS (
    INSERT INTO events (topic, event_id, ts, source, payload, words, tx)
    SELECT topic, event_id, ts, source, payload::json, words,
           (SELECT pg_current_xact_id()::text::bigint) FROM input
    WHERE (SELECT count(*) FROM locks) >= 0
    ON CONFLICT (topic, event_id) DO NOTHING
    RETURNING topic, event_id
)"
    };
}

/// One group commit in one statement: the rows (`commit_rows!`) and the counter row. `locks`
/// takes a transaction-level advisory lock per topic of the commit, in lock-key order (so two
/// commits cannot deadlock), before anything is written: the `WHERE`s of `heads` and `inserted` read `locks` through a sub-query that
/// PostgreSQL runs before their first row. The locks hold until the statement commits, so
/// same-topic commits of every process serialise and, within a topic, `seq` follows commit
/// order. An advisory lock needs no transaction id, so the commit takes its id (`tx`, the live
/// tail's order across topics) only once it holds its topics: within a topic `tx` follows
/// commit order too. `heads` records topics first seen (their `id` numbers them for the
/// cluster view) and never updates a row. `tx` is read once per commit, not once per row
/// (the column's default, for other writers).
pub(super) const COMMIT_SQL: &str = concat!(
    commit_rows!(),
    ", counted AS (
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
SELECT NULL, NULL, received, unique_processed, duplicate_dropped FROM counted"
);

/// The rows of [`COMMIT_SQL`] without the counter row: the naive design `aggregator bench
/// ceiling --without-counters` measures. Prepared with the types of `$6`-`$8` given, since it
/// binds the same parameters and does not read those three.
pub(super) const COMMIT_ROWS_SQL: &str = concat!(
    commit_rows!(),
    "\nSELECT topic, event_id, NULL::bigint, NULL::bigint, NULL::bigint FROM inserted"
);

/// Whether this connection's node takes no writes: a standby (in recovery), or a session whose
/// transactions are read-only.
pub(super) const READ_ONLY_SQL: &str =
    "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::bool";

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

/// Records the summed `purged` counter this instance's shards have forgotten keys for.
pub(super) const ACKNOWLEDGE_PURGES_SQL: &str =
    "UPDATE instances SET purges_seen = greatest(purges_seen, $2) WHERE instance = $1";

/// Other instances that look alive (a heartbeat within `$2` seconds) and have not yet
/// acknowledged every purge counted so far.
pub(super) const BEHIND_ON_PURGES_SQL: &str = "\
SELECT instance FROM instances
WHERE instance <> $1 AND heartbeat_at > now() - make_interval(secs => $2)
  AND purges_seen < (SELECT coalesce(sum(purged), 0) FROM removal_counters)
ORDER BY instance";

/// Topics first committed after a position, in that order, a bounded number at a time.
pub(super) const NEW_TOPICS_SQL: &str =
    "SELECT id, topic FROM topic_heads WHERE id > $1 ORDER BY id LIMIT $2";

/// Every instance and its last heartbeat, with the database's clock for comparison.
pub(super) const INSTANCES_SQL: &str =
    "SELECT instance, started_at, heartbeat_at, now() FROM instances ORDER BY instance";

/// The next events of one topic after a `seq`. `scanned` reads the next `$7` rows of the
/// topic (the `(topic, seq)` index), matching or not: what bounds the read when the filters
/// match little. `page` keeps the first `$4` that match the source (`$3`, none when NULL) and
/// the topic prefixes (`$6`; an empty array is no filter, and a custom plan folds the test
/// away); only those are read again (`events_topic_seq`) for their payload, cut by payload
/// bytes (`$5`; rows past it never leave the server). The last row, `topic` NULL, is the last
/// row scanned (none when nothing was): where the next read may start when the page was not
/// cut by `$4` or `$5` (`matched`, the events before the byte cut, tells).
pub(super) const FOLLOW_TOPIC_SQL: &str = "\
WITH scanned AS MATERIALIZED (
    SELECT seq, topic, source FROM events
    WHERE topic = $1 AND seq > $2
    ORDER BY seq LIMIT $7
), page AS (
    SELECT seq, topic FROM scanned
    WHERE ($3::text IS NULL OR source = $3)
      AND (cardinality($6::text[]) = 0 OR topic ^@ ANY($6::text[]))
    ORDER BY seq LIMIT $4
), sized AS (
    SELECT 0::bigint AS tx, e.seq, e.topic, e.event_id, e.ts, e.source,
           e.payload::text AS payload_text, e.received_at
    FROM page JOIN events AS e ON e.topic = page.topic AND e.seq = page.seq
), cut AS (
    SELECT *, sum(octet_length(payload_text)) OVER w AS running,
           row_number() OVER w AS position, count(*) OVER () AS matched
    FROM sized WINDOW w AS (ORDER BY seq)
)
SELECT tx, seq, topic, event_id, ts, source, payload_text, received_at, matched FROM cut
WHERE position = 1 OR running <= $5
UNION ALL
(SELECT 0::bigint, seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM scanned
 ORDER BY seq DESC LIMIT 1)
ORDER BY seq, topic NULLS LAST";

/// The next events of every topic after `(tx, seq)`, below the visibility horizon (migration
/// 0004): `scanned` reads the next `$7` rows in `(tx, seq)` order (the `events_tx_seq`
/// index), then filters, cuts and ends like [`FOLLOW_TOPIC_SQL`]. Every row scanned is below
/// the horizon, so the last one is a position nothing can later appear before.
pub(super) const FOLLOW_ALL_SQL: &str = "\
WITH scanned AS MATERIALIZED (
    SELECT tx, seq, topic, source FROM events
    WHERE (tx, seq) > ($1, $2)
      AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
    ORDER BY tx, seq LIMIT $7
), page AS (
    SELECT tx, seq, topic FROM scanned
    WHERE ($3::text IS NULL OR source = $3)
      AND (cardinality($6::text[]) = 0 OR topic ^@ ANY($6::text[]))
    ORDER BY tx, seq LIMIT $4
), sized AS (
    SELECT page.tx, e.seq, e.topic, e.event_id, e.ts, e.source,
           e.payload::text AS payload_text, e.received_at
    FROM page JOIN events AS e ON e.topic = page.topic AND e.seq = page.seq
), cut AS (
    SELECT *, sum(octet_length(payload_text)) OVER w AS running,
           row_number() OVER w AS position, count(*) OVER () AS matched
    FROM sized WINDOW w AS (ORDER BY tx, seq)
)
SELECT tx, seq, topic, event_id, ts, source, payload_text, received_at, matched FROM cut
WHERE position = 1 OR running <= $5
UNION ALL
(SELECT tx, seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM scanned
 ORDER BY tx DESC, seq DESC LIMIT 1)
ORDER BY tx, seq, topic NULLS LAST";

/// Where a tail of one topic that wants only new events starts.
pub(super) const TOPIC_END_SQL: &str = "SELECT coalesce(max(seq), 0) FROM events WHERE topic = $1";

/// Where a tail of every topic that wants only new events starts: the horizon. Rows of
/// transactions at or past it may still be running; they will be followed.
pub(super) const HORIZON_SQL: &str = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

/// The channel on which instances tell each other they committed (the payload is the sender's
/// instance id, so that each ignores its own).
pub(super) const COMMIT_CHANNEL: &str = "aggregator_commits";

/// One bounded deletion from one topic, counted in the same statement. `$1` topic, `$2` the
/// retention in seconds (NULL for a purge), `$3` the highest `seq` that may go, `$4` most rows
/// read, `$5` this instance, `$6` [`PRUNE_LOCK_SPACE`]. `lock` is a try-lock: when another
/// instance holds the topic, nothing is read (`held` false). `head` reads at most `$4` rows from
/// the start of the topic in `seq` order (the `(topic, seq)` index), and none at all when the
/// topic's first row is not due: a topic with nothing to expire costs one index probe. Of
/// those, `doomed` keeps the due ones; `counted` writes the counter row only when something was
/// deleted, so a probe that finds nothing writes nothing. The deadline is the database's
/// clock, the one that wrote `received_at`.
pub(super) const REMOVE_SQL: &str = "\
WITH lock AS (
    SELECT pg_try_advisory_xact_lock($6, hashtext($1)) AS held
), settings AS (
    SELECT now() - make_interval(secs => $2::float8) AS deadline
), head AS (
    SELECT seq, received_at FROM events
    WHERE topic = $1 AND seq <= $3
      AND (SELECT held FROM lock)
      AND ($2::float8 IS NULL OR (
          SELECT first.received_at FROM events AS first WHERE first.topic = $1
          ORDER BY first.seq LIMIT 1) < (SELECT deadline FROM settings))
    ORDER BY seq LIMIT $4
), doomed AS (
    SELECT seq FROM head
    WHERE $2::float8 IS NULL OR received_at < (SELECT deadline FROM settings)
), gone AS (
    DELETE FROM events AS e USING doomed AS d
    WHERE e.topic = $1 AND e.seq = d.seq
    RETURNING e.received_at
), tally AS (
    SELECT count(*) AS n, min(received_at) AS oldest FROM gone
), counted AS (
    INSERT INTO removal_counters AS c (instance, expired, purged)
    SELECT $5, CASE WHEN $2::float8 IS NULL THEN 0 ELSE n END,
           CASE WHEN $2::float8 IS NULL THEN n ELSE 0 END
    FROM tally WHERE n > 0
    ON CONFLICT (instance) DO UPDATE SET
        expired = c.expired + excluded.expired,
        purged = c.purged + excluded.purged
    RETURNING expired, purged
)
SELECT tally.n,
       extract(epoch FROM (SELECT deadline FROM settings) - tally.oldest)::float8,
       (SELECT held FROM lock), counted.expired, counted.purged
FROM tally LEFT JOIN counted ON true";

/// One bounded sweep of the default retention, counted in the same statement. `$1, $2` the
/// position after which it starts (`(tx, seq)`, the order of [`FOLLOW_ALL_SQL`]), `$3` the
/// retention in seconds, `$4` and `$5` the exact topics and the prefixes rules cover (left
/// alone), `$6` most rows examined, `$7` this instance, `$8` [`SWEEP_LOCK_SPACE`].
///
/// `scanned` reads the next rows in commit order below the visibility horizon (a position it
/// passes can never later have a row appear behind it); `stop` is the first swept row not yet
/// due, and `reached` the last row before it: the next sweep starts there, so it never passes a
/// row that is to expire later. `gone` deletes every due, swept row scanned. Rows committed
/// together sit together in the heap, so a sweep's deletions share pages (per topic they would
/// touch a page per row or two: DESIGN.md "Retention").
pub(super) const SWEEP_SQL: &str = "\
WITH lock AS (
    SELECT pg_try_advisory_xact_lock($8, 0) AS held
), settings AS (
    SELECT now() - make_interval(secs => $3::float8) AS deadline
), scanned AS MATERIALIZED (
    SELECT tx, seq, topic, received_at,
           NOT (topic = ANY($4::text[]) OR topic ^@ ANY($5::text[])) AS swept
    FROM events
    WHERE (tx, seq) > ($1, $2)
      AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
      AND (SELECT held FROM lock)
    ORDER BY tx, seq LIMIT $6
), stop AS (
    SELECT tx, seq FROM scanned
    WHERE swept AND received_at >= (SELECT deadline FROM settings)
    ORDER BY tx, seq LIMIT 1
), reached AS (
    SELECT tx, seq FROM scanned
    WHERE NOT EXISTS (SELECT 1 FROM stop) OR (tx, seq) < (SELECT tx, seq FROM stop)
    ORDER BY tx DESC, seq DESC LIMIT 1
), gone AS (
    DELETE FROM events AS e USING scanned AS d
    WHERE d.swept AND d.received_at < (SELECT deadline FROM settings)
      AND e.topic = d.topic AND e.seq = d.seq
    RETURNING e.received_at
), tally AS (
    SELECT count(*) AS n, min(received_at) AS oldest FROM gone
), counted AS (
    INSERT INTO removal_counters AS c (instance, expired, purged)
    SELECT $7, n, 0 FROM tally WHERE n > 0
    ON CONFLICT (instance) DO UPDATE SET expired = c.expired + excluded.expired
    RETURNING expired, purged
)
SELECT tally.n,
       extract(epoch FROM (SELECT deadline FROM settings) - tally.oldest)::float8,
       (SELECT held FROM lock), counted.expired, counted.purged,
       (SELECT tx FROM reached), (SELECT seq FROM reached),
       (SELECT count(*) FROM scanned), EXISTS (SELECT 1 FROM stop)
FROM tally LEFT JOIN counted ON true";

/// Topics in byte order after `$1`, `$2` at most: every topic ever committed (`topic_heads`),
/// including those whose events are all gone.
pub(super) const TOPICS_AFTER_SQL: &str =
    "SELECT topic FROM topic_heads WHERE topic > $1 ORDER BY topic LIMIT $2";

/// Removal counters summed over every instance, then this instance's own row.
pub(super) const REMOVAL_COUNTERS_SQL: &str = "\
SELECT coalesce(sum(expired), 0)::bigint, coalesce(sum(purged), 0)::bigint,
       coalesce(sum(expired) FILTER (WHERE instance = $1), 0)::bigint,
       coalesce(sum(purged) FILTER (WHERE instance = $1), 0)::bigint
FROM removal_counters";
