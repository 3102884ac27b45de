-- Usage and the BU ledger: collectors that push usage, the samples they send (and the hourly sums the rollup reads),
-- what each project reserves over time, and the immutable ledger the hourly rollup writes. Billing accounts start
-- here too (their grants, balances and statements come later).

CREATE TABLE billing_accounts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    owner_id   INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT    NOT NULL
);
CREATE INDEX billing_accounts_owner ON billing_accounts (owner_id);

-- A collector pushes usage to POST /api/v1/usage with its bearer token; only the token's hash is kept.
CREATE TABLE usage_collectors (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    token_hash TEXT    NOT NULL UNIQUE,
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT    NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);

-- One sample per project, resource, time and source ('collector:7', 'prometheus'): a sample sent twice counts once.
-- Values are thousandths of the resource's unit (millicores, thousandths of a GiB).
CREATE TABLE usage_samples (
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    resource    TEXT    NOT NULL CHECK (resource IN ('cpu', 'memory', 'storage')),
    sampled_at  TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    value_milli INTEGER NOT NULL CHECK (value_milli >= 0),
    received_at TEXT    NOT NULL,
    PRIMARY KEY (project_id, resource, sampled_at, source)
) WITHOUT ROWID;

-- The samples of each hour, summed as they arrive: the hour's usage is total / samples. `rolled_samples` is how many
-- of them the ledger has accounted for; more samples than that (a late sample) call for a correction.
CREATE TABLE usage_hours (
    project_id     INTEGER NOT NULL REFERENCES projects (id),
    resource       TEXT    NOT NULL,
    hour           TEXT    NOT NULL,
    samples        INTEGER NOT NULL,
    total_milli    INTEGER NOT NULL,
    rolled_samples INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, resource, hour)
) WITHOUT ROWID;
CREATE INDEX usage_hours_hour ON usage_hours (hour);
CREATE INDEX usage_hours_unrolled ON usage_hours (hour) WHERE samples <> rolled_samples;

-- What each project reserves from `from_at` on: its quota while active, nothing otherwise. Written by the triggers
-- below whenever that changes, so that a late rollup charges each hour what was reserved then.
CREATE TABLE project_reservations (
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    from_at     TEXT    NOT NULL,
    cpu_cores   INTEGER NOT NULL,
    memory_gib  INTEGER NOT NULL,
    storage_gib INTEGER NOT NULL,
    PRIMARY KEY (project_id, from_at)
) WITHOUT ROWID;
CREATE INDEX project_reservations_from ON project_reservations (from_at);
INSERT INTO project_reservations (project_id, from_at, cpu_cores, memory_gib, storage_gib)
SELECT id, COALESCE(activated_at, created_at),
    CASE WHEN state = 'active' THEN cpu_cores ELSE 0 END,
    CASE WHEN state = 'active' THEN memory_gib ELSE 0 END,
    CASE WHEN state = 'active' THEN storage_gib ELSE 0 END
FROM projects;
CREATE TRIGGER project_reservation_on_insert AFTER INSERT ON projects
BEGIN
    INSERT OR REPLACE INTO project_reservations (project_id, from_at, cpu_cores, memory_gib, storage_gib)
    VALUES (NEW.id, NEW.updated_at,
        CASE WHEN NEW.state = 'active' THEN NEW.cpu_cores ELSE 0 END,
        CASE WHEN NEW.state = 'active' THEN NEW.memory_gib ELSE 0 END,
        CASE WHEN NEW.state = 'active' THEN NEW.storage_gib ELSE 0 END);
END;
CREATE TRIGGER project_reservation_on_update AFTER UPDATE OF state, cpu_cores, memory_gib, storage_gib ON projects
WHEN (CASE WHEN OLD.state = 'active' THEN OLD.cpu_cores || ' ' || OLD.memory_gib || ' ' || OLD.storage_gib END)
    IS NOT (CASE WHEN NEW.state = 'active' THEN NEW.cpu_cores || ' ' || NEW.memory_gib || ' ' || NEW.storage_gib END)
BEGIN
    INSERT OR REPLACE INTO project_reservations (project_id, from_at, cpu_cores, memory_gib, storage_gib)
    VALUES (NEW.id, NEW.updated_at,
        CASE WHEN NEW.state = 'active' THEN NEW.cpu_cores ELSE 0 END,
        CASE WHEN NEW.state = 'active' THEN NEW.memory_gib ELSE 0 END,
        CASE WHEN NEW.state = 'active' THEN NEW.storage_gib ELSE 0 END);
END;

-- The ledger: never updated, never deleted. One 'charge' per project, resource and hour; a late sample adds a
-- 'correction' (the difference). Quantities are thousandths of the unit, amounts thousandths of a BU.
CREATE TABLE billing_ledger (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects (id),
    account_id    INTEGER REFERENCES billing_accounts (id),
    resource      TEXT    NOT NULL CHECK (resource IN ('cpu', 'memory', 'storage')),
    hour          TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('charge', 'correction')),
    request_milli INTEGER NOT NULL,
    usage_milli   INTEGER,                 -- NULL: no usage known for the hour
    rate_mbu      INTEGER NOT NULL,        -- per rate unit (core-hour, GiB-hour, TiB-hour)
    amount_mbu    INTEGER NOT NULL,
    created_at    TEXT    NOT NULL
);
CREATE UNIQUE INDEX billing_ledger_charge ON billing_ledger (project_id, resource, hour) WHERE kind = 'charge';
CREATE INDEX billing_ledger_project_hour ON billing_ledger (project_id, hour);
CREATE INDEX billing_ledger_account_hour ON billing_ledger (account_id, hour);

-- How far each rollup has got: the last hour it wrote.
CREATE TABLE billing_rollups (
    name      TEXT PRIMARY KEY,
    last_hour TEXT NOT NULL
);
