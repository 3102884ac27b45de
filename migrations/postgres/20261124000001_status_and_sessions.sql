-- Public status page content, the seed ledger and browser sessions.

-- One row: the service summary and a revision bumped by every change to status content,
-- so that caches can tell cheaply whether anything changed.
CREATE TABLE status_meta (
    id            SMALLINT    PRIMARY KEY CHECK (id = 1),
    revision      BIGINT      NOT NULL DEFAULT 0,
    stage         TEXT        NOT NULL,
    service_level TEXT        NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE maturity_indicators (
    id             BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position       INTEGER     NOT NULL,
    indicator      TEXT        NOT NULL UNIQUE,
    current_value  TEXT        NOT NULL,
    current_health TEXT        NOT NULL CHECK (current_health IN ('ok', 'warn', 'bad')),
    best_value     TEXT        NOT NULL,
    best_health    TEXT        NOT NULL CHECK (best_health IN ('ok', 'warn', 'bad')),
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE work_areas (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position    INTEGER     NOT NULL,
    area        TEXT        NOT NULL UNIQUE,
    description TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE known_issues (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       TEXT        NOT NULL,
    description TEXT        NOT NULL,
    status      TEXT        NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    workaround  TEXT,
    opened_at   TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Which one-off seeds have run, so that first-start content is never re-added after an admin removes it.
CREATE TABLE seed_runs (
    name       TEXT        PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL
);

-- tower-sessions-sqlx-store's layout, created here so that migrations own every table.
CREATE TABLE sessions (
    id          TEXT        PRIMARY KEY,
    data        BYTEA       NOT NULL,
    expiry_date TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expiry_date ON sessions (expiry_date);
