//! SQL of usage collectors, usage samples and the BU ledger, shared by both backends through
//! [`impl_billing_store!`]. Samples are kept once each; the ledger is only ever inserted into.

pub(crate) const INSERT_COLLECTOR: &str = "INSERT INTO usage_collectors (name, token_hash, created_by, created_at) \
     VALUES ($1, $2, $3, $4) RETURNING id";
pub(crate) const REVOKE_COLLECTOR: &str =
    "UPDATE usage_collectors SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
pub(crate) const SELECT_COLLECTORS: &str = "SELECT c.id, c.name, COALESCE(u.email, '') AS created_by, c.created_at, \
     c.last_used_at, c.revoked_at FROM usage_collectors c LEFT JOIN users u ON u.id = c.created_by ORDER BY c.id DESC";
pub(crate) const COLLECTOR_BY_TOKEN: &str =
    "SELECT id FROM usage_collectors WHERE token_hash = $1 AND revoked_at IS NULL";
pub(crate) const USE_COLLECTOR: &str = "UPDATE usage_collectors SET last_used_at = $2 WHERE id = $1";
pub(crate) const SELECT_PROJECT_IDS: &str = "SELECT name, id FROM projects WHERE deleted_at IS NULL AND name IN ";
// Samples go in as multi-row statements (`INSERT_SAMPLES` + rows + `INSERT_SAMPLES_TAIL`); those that were new come
// back, and their sums are added to their hours in the same way.
pub(crate) const INSERT_SAMPLES: &str =
    "INSERT INTO usage_samples (project_id, resource, sampled_at, source, value_milli, received_at) ";
pub(crate) const INSERT_SAMPLES_TAIL: &str = " ON CONFLICT DO NOTHING RETURNING project_id, resource, sampled_at, \
     value_milli";
pub(crate) const ADD_TO_HOURS: &str = "INSERT INTO usage_hours (project_id, resource, hour, samples, total_milli) ";
pub(crate) const ADD_TO_HOURS_TAIL: &str = " ON CONFLICT (project_id, resource, hour) DO UPDATE SET \
     samples = usage_hours.samples + excluded.samples, total_milli = usage_hours.total_milli + excluded.total_milli";
pub(crate) const SELECT_WATERMARK: &str = "SELECT last_hour FROM billing_rollups WHERE name = 'usage'";
pub(crate) const SELECT_FIRST_BILLABLE: &str = "SELECT MIN(at) FROM (\
     SELECT MIN(from_at) AS at FROM project_reservations WHERE cpu_cores + memory_gib + storage_gib > 0 \
     UNION ALL SELECT MIN(hour) AS at FROM usage_hours) firsts";
// The most each project reserved during the hour [$1, $2): the reservation in force at its start and any that began
// within it.
pub(crate) const SELECT_HOUR_RESERVATIONS: &str = "SELECT r.project_id, p.billing_account_id, \
     MAX(r.cpu_cores), MAX(r.memory_gib), MAX(r.storage_gib) FROM project_reservations r \
     JOIN projects p ON p.id = r.project_id \
     WHERE r.from_at < $2 AND ($3 IS NULL OR r.project_id = $3) AND (r.from_at >= $1 OR r.from_at = \
     (SELECT MAX(r2.from_at) FROM project_reservations r2 WHERE r2.project_id = r.project_id AND r2.from_at <= $1)) \
     GROUP BY r.project_id, p.billing_account_id";
pub(crate) const SELECT_HOUR_USAGE: &str = "SELECT u.project_id, p.billing_account_id, u.resource, u.samples, \
     u.total_milli FROM usage_hours u JOIN projects p ON p.id = u.project_id \
     WHERE u.hour = $1 AND ($2 IS NULL OR u.project_id = $2)";
// Ledger rows go in as multi-row statements (`INSERT_LEDGER` + rows + `INSERT_LEDGER_TAIL`); a charge already there
// is kept as it is, and the rows that went in come back.
pub(crate) const INSERT_LEDGER: &str = "INSERT INTO billing_ledger (project_id, account_id, resource, hour, kind, \
     request_milli, usage_milli, rate_mbu, amount_mbu, created_at) ";
