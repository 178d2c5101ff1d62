-- Retention and purges (one row). `seq_high_water` is the highest seq ever given out, written
-- with each deletion: rows are deleted from now on, so max(seq) alone could go down (when the
-- newest rows are purged) and a seq would be given out twice, which a reader's cursor or a live
-- tail past it would never see. The writer starts numbering after max(max(seq), seq_high_water).
-- `expired` and `purged` count deleted rows, in the same transaction as the DELETE.
CREATE TABLE IF NOT EXISTS retention_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    seq_high_water INTEGER NOT NULL DEFAULT 0,
    expired        INTEGER NOT NULL DEFAULT 0,
    purged         INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO retention_state (id) VALUES (1);
