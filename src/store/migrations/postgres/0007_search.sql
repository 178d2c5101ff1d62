-- The searchable text of each payload (src/query/words.rs): the words of every string value,
-- one line per value, computed by the aggregator when it commits the row, so that every store
-- splits text into words exactly as the in-memory evaluation does. Word and phrase queries
-- look for ' word ' in it.
ALTER TABLE events ADD COLUMN IF NOT EXISTS words TEXT;

-- Rows committed before this column existed have no words yet: the store fills them in the
-- background at start, in (topic, seq) order. This index holds only those rows, so finding
-- them costs nothing once they are done.
CREATE INDEX IF NOT EXISTS events_words_missing ON events (topic, seq) WHERE words IS NULL;

-- Serves searches in time order (`order=newest|oldest`, the default of a search across
-- topics) and time-bounded searches: keyset pages on (ts, seq), seq being unique.
CREATE INDEX IF NOT EXISTS events_ts_seq ON events (ts, seq);