pub(crate) const INSERT_LEDGER_TAIL: &str = " ON CONFLICT DO NOTHING RETURNING project_id, resource";
// Marks the samples each new charge accounted for: `MARK_ROLLED` + (project, resource, hour, samples) rows +
// `MARK_ROLLED_TAIL`.
pub(crate) const MARK_ROLLED: &str = "WITH marks (project_id, resource, hour, samples) AS (";
pub(crate) const MARK_ROLLED_TAIL: &str = ") UPDATE usage_hours SET rolled_samples = marks.samples FROM marks \
     WHERE usage_hours.project_id = marks.project_id AND usage_hours.resource = marks.resource \
     AND usage_hours.hour = marks.hour AND usage_hours.rolled_samples < marks.samples";
// Adds new ledger amounts to their months: `ADD_TO_MONTHS` + rows + `ADD_TO_MONTHS_TAIL`.
pub(crate) const ADD_TO_MONTHS: &str = "INSERT INTO billing_months (project_id, account_id, month, amount_mbu) ";
pub(crate) const ADD_TO_MONTHS_TAIL: &str = " ON CONFLICT (project_id, account_id, month) DO UPDATE SET \
     amount_mbu = billing_months.amount_mbu + excluded.amount_mbu";
/// Rows per multi-row statement: within both databases' limits on bound values (SQLite 32,766, PostgreSQL 65,535).
pub(crate) const ROWS_PER_STATEMENT: usize = 500;
pub(crate) const MOVE_WATERMARK: &str = "INSERT INTO billing_rollups (name, last_hour) VALUES ('usage', $1) \
     ON CONFLICT (name) DO UPDATE SET last_hour = excluded.last_hour WHERE billing_rollups.last_hour < excluded.last_hour";
pub(crate) const SELECT_STALE: &str = "SELECT project_id, resource, hour, rolled_samples FROM usage_hours \
     WHERE samples <> rolled_samples AND hour <= $1 ORDER BY hour, project_id, resource LIMIT $2";
pub(crate) const CLAIM_STALE: &str = "UPDATE usage_hours SET rolled_samples = $5 \
     WHERE project_id = $1 AND resource = $2 AND hour = $3 AND rolled_samples = $4";
pub(crate) const SUM_HOUR: &str = "SELECT CAST(COALESCE(SUM(amount_mbu), 0) AS BIGINT) FROM billing_ledger \
     WHERE project_id = $1 AND resource = $2 AND hour = $3";
// A project's BU this month ($2) and last month ($3), both YYYY-MM.
pub(crate) const SUM_MONTHS: &str = "SELECT \
     CAST(COALESCE(SUM(CASE WHEN month = $2 THEN amount_mbu ELSE 0 END), 0) AS BIGINT), \
     CAST(COALESCE(SUM(CASE WHEN month = $3 THEN amount_mbu ELSE 0 END), 0) AS BIGINT) \
     FROM billing_months WHERE project_id = $1 AND month >= $3";
pub(crate) const SELECT_LATEST_USAGE_HOUR: &str = "SELECT MAX(hour) FROM usage_hours WHERE project_id = $1";
pub(crate) const SELECT_USAGE_AT: &str =
    "SELECT resource, samples, total_milli FROM usage_hours WHERE project_id = $1 AND hour = $2";
pub(crate) const SELECT_PROJECT_ACCOUNT: &str = "SELECT billing_account_id FROM projects WHERE id = $1";
// Sums per account: grants, all charges, charges since $1, the newest grant and the alerts sent for it.
pub(crate) const SELECT_ACCOUNTS: &str = "SELECT a.id, a.name, a.owner_id, COALESCE(u.email, '') AS owner, \
     CAST(COALESCE((SELECT SUM(g.amount_mbu) FROM billing_grants g WHERE g.account_id = a.id), 0) AS BIGINT), \
     CAST(COALESCE((SELECT SUM(m.amount_mbu) FROM billing_months m WHERE m.account_id = a.id), 0) AS BIGINT), \
     CAST(COALESCE((SELECT SUM(l.amount_mbu) FROM billing_ledger l WHERE l.account_id = a.id AND l.hour >= $1), 0) \
     AS BIGINT), (SELECT MAX(g.id) FROM billing_grants g WHERE g.account_id = a.id), \
     (SELECT MAX(al.threshold) FROM billing_alerts al WHERE al.account_id = a.id AND al.grant_id = \
     (SELECT MAX(g.id) FROM billing_grants g WHERE g.account_id = a.id)) \
     FROM billing_accounts a LEFT JOIN users u ON u.id = a.owner_id";
