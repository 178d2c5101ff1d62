-- Word, phrase and field-equality searches: a full-text index (SQLite's FTS5) keyed by seq,
-- holding each row's searchable text and its field tokens (query/fields.rs: one token per path
-- and value a field equality can match). It only narrows a search to the rows that hold every
-- word of a phrase, or a value's token; the phrase or the value itself is then checked on the
-- row, so the index needs no positions (detail=none, the smallest FTS5 index). The `ascii`
-- tokenizer splits only at ASCII characters that are not letters or digits, so its tokens are
-- exactly the words query/words.rs wrote (already lowercase, separated by spaces and newlines),
-- whatever their script. Contentless: the text lives in `events` alone; contentless_delete
-- lets a deleted row leave the index by its rowid.
--
-- The writer adds a row's entry in the transaction that inserts it (the field tokens are made
-- by the aggregator, not by SQL); this trigger removes it in the transaction that deletes the
-- row: retention, purge and removal alike.
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(
    words, content = '', contentless_delete = 1, detail = none, tokenize = 'ascii'
);
-- FTS5 writes each transaction's entries as a new segment and merges segments as they pile
-- up: by default once 4 share a level, which with one small transaction per group commit took
-- a fifth of the writer's time. Merging 16 at a time does the same work in far fewer passes
-- (batches of 1,000: 54k -> 72k events/s) for a few more segments per lookup.
INSERT INTO events_fts (events_fts, rank) VALUES ('automerge', 16);
CREATE TRIGGER IF NOT EXISTS events_fts_delete AFTER DELETE ON events BEGIN
    DELETE FROM events_fts WHERE rowid = old.seq;
END;

-- Rows stored before this index existed (seq below `end_seq`) get their entries when the store
-- opens, before it serves, from `next_seq` on (embedded/words_backfill.rs).
CREATE TABLE IF NOT EXISTS search_index_backfill (
    next_seq INTEGER NOT NULL,
    end_seq  INTEGER NOT NULL
);
INSERT INTO search_index_backfill (next_seq, end_seq)
SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) + 1 FROM events;

-- The newest or oldest events of one source (`source:checkout level:error`, `source=`),
-- without sorting every match of every source.
CREATE INDEX IF NOT EXISTS events_source_ts ON events (source, ts, seq);
