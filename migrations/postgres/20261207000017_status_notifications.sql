-- Telling people about incidents and maintenance: each change is an event row, written in the transaction of the
-- change with a job that fans it out to confirmed e-mail subscribers (through the outbox, in batches) and to the
-- registered webhooks (one delivery job each, retried with backoff, every attempt logged).

ALTER TABLE outbox ADD COLUMN list_unsubscribe TEXT;

CREATE TABLE status_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('incident.opened', 'incident.updated', 'incident.resolved',
                                                   'maintenance.scheduled', 'maintenance.cancelled')),
    subject_id BIGINT NOT NULL,
    status        TEXT,
    message       TEXT NOT NULL,
    component_ids TEXT    NOT NULL DEFAULT '',  -- comma-separated
    created_at TIMESTAMPTZ NOT NULL
);

-- A subscriber: confirmed once the link in the first message is followed; `components` narrows what they hear of
-- (comma-separated ids; empty: everything). The token is in every message's unsubscribe link.
CREATE TABLE status_subscribers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           TEXT    NOT NULL UNIQUE,
    token           TEXT    NOT NULL UNIQUE,
    components      TEXT    NOT NULL DEFAULT '',
    confirm_sent_at TIMESTAMPTZ,
    confirmed_at TIMESTAMPTZ,
    unsubscribed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);

-- Which subscriber was mailed about which event: a fan-out run again after a crash skips them.
CREATE TABLE status_event_mails (
    event_id BIGINT NOT NULL REFERENCES status_events (id),
    subscriber_id BIGINT NOT NULL REFERENCES status_subscribers (id),
    PRIMARY KEY (event_id, subscriber_id)
);

CREATE TABLE webhooks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL,
    removed_at TIMESTAMPTZ
);

CREATE TABLE webhook_deliveries (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id),
    event_id BIGINT NOT NULL REFERENCES status_events (id),
    attempts     BIGINT  NOT NULL DEFAULT 0,
    last_status  BIGINT,
    last_error   TEXT,
    delivered_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    at          TIMESTAMPTZ NOT NULL,
    status_code BIGINT,
    error       TEXT,
    duration_ms BIGINT  NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
