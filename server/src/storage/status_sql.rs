//! SQL of the status store. Both dialects accept this text (`$N` placeholders, `ON CONFLICT`), so both backends
//! share it through [`impl_status_store!`]; each backend supplies its pool and how it opens a snapshot.

pub(crate) const SELECT_META: &str = "SELECT revision, stage, service_level, updated_at FROM status_meta WHERE id = 1";
pub(crate) const SELECT_REVISION: &str = "SELECT revision FROM status_meta WHERE id = 1";
pub(crate) const SELECT_MATURITY: &str = "SELECT indicator, current_value, current_health, best_value, best_health \
     FROM maturity_indicators ORDER BY position, id";
pub(crate) const SELECT_WORK_AREAS: &str = "SELECT area, description FROM work_areas ORDER BY position, id";
// Open issues first, then by most recent change.
pub(crate) const SELECT_KNOWN_ISSUES: &str = "SELECT id, title, description, status, workaround, opened_at, \
     updated_at FROM known_issues ORDER BY CASE WHEN status = 'resolved' THEN 1 ELSE 0 END, updated_at DESC, id DESC";

pub(crate) const INSERT_SEED_RUN: &str =
    "INSERT INTO seed_runs (name, applied_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
// Every write to status content bumps the revision in the same transaction; caches compare it.
pub(crate) const UPSERT_META: &str = "INSERT INTO status_meta (id, revision, stage, service_level, updated_at) \
     VALUES (1, 1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET revision = status_meta.revision + 1, \
     stage = excluded.stage, service_level = excluded.service_level, updated_at = excluded.updated_at";
pub(crate) const INSERT_MATURITY: &str = "INSERT INTO maturity_indicators \
     (position, indicator, current_value, current_health, best_value, best_health, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const INSERT_WORK_AREA: &str =
    "INSERT INTO work_areas (position, area, description, updated_at) VALUES ($1, $2, $3, $4)";
pub(crate) const INSERT_KNOWN_ISSUE: &str = "INSERT INTO known_issues \
     (title, description, status, workaround, opened_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)";

/// Implements `StatusStore` for a store type with a `pool` field, a `begin_snapshot()` method that opens a
/// consistent read-only transaction, and a `begin_write()` method.
macro_rules! impl_status_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl app::status::ssr::StatusStore for $store {
            async fn load_status(&self) -> Result<app::status::model::StatusReport, app::error::StoreError> {
                use $crate::storage::rows::{KnownIssueRow, MaturityRow, MetaRow, WorkAreaRow};
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let mut tx = self.begin_snapshot().await.map_err(store_error)?;
                let meta =
                    sqlx::query_as::<_, MetaRow>(SELECT_META).fetch_optional(&mut *tx).await.map_err(store_error)?;
                let maturity =
                    sqlx::query_as::<_, MaturityRow>(SELECT_MATURITY).fetch_all(&mut *tx).await.map_err(store_error)?;
                let areas = sqlx::query_as::<_, WorkAreaRow>(SELECT_WORK_AREAS)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let issues = sqlx::query_as::<_, KnownIssueRow>(SELECT_KNOWN_ISSUES)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.rollback().await.map_err(store_error)?;
                $crate::storage::rows::status_report(meta, maturity, areas, issues)
            }

            async fn status_revision(&self) -> Result<i64, app::error::StoreError> {
                let revision: Option<i64> = sqlx::query_scalar($crate::storage::status_sql::SELECT_REVISION)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(revision.unwrap_or(0))
            }

            async fn seed_status_once(
                &self,
                name: &str,
                seed: &app::status::ssr::StatusSeed,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let mut tx = self.begin_write().await.map_err(store_error)?;
                // Whoever inserts the ledger row first seeds; a concurrent starter waits on the row, then skips.
                let claimed = sqlx::query(INSERT_SEED_RUN)
                    .bind(name)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if claimed == 0 {
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(false);
                }
                sqlx::query(UPSERT_META)
                    .bind(&seed.service.stage)
                    .bind(&seed.service.service_level)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                for (position, row) in (0_i32..).zip(&seed.maturity) {
                    sqlx::query(INSERT_MATURITY)
                        .bind(position)
                        .bind(&row.indicator)
                        .bind(&row.current.value)
                        .bind(row.current.state.as_str())
                        .bind(&row.best_feasible.value)
                        .bind(row.best_feasible.state.as_str())
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                for (position, area) in (0_i32..).zip(&seed.work_remaining) {
                    sqlx::query(INSERT_WORK_AREA)
                        .bind(position)
                        .bind(&area.area)
                        .bind(&area.description)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                for issue in &seed.known_issues {
                    sqlx::query(INSERT_KNOWN_ISSUE)
                        .bind(&issue.title)
                        .bind(&issue.description)
                        .bind(issue.status.as_str())
                        .bind(issue.workaround.as_deref())
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                Ok(true)
            }
        }
    };
}

pub(crate) use impl_status_store;
