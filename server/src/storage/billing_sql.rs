//! SQL of usage collectors, usage samples and the BU ledger, shared by both backends through
//! [`impl_billing_store!`]. Samples are kept once each; the ledger is only ever inserted into.

pub(crate) const INSERT_COLLECTOR: &str = "INSERT INTO usage_collectors (name, token_hash, created_by, created_at) \
     VALUES ($1, $2, $3, $4) RETURNING id";
pub(crate) const REVOKE_COLLECTOR: &str =
    "UPDATE usage_collectors SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
pub(crate) const SELECT_COLLECTORS: &str = "SELECT c.id, c.name, COALESCE(u.email, '') AS created_by, c.created_at, \
     c.last_used_at, c.revoked_at FROM usage_collectors c LEFT JOIN users u ON u.id = c.created_by ORDER BY c.id DESC";
pub(crate) const USE_COLLECTOR: &str = "UPDATE usage_collectors SET last_used_at = $2 \
     WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id";
pub(crate) const SELECT_PROJECT_IDS: &str = "SELECT name, id FROM projects WHERE deleted_at IS NULL AND name IN ";
pub(crate) const INSERT_SAMPLE: &str = "INSERT INTO usage_samples \
     (project_id, resource, sampled_at, source, value_milli, received_at) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT DO NOTHING";
pub(crate) const ADD_TO_HOUR: &str = "INSERT INTO usage_hours (project_id, resource, hour, samples, total_milli) \
     VALUES ($1, $2, $3, 1, $4) ON CONFLICT (project_id, resource, hour) \
     DO UPDATE SET samples = usage_hours.samples + 1, total_milli = usage_hours.total_milli + excluded.total_milli";
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
pub(crate) const INSERT_LEDGER: &str = "INSERT INTO billing_ledger (project_id, account_id, resource, hour, kind, \
     request_milli, usage_milli, rate_mbu, amount_mbu, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT DO NOTHING";
pub(crate) const MARK_ROLLED: &str = "UPDATE usage_hours SET rolled_samples = $4 \
     WHERE project_id = $1 AND resource = $2 AND hour = $3 AND rolled_samples < $4";
pub(crate) const MOVE_WATERMARK: &str = "INSERT INTO billing_rollups (name, last_hour) VALUES ('usage', $1) \
     ON CONFLICT (name) DO UPDATE SET last_hour = excluded.last_hour WHERE billing_rollups.last_hour < excluded.last_hour";
pub(crate) const SELECT_STALE: &str = "SELECT project_id, resource, hour, rolled_samples FROM usage_hours \
     WHERE samples <> rolled_samples AND hour <= $1 ORDER BY hour, project_id, resource LIMIT $2";
pub(crate) const CLAIM_STALE: &str = "UPDATE usage_hours SET rolled_samples = $5 \
     WHERE project_id = $1 AND resource = $2 AND hour = $3 AND rolled_samples = $4";
pub(crate) const SUM_HOUR: &str = "SELECT CAST(COALESCE(SUM(amount_mbu), 0) AS BIGINT) FROM billing_ledger \
     WHERE project_id = $1 AND resource = $2 AND hour = $3";
pub(crate) const SUM_MONTHS: &str = "SELECT \
     CAST(COALESCE(SUM(CASE WHEN hour >= $2 THEN amount_mbu ELSE 0 END), 0) AS BIGINT), \
     CAST(COALESCE(SUM(CASE WHEN hour < $2 THEN amount_mbu ELSE 0 END), 0) AS BIGINT) \
     FROM billing_ledger WHERE project_id = $1 AND hour >= $3";
pub(crate) const SELECT_LATEST_USAGE_HOUR: &str = "SELECT MAX(hour) FROM usage_hours WHERE project_id = $1";
pub(crate) const SELECT_USAGE_AT: &str =
    "SELECT resource, samples, total_milli FROM usage_hours WHERE project_id = $1 AND hour = $2";