pub(crate) const ACCOUNTS_OF_OWNER: &str = " WHERE a.owner_id = $2 ORDER BY a.id";
pub(crate) const ACCOUNT_BY_ID: &str = " WHERE a.id = $2";
// Every account: the hourly budget check must see them all.
pub(crate) const ALL_ACCOUNTS: &str = " WHERE $2 IS NULL ORDER BY a.id";
pub(crate) const SELECT_GRANTS: &str = "SELECT g.account_id, g.amount_mbu, g.reason, COALESCE(u.email, ''), \
     g.created_at FROM billing_grants g LEFT JOIN users u ON u.id = g.granted_by WHERE g.account_id IN ";
pub(crate) const SELECT_ACCOUNT_PROJECTS: &str =
    "SELECT billing_account_id, name FROM projects WHERE deleted_at IS NULL AND billing_account_id IN ";
pub(crate) const COUNT_ACCOUNT: &str = "SELECT COUNT(*) FROM billing_accounts WHERE id = $1";
pub(crate) const INSERT_GRANT: &str = "INSERT INTO billing_grants (account_id, amount_mbu, reason, granted_by, \
     created_at) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const SET_PROJECT_ACCOUNT: &str = "UPDATE projects SET billing_account_id = $2 WHERE id = $1";
pub(crate) const INSERT_ALERT: &str = "INSERT INTO billing_alerts (account_id, grant_id, threshold, sent_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
/// A project's BU per month (YYYY-MM) from month $2 on.
pub(crate) const PROJECT_MONTHS: &str = "SELECT month, CAST(SUM(amount_mbu) AS BIGINT) FROM billing_months \
     WHERE project_id = $1 AND month >= $2 GROUP BY month";
// The newest row of each hour carries its usage (a correction's usage replaces the charge's); every row counts
// towards the amount.
pub(crate) const STATEMENT_ROWS: &str = "SELECT p.name, lines.resource, COUNT(*), \
     CAST(SUM(lines.request_milli) AS BIGINT), CAST(COALESCE(SUM(lines.usage_milli), 0) AS BIGINT), \
     COUNT(lines.usage_milli), CAST(SUM(lines.total) AS BIGINT) FROM (SELECT project_id, resource, hour, \
     request_milli, usage_milli, SUM(amount_mbu) OVER (PARTITION BY project_id, resource, hour) AS total, \
     ROW_NUMBER() OVER (PARTITION BY project_id, resource, hour ORDER BY id DESC) AS newest \
     FROM billing_ledger WHERE hour >= $2 AND hour < $3 AND ";
pub(crate) const STATEMENT_OF_PROJECT: &str = "project_id = $1";
pub(crate) const STATEMENT_OF_ACCOUNT: &str = "account_id = $1";
pub(crate) const STATEMENT_TAIL: &str = ") lines JOIN projects p ON p.id = lines.project_id WHERE lines.newest = 1 \
     GROUP BY p.name, lines.resource ORDER BY p.name, lines.resource";
// Each project's BU in the months [$1, $2) (YYYY-MM).
pub(crate) const CONSUMPTION: &str = "SELECT p.name, COALESCE(a.name, ''), \
     CAST(COALESCE(SUM(m.amount_mbu), 0) AS BIGINT) FROM projects p \
     LEFT JOIN billing_accounts a ON a.id = p.billing_account_id \
     LEFT JOIN billing_months m ON m.project_id = p.id AND m.month >= $1 AND m.month < $2 \
     WHERE p.deleted_at IS NULL GROUP BY p.name, a.name";
/// The name of the hourly rollup's runs in `scheduled_runs`.
pub(crate) const ROLLUP_RUN: &str = "usage_rollup";
/// Names looked up per query.
const NAMES_PER_QUERY: usize = 500;

/// `($1, $2, …, $n)`.
pub(crate) fn placeholders(count: usize) -> String {
    let list: Vec<String> = (1..=count).map(|index| format!("${index}")).collect();
    format!("({})", list.join(", "))
}

/// The month (YYYY-MM, UTC) an hour belongs to, as `billing_months` keys it.
pub(crate) fn month_of(hour: chrono::DateTime<chrono::Utc>) -> String {
    hour.format("%Y-%m").to_string()
}

/// Index of a stored resource name in [`BilledResource::ALL`](app::billing::model::BilledResource::ALL).
pub(crate) fn resource_index(text: &str) -> Result<usize, app::error::StoreError> {
    app::billing::model::BilledResource::ALL
        .iter()
        .position(|resource| resource.as_str() == text)
        .ok_or_else(|| app::error::StoreError::Corrupt(format!("unknown billed resource {text:?}")))
}

