-- Work done once per period by whichever Berth process gets there first (the admins' daily digest, say): the row
-- is inserted in the transaction that queues the work, so a second process, or a restart, finds it and does nothing.
CREATE TABLE scheduled_runs (
    name       TEXT NOT NULL,
    period     TEXT NOT NULL,          -- e.g. the day, 2026-11-25
    created_at TEXT NOT NULL,
    PRIMARY KEY (name, period)
);
