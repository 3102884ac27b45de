-- Billing accounts hold BU that admins grant; the balance is what was granted less what the ledger charged to the
-- account. Alerts at 80% and 100% consumed go out once per grant (a new grant arms them again).

CREATE TABLE billing_grants (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER     NOT NULL REFERENCES billing_accounts (id),
    amount_mbu  INTEGER     NOT NULL CHECK (amount_mbu > 0),
    reason      TEXT     NOT NULL,
    granted_by  INTEGER     NOT NULL REFERENCES users (id),
    created_at  TEXT      NOT NULL
);
CREATE INDEX billing_grants_account ON billing_grants (account_id, id);

-- Each alert once per account, grant and threshold (80 or 100).
CREATE TABLE billing_alerts (
    account_id  INTEGER NOT NULL REFERENCES billing_accounts (id),
    grant_id    INTEGER NOT NULL REFERENCES billing_grants (id),
    threshold   INTEGER NOT NULL CHECK (threshold IN (80, 100)),
    sent_at     TEXT  NOT NULL,
    PRIMARY KEY (account_id, grant_id, threshold)
);

CREATE INDEX projects_billing_account ON projects (billing_account_id);
