-- BU per project, account and month (YYYY-MM, UTC), kept beside the ledger in the same transactions that insert
-- into it: pages, balances and the consumption report read a few rows here instead of summing a year of hourly
-- ledger rows. `account_id` 0 stands for "no account". The ledger stays the record; this is derived from it.
CREATE TABLE billing_months (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    account_id INTEGER NOT NULL,
    month      TEXT    NOT NULL,
    amount_mbu INTEGER NOT NULL,
    PRIMARY KEY (project_id, account_id, month)
) WITHOUT ROWID;
CREATE INDEX billing_months_account ON billing_months (account_id, month);
CREATE INDEX billing_months_month ON billing_months (month);

INSERT INTO billing_months (project_id, account_id, month, amount_mbu)
SELECT project_id, COALESCE(account_id, 0), substr(hour, 1, 7), SUM(amount_mbu)
FROM billing_ledger GROUP BY project_id, COALESCE(account_id, 0), substr(hour, 1, 7);