/// Chunks of names small enough for one query.
pub(crate) fn name_chunks(names: &[String]) -> std::slice::Chunks<'_, String> {
    names.chunks(NAMES_PER_QUERY)
}

/// Implements `BillingStore` for a store type that has the account store's `insert_audit` and `insert_job`.
macro_rules! impl_billing_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl app::billing::ssr::BillingStore for $store {
            async fn create_collector(
                &self,
                name: &str,
                token_hash: &str,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<i64, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let id: i64 = sqlx::query_scalar($crate::storage::billing_sql::INSERT_COLLECTOR)
                    .bind(name)
                    .bind(token_hash)
                    .bind(audit.actor_id)
                    .bind(audit.at)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let audit = app::auth::ssr::NewAuditEntry { target: format!("collector:{id}"), ..audit.clone() };
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(id)
            }

            async fn revoke_collector(
                &self,
                id: i64,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                self.update_audited($crate::storage::billing_sql::REVOKE_COLLECTOR, id, audit).await
            }

            async fn collectors(&self) -> Result<Vec<app::billing::CollectorView>, app::error::StoreError> {
                type Row = (
                    i64,
                    String,
                    String,
                    chrono::DateTime<chrono::Utc>,
                    Option<chrono::DateTime<chrono::Utc>>,
                    Option<chrono::DateTime<chrono::Utc>>,
                );
                let rows = sqlx::query_as::<_, Row>($crate::storage::billing_sql::SELECT_COLLECTORS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, name, created_by, created_at, last_used_at, revoked_at)| app::billing::CollectorView {
                        id,
                        name,
                        created_by,
                        created_at,
                        last_used_at,
                        revoked_at,
                    })
                    .collect())
            }

            async fn collector_by_token(&self, token_hash: &str) -> Result<Option<i64>, app::error::StoreError> {
                sqlx::query_scalar($crate::storage::billing_sql::COLLECTOR_BY_TOKEN)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)
            }

            async fn project_ids(
                &self,
                names: &[String],
            ) -> Result<std::collections::HashMap<String, i64>, app::error::StoreError> {
                let mut found = std::collections::HashMap::new();
                for chunk in $crate::storage::billing_sql::name_chunks(names) {
                    let sql = format!(
                        "{}{}",
                        $crate::storage::billing_sql::SELECT_PROJECT_IDS,
                        $crate::storage::billing_sql::placeholders(chunk.len())
                    );
                    let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
                    for name in chunk {
                        query = query.bind(name);
                    }
                    found.extend(query.fetch_all(&self.pool).await.map_err($crate::storage::store_error)?);
                }
                Ok(found)
            }

            async fn record_samples(
                &self,
                source: &str,
                collector: Option<i64>,
                samples: &[app::billing::ssr::StoredSample],
                received_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, app::error::StoreError> {
                use $crate::storage::billing_sql::*;
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                if let Some(collector) = collector {
                    sqlx::query(USE_COLLECTOR)
                        .bind(collector)
                        .bind(received_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                // The new samples' count and sum per project, resource and hour.
                let mut hours: std::collections::BTreeMap<(i64, String, chrono::DateTime<chrono::Utc>), (i64, i64)> =
                    std::collections::BTreeMap::new();
                let mut inserted = 0;
                for chunk in samples.chunks(ROWS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(INSERT_SAMPLES);
                    query.push_values(chunk, |mut row, sample| {
                        row.push_bind(sample.project_id)
                            .push_bind(sample.resource.as_str())
                            .push_bind(sample.at)
                            .push_bind(source)
                            .push_bind(sample.value)
                            .push_bind(received_at);
                    });
                    query.push(INSERT_SAMPLES_TAIL);
                    let new: Vec<(i64, String, chrono::DateTime<chrono::Utc>, i64)> =
                        query.build_query_as().fetch_all(&mut *tx).await.map_err(store_error)?;
                    inserted += new.len() as u64;
                    for (project_id, resource, at, value) in new {
                        let hour = hours.entry((project_id, resource, app::billing::ssr::hour_of(at))).or_default();
                        hour.0 += 1;
                        hour.1 += value;
                    }
                }
                let hours: Vec<_> = hours.into_iter().collect();
                for chunk in hours.chunks(ROWS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(ADD_TO_HOURS);
                    query.push_values(chunk, |mut row, ((project_id, resource, hour), (count, total))| {
                        row.push_bind(*project_id)
                            .push_bind(resource.as_str())
                            .push_bind(*hour)
                            .push_bind(*count)
                            .push_bind(*total);
                    });
                    query.push(ADD_TO_HOURS_TAIL);
                    query.build().execute(&mut *tx).await.map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                Ok(inserted)
            }

            async fn rollup_watermark(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, app::error::StoreError> {
                sqlx::query_scalar($crate::storage::billing_sql::SELECT_WATERMARK)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)
            }

            async fn first_billable_at(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, app::error::StoreError> {
                let first: Option<Option<chrono::DateTime<chrono::Utc>>> =
                    sqlx::query_scalar($crate::storage::billing_sql::SELECT_FIRST_BILLABLE)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                Ok(first.flatten())
            }

            async fn hour_inputs(
                &self,
                hour: chrono::DateTime<chrono::Utc>,
                project_id: Option<i64>,
            ) -> Result<Vec<app::billing::ssr::HourInput>, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut inputs: std::collections::BTreeMap<i64, app::billing::ssr::HourInput> =
                    std::collections::BTreeMap::new();
                let reservations = sqlx::query_as::<_, (i64, Option<i64>, i64, i64, i64)>(
                    $crate::storage::billing_sql::SELECT_HOUR_RESERVATIONS,
                )
                .bind(hour)
                .bind(hour + chrono::Duration::hours(1))
                .bind(project_id)
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?;
                for (project_id, account_id, cpu, memory, storage) in reservations {
                    inputs.insert(
                        project_id,
                        app::billing::ssr::HourInput {
                            project_id,
                            account_id,
                            request: [cpu * 1000, memory * 1000, storage * 1000],
                            usage: [None; 3],
                        },
                    );
                }
                let usage = sqlx::query_as::<_, (i64, Option<i64>, String, i64, i64)>(
                    $crate::storage::billing_sql::SELECT_HOUR_USAGE,
                )
                .bind(hour)
                .bind(project_id)
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?;
                for (project_id, account_id, resource, samples, total) in usage {
                    let index = $crate::storage::billing_sql::resource_index(&resource)?;
                    let input = inputs.entry(project_id).or_insert(app::billing::ssr::HourInput {
                        project_id,
                        account_id,
                        request: [0; 3],
                        usage: [None; 3],
                    });
                    input.usage[index] = Some(app::billing::ssr::HourUsage { samples, total });
                }
                Ok(inputs.into_values().collect())
            }

            async fn write_hours(
                &self,
                last: chrono::DateTime<chrono::Utc>,
                charges: &[app::billing::ssr::LedgerCharge],
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::billing_sql::*;
                use $crate::storage::store_error;
                let now = chrono::Utc::now();
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let lines: Vec<_> = charges.iter().map(|line| (line, line.amount)).collect();
                let written = Self::insert_ledger(&mut tx, &lines, "charge", now).await.map_err(store_error)?;
                // The samples each new charge accounted for; a charge that was already there keeps its marks.
                let marks: Vec<_> = written.into_iter().filter(|line| line.samples > 0).collect();
                for chunk in marks.chunks(ROWS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(MARK_ROLLED);
                    query.push_values(chunk, |mut row, line| {
                        row.push_bind(line.project_id)
                            .push_bind(line.resource.as_str())
                            .push_bind(line.hour)
                            .push_bind(line.samples);
                    });
                    query.push(MARK_ROLLED_TAIL);
                    query.build().execute(&mut *tx).await.map_err(store_error)?;
                }
                sqlx::query(MOVE_WATERMARK).bind(last).execute(&mut *tx).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)
            }

            async fn stale_hours(
                &self,
                up_to: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> Result<Vec<app::billing::ssr::StaleHour>, app::error::StoreError> {
                let rows = sqlx::query_as::<_, (i64, String, chrono::DateTime<chrono::Utc>, i64)>(
                    $crate::storage::billing_sql::SELECT_STALE,
                )
                .bind(up_to)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::store_error)?;
                rows.into_iter()
                    .map(|(project_id, resource, hour, rolled_samples)| {
                        let index = $crate::storage::billing_sql::resource_index(&resource)?;
                        Ok(app::billing::ssr::StaleHour {
                            project_id,
                            resource: app::billing::model::BilledResource::ALL[index],
                            hour,
                            rolled_samples,
                        })
                    })
                    .collect()
            }

            async fn correct_hour(
                &self,
                stale: &app::billing::ssr::StaleHour,
                expected: &app::billing::ssr::LedgerCharge,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                // Whoever moves the mark first corrects the hour; a second run finds it moved and writes nothing.
                let claimed = sqlx::query($crate::storage::billing_sql::CLAIM_STALE)
                    .bind(stale.project_id)
                    .bind(stale.resource.as_str())
                    .bind(stale.hour)
                    .bind(stale.rolled_samples)
                    .bind(expected.samples)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if claimed == 0 {
                    return Ok(false);
                }
                let charged: i64 = sqlx::query_scalar($crate::storage::billing_sql::SUM_HOUR)
                    .bind(stale.project_id)
                    .bind(stale.resource.as_str())
                    .bind(stale.hour)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let difference = expected.amount - app::billing::model::MilliBu(charged);
                let written = difference != app::billing::model::MilliBu::ZERO;
                if written {
                    Self::insert_ledger(&mut tx, &[(expected, difference)], "correction", now)
                        .await
                        .map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                Ok(written)
            }

            async fn project_cost(
                &self,
                project_id: i64,
                this_month: chrono::DateTime<chrono::Utc>,
                last_month: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::billing::ssr::ProjectCost, app::error::StoreError> {
                use $crate::storage::store_error;
                let (this, last): (i64, i64) = sqlx::query_as($crate::storage::billing_sql::SUM_MONTHS)
                    .bind(project_id)
                    .bind($crate::storage::billing_sql::month_of(this_month))
                    .bind($crate::storage::billing_sql::month_of(last_month))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(store_error)?;
                let latest: Option<chrono::DateTime<chrono::Utc>> =
                    sqlx::query_scalar($crate::storage::billing_sql::SELECT_LATEST_USAGE_HOUR)
                        .bind(project_id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(store_error)?;
                let latest_usage = match latest {
                    None => None,
                    Some(hour) => {
                        let rows =
                            sqlx::query_as::<_, (String, i64, i64)>($crate::storage::billing_sql::SELECT_USAGE_AT)
                                .bind(project_id)
                                .bind(hour)
                                .fetch_all(&self.pool)
                                .await
                                .map_err(store_error)?;
                        let mut values = [None; 3];
                        for (resource, samples, total) in rows {
                            values[$crate::storage::billing_sql::resource_index(&resource)?] =
                                app::billing::ssr::HourUsage { samples, total }.mean();
                        }
                        Some((hour, values))
                    }
                };
                let account_id: Option<i64> = sqlx::query_scalar($crate::storage::billing_sql::SELECT_PROJECT_ACCOUNT)
                    .bind(project_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?
                    .flatten();
                Ok(app::billing::ssr::ProjectCost {
                    this_month: app::billing::model::MilliBu(this),
                    last_month: app::billing::model::MilliBu(last),
                    latest_usage,
                    account_id,
                })
            }

            async fn schedule_rollup(
                &self,
                hour: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let now = chrono::Utc::now();
                let inserted = sqlx::query($crate::storage::applications_sql::INSERT_SCHEDULED_RUN)
                    .bind($crate::storage::billing_sql::ROLLUP_RUN)
                    .bind(hour.to_rfc3339())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if inserted == 0 {
                    return Ok(false);
                }
                Self::insert_job(&mut tx, &$crate::jobs::JobPayload::UsageRollup { hour }, now)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(true)
            }

            async fn consumption(
                &self,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<(String, String, app::billing::model::MilliBu)>, app::error::StoreError> {
                let rows = sqlx::query_as::<_, (String, String, i64)>($crate::storage::billing_sql::CONSUMPTION)
                    .bind($crate::storage::billing_sql::month_of(from))
                    .bind($crate::storage::billing_sql::month_of(to))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(project, account, amount)| (project, account, app::billing::model::MilliBu(amount)))
                    .collect())
            }

            async fn project_months(
                &self,
                project_id: i64,
                from: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<(String, app::billing::model::MilliBu)>, app::error::StoreError> {
                let rows = sqlx::query_as::<_, (String, i64)>($crate::storage::billing_sql::PROJECT_MONTHS)
                    .bind(project_id)
                    .bind($crate::storage::billing_sql::month_of(from))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(rows.into_iter().map(|(month, amount)| (month, app::billing::model::MilliBu(amount))).collect())
            }

            async fn statement_rows(
                &self,
                scope: app::billing::ssr::StatementScope,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<app::billing::ssr::StatementRow>, app::error::StoreError> {
                use $crate::storage::billing_sql::*;
                let (filter, id) = match scope {
                    app::billing::ssr::StatementScope::Project(id) => (STATEMENT_OF_PROJECT, id),
                    app::billing::ssr::StatementScope::Account(id) => (STATEMENT_OF_ACCOUNT, id),
                };
                let sql = format!("{STATEMENT_ROWS}{filter}{STATEMENT_TAIL}");
                let rows = sqlx::query_as::<_, (String, String, i64, i64, i64, i64, i64)>(&sql)
                    .bind(id)
                    .bind(from)
                    .bind(to)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                rows.into_iter()
                    .map(|(project, resource, hours, request_total, usage_total, usage_hours, amount)| {
                        Ok(app::billing::ssr::StatementRow {
                            project,
                            resource: app::billing::model::BilledResource::ALL[resource_index(&resource)?],
                            hours,
                            request_total,
                            usage_total,
                            usage_hours,
                            amount: app::billing::model::MilliBu(amount),
                        })
                    })
                    .collect()
            }

            async fn accounts(
                &self,
                owner_id: Option<i64>,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<app::billing::ssr::AccountRecord>, app::error::StoreError> {
                use $crate::storage::billing_sql::{ACCOUNTS_OF_OWNER, ALL_ACCOUNTS};
                let filter = if owner_id.is_some() { ACCOUNTS_OF_OWNER } else { ALL_ACCOUNTS };
                self.accounts_where(filter, owner_id, since).await
            }

            async fn account(
                &self,
                id: i64,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<app::billing::ssr::AccountRecord>, app::error::StoreError> {
                let accounts =
                    self.accounts_where($crate::storage::billing_sql::ACCOUNT_BY_ID, Some(id), since).await?;
                Ok(accounts.into_iter().next())
            }

            async fn grant(
                &self,
                account_id: i64,
                amount: app::billing::model::MilliBu,
                reason: &str,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let exists: i64 = sqlx::query_scalar($crate::storage::billing_sql::COUNT_ACCOUNT)
                    .bind(account_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if exists == 0 {
                    return Ok(false);
                }
                sqlx::query($crate::storage::billing_sql::INSERT_GRANT)
                    .bind(account_id)
                    .bind(amount.0)
                    .bind(reason)
                    .bind(audit.actor_id)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(true)
            }

            async fn set_project_account(
                &self,
                project_id: i64,
                account: &app::billing::ssr::AccountRecord,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query($crate::storage::billing_sql::SET_PROJECT_ACCOUNT)
                    .bind(project_id)
                    .bind(account.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let summary = format!("now draws on the billing account {}", account.name);
                Self::insert_project_event(&mut tx, project_id, None, audit, "billing_account", &summary).await?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)
            }

            async fn record_alert(
                &self,
                account_id: i64,
                grant_id: i64,
                threshold: i64,
                mail: &[app::auth::ssr::OutgoingMail],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let mut sent = false;
                // The lower thresholds count as passed too: one mail when both were crossed in one hour.
                for level in app::billing::ssr::ALERT_THRESHOLDS.into_iter().filter(|level| *level <= threshold) {
                    let inserted = sqlx::query($crate::storage::billing_sql::INSERT_ALERT)
                        .bind(account_id)
                        .bind(grant_id)
                        .bind(level)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?
                        .rows_affected();
                    sent = level == threshold && inserted > 0;
                }
                if !sent {
                    return Ok(false);
                }
                for message in mail {
                    Self::insert_mail(&mut tx, message, now).await.map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(true)
            }
        }

        impl $store {
            /// Accounts matching `filter` (one of the `ACCOUNT*` tails, whose `$2` is `key`), with their grants and
            /// projects: three queries whatever the number of accounts.
            async fn accounts_where(
                &self,
                filter: &str,
                key: Option<i64>,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<app::billing::ssr::AccountRecord>, app::error::StoreError> {
                use $crate::storage::billing_sql::*;
                use $crate::storage::store_error;
                type Row = (i64, String, i64, String, i64, i64, i64, Option<i64>, Option<i64>);
                let sql = format!("{SELECT_ACCOUNTS}{filter}");
                let rows = sqlx::query_as::<_, Row>(&sql)
                    .bind(since)
                    .bind(key)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                let mut accounts: Vec<app::billing::ssr::AccountRecord> = rows
                    .into_iter()
                    .map(|(id, name, owner_id, owner, granted, consumed, recent, latest_grant_id, alerted)| {
                        app::billing::ssr::AccountRecord {
                            id,
                            name,
                            owner_id,
                            owner,
                            granted: app::billing::model::MilliBu(granted),
                            consumed: app::billing::model::MilliBu(consumed),
                            recent: app::billing::model::MilliBu(recent),
                            latest_grant_id,
                            alerted,
                            grants: Vec::new(),
                            projects: Vec::new(),
                        }
                    })
                    .collect();
                if accounts.is_empty() {
                    return Ok(accounts);
                }
                let ids = placeholders(accounts.len());
                let position: std::collections::HashMap<i64, usize> =
                    accounts.iter().enumerate().map(|(index, account)| (account.id, index)).collect();
                let sql = format!("{SELECT_GRANTS}{ids} ORDER BY g.id DESC");
                let mut query = sqlx::query_as::<_, (i64, i64, String, String, chrono::DateTime<chrono::Utc>)>(&sql);
                for account in &accounts {
                    query = query.bind(account.id);
                }
                for (account_id, amount, reason, granted_by, at) in
                    query.fetch_all(&self.pool).await.map_err(store_error)?
                {
                    if let Some(index) = position.get(&account_id) {
                        accounts[*index].grants.push(app::billing::GrantView {
                            amount: app::billing::model::MilliBu(amount).to_string(),
                            reason,
                            granted_by,
                            at: at.format("%Y-%m-%d %H:%M UTC").to_string(),
                        });
                    }
                }
                let sql = format!("{SELECT_ACCOUNT_PROJECTS}{ids} ORDER BY name");
                let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
                for account in &accounts {
                    query = query.bind(account.id);
                }
                for (account_id, name) in query.fetch_all(&self.pool).await.map_err(store_error)? {
                    if let Some(index) = position.get(&account_id) {
                        accounts[*index].projects.push(name);
                    }
                }
                Ok(accounts)
            }

            /// Adds a ledger row of `kind` for `line` with `amount`; false when that charge was already written.
            /// Inserts ledger rows of `kind` with their amounts (a charge already there is kept as it is) and adds
            /// what went in to `billing_months`; returns the lines that went in.
            async fn insert_ledger<'a>(
                conn: &mut <$db as sqlx::Database>::Connection,
                lines: &[(&'a app::billing::ssr::LedgerCharge, app::billing::model::MilliBu)],
                kind: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<&'a app::billing::ssr::LedgerCharge>, sqlx::Error> {
                use $crate::storage::billing_sql::*;
                let mut written = Vec::new();
                let mut months: std::collections::BTreeMap<(i64, i64, String), i64> = std::collections::BTreeMap::new();
                for chunk in lines.chunks(ROWS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(INSERT_LEDGER);
                    query.push_values(chunk, |mut row, (line, amount)| {
                        row.push_bind(line.project_id)
                            .push_bind(line.account_id)
                            .push_bind(line.resource.as_str())
                            .push_bind(line.hour)
                            .push_bind(kind)
                            .push_bind(line.request)
                            .push_bind(line.usage)
                            .push_bind(line.rate.0)
                            .push_bind(amount.0)
                            .push_bind(now);
                    });
                    query.push(INSERT_LEDGER_TAIL);
                    let inserted: std::collections::HashSet<(i64, String)> =
                        query.build_query_as().fetch_all(&mut *conn).await?.into_iter().collect();
                    for (line, amount) in chunk {
                        if inserted.contains(&(line.project_id, line.resource.as_str().to_owned())) {
                            written.push(*line);
                            *months
                                .entry((line.project_id, line.account_id.unwrap_or(0), month_of(line.hour)))
                                .or_default() += amount.0;
                        }
                    }
                }
                let months: Vec<_> = months.into_iter().collect();
                for chunk in months.chunks(ROWS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(ADD_TO_MONTHS);
                    query.push_values(chunk, |mut row, ((project_id, account_id, month), amount)| {
                        row.push_bind(*project_id).push_bind(*account_id).push_bind(month.as_str()).push_bind(*amount);
                    });
                    query.push(ADD_TO_MONTHS_TAIL);
                    query.build().execute(&mut *conn).await?;
                }
                Ok(written)
            }
        }
    };
}

pub(crate) use impl_billing_store;