pub(crate) const SELECT_PROJECT_ACCOUNT: &str = "SELECT billing_account_id FROM projects WHERE id = $1";
// Sums per account: grants, all charges, charges since $1, the newest grant and the alerts sent for it.
pub(crate) const SELECT_ACCOUNTS: &str = "SELECT a.id, a.name, a.owner_id, COALESCE(u.email, '') AS owner, \
     CAST(COALESCE((SELECT SUM(g.amount_mbu) FROM billing_grants g WHERE g.account_id = a.id), 0) AS BIGINT), \
     CAST(COALESCE((SELECT SUM(l.amount_mbu) FROM billing_ledger l WHERE l.account_id = a.id), 0) AS BIGINT), \
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
/// The month (YYYY-MM, UTC) of a ledger row's hour, per backend.
pub(crate) const MONTH_SQLITE: &str = "substr(hour, 1, 7)";
pub(crate) const MONTH_POSTGRES: &str = "to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM')";
/// A project's BU per month; `{month}` stands for the backend's month expression.
pub(crate) const PROJECT_MONTHS: &str = "SELECT {month} AS month, CAST(SUM(amount_mbu) AS BIGINT) \
     FROM billing_ledger WHERE project_id = $1 AND hour >= $2 GROUP BY {month}";
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
pub(crate) const CONSUMPTION: &str = "SELECT p.name, COALESCE(a.name, ''), \
     CAST(COALESCE(SUM(l.amount_mbu), 0) AS BIGINT) FROM projects p \
     LEFT JOIN billing_accounts a ON a.id = p.billing_account_id \
     LEFT JOIN billing_ledger l ON l.project_id = p.id AND l.hour >= $1 AND l.hour < $2 \
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
    ($store:ty, $db:ty, $month:expr) => {
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
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let revoked = sqlx::query($crate::storage::billing_sql::REVOKE_COLLECTOR)
                    .bind(id)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if revoked == 0 {
                    return Ok(false);
                }
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(true)
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

            async fn use_collector(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<i64>, app::error::StoreError> {
                sqlx::query_scalar($crate::storage::billing_sql::USE_COLLECTOR)
                    .bind(token_hash)
                    .bind(now)
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
                samples: &[app::billing::ssr::StoredSample],
                received_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let mut inserted = 0;
                for sample in samples {
                    let new = sqlx::query($crate::storage::billing_sql::INSERT_SAMPLE)
                        .bind(sample.project_id)
                        .bind(sample.resource.as_str())
                        .bind(sample.at)
                        .bind(source)
                        .bind(sample.value)
                        .bind(received_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?
                        .rows_affected();
                    if new == 0 {
                        continue;
                    }
                    inserted += 1;
                    sqlx::query($crate::storage::billing_sql::ADD_TO_HOUR)
                        .bind(sample.project_id)
                        .bind(sample.resource.as_str())
                        .bind(app::billing::ssr::hour_of(sample.at))
                        .bind(sample.value)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
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

            async fn write_hour(
                &self,
                hour: chrono::DateTime<chrono::Utc>,
                charges: &[app::billing::ssr::LedgerCharge],
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::store_error;
                let now = chrono::Utc::now();
                let mut tx = self.begin_write().await.map_err(store_error)?;
                for line in charges {
                    let inserted =
                        Self::insert_ledger(&mut tx, line, "charge", line.amount, now).await.map_err(store_error)?;
                    if inserted && line.samples > 0 {
                        sqlx::query($crate::storage::billing_sql::MARK_ROLLED)
                            .bind(line.project_id)
                            .bind(line.resource.as_str())
                            .bind(line.hour)
                            .bind(line.samples)
                            .execute(&mut *tx)
                            .await
                            .map_err(store_error)?;
                    }
                }
                sqlx::query($crate::storage::billing_sql::MOVE_WATERMARK)
                    .bind(hour)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
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
                    Self::insert_ledger(&mut tx, expected, "correction", difference, now).await.map_err(store_error)?;
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
                    .bind(this_month)
                    .bind(last_month)
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
                    .bind(from)
                    .bind(to)
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
                let sql = $crate::storage::billing_sql::PROJECT_MONTHS.replace("{month}", $month);
                let rows = sqlx::query_as::<_, (String, i64)>(&sql)
                    .bind(project_id)
                    .bind(from)
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
            async fn insert_ledger(
                conn: &mut <$db as sqlx::Database>::Connection,
                line: &app::billing::ssr::LedgerCharge,
                kind: &str,
                amount: app::billing::model::MilliBu,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, sqlx::Error> {
                let inserted = sqlx::query($crate::storage::billing_sql::INSERT_LEDGER)
                    .bind(line.project_id)
                    .bind(line.account_id)
                    .bind(line.resource.as_str())
                    .bind(line.hour)
                    .bind(kind)
                    .bind(line.request)
                    .bind(line.usage)
                    .bind(line.rate.0)
                    .bind(amount.0)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                Ok(inserted > 0)
            }
        }
    };
}

pub(crate) use impl_billing_store;
