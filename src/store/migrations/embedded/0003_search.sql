-- The searchable text of each payload (src/query/words.rs): the words of every string value,
-- one line per value, computed by the aggregator when it commits the row, so that every store
-- splits text into words exactly as the in-memory evaluation does. Word and phrase queries
-- look for ' word ' in it. Rows stored before this column existed are filled when the store
-- opens, before it serves (the index below finds them).
ALTER TABLE events ADD COLUMN words TEXT;
CREATE INDEX IF NOT EXISTS events_words_missing ON events (seq) WHERE words IS NULL;

-- Serves searches in time order (`order=newest|oldest`, the default of a search across
-- topics) and time-bounded searches: keyset pages on (ts, seq), seq being unique.
CREATE INDEX IF NOT EXISTS events_ts_seq ON events (ts, seq);
