-- Word and phrase searches: a full-text index (SQLite's FTS5) over each row's searchable text,
-- keyed by seq. It only narrows a search to the rows that hold every word of a phrase; the
-- phrase itself is then checked in `words` (instr), so the index needs no positions
-- (detail=none, the smallest FTS5 index). The `ascii` tokenizer splits only at ASCII
-- characters that are not letters or digits, so its tokens of the searchable text are exactly
-- the words query/words.rs wrote there (already lowercase, separated by spaces and newlines),
-- whatever their script. Contentless: the text lives in `events` alone; contentless_delete
-- lets a deleted row leave the index by its rowid.
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(
    words, content = '', contentless_delete = 1, detail = none, tokenize = 'ascii'
);
INSERT INTO events_fts (rowid, words) SELECT seq, words FROM events WHERE words IS NOT NULL;

-- Triggers keep the index in the same transaction as the rows: every commit, retention
-- deletion, purge and the fill of older rows' words (an update) alike.
CREATE TRIGGER IF NOT EXISTS events_fts_insert AFTER INSERT ON events
WHEN new.words IS NOT NULL BEGIN
    INSERT INTO events_fts (rowid, words) VALUES (new.seq, new.words);
END;
CREATE TRIGGER IF NOT EXISTS events_fts_delete AFTER DELETE ON events
WHEN old.words IS NOT NULL BEGIN
    DELETE FROM events_fts WHERE rowid = old.seq;
END;
CREATE TRIGGER IF NOT EXISTS events_fts_update AFTER UPDATE OF words ON events BEGIN
    DELETE FROM events_fts WHERE rowid = old.seq AND old.words IS NOT NULL;
    INSERT INTO events_fts (rowid, words) SELECT new.seq, new.words WHERE new.words IS NOT NULL;
END;

-- The newest or oldest events of one source (`source:checkout level:error`, `source=`),
-- without sorting every match of every source.
CREATE INDEX IF NOT EXISTS events_source_ts ON events (source, ts, seq);
