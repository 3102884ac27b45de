//! SQL of the status store. Both dialects accept this text (`$N` placeholders, `ON CONFLICT`), so both backends
//! share it through [`impl_status_store!`]; each backend supplies its pool and how it opens a snapshot.

pub(crate) const SELECT_META: &str = "SELECT revision, stage, service_level, updated_at FROM status_meta WHERE id = 1";
pub(crate) const SELECT_REVISION: &str = "SELECT revision FROM status_meta WHERE id = 1";
pub(crate) const SELECT_MATURITY: &str = "SELECT indicator, current_value, current_health, best_value, best_health \
     FROM maturity_indicators ORDER BY position, id";
pub(crate) const SELECT_WORK_AREAS: &str = "SELECT area, description FROM work_areas ORDER BY position, id";
// Open issues first, then by most recent change.
pub(crate) const SELECT_KNOWN_ISSUES: &str = "SELECT id, title, description, status, workaround, opened_at, \
     updated_at FROM known_issues WHERE removed_at IS NULL ORDER BY CASE WHEN status = 'resolved' THEN 1 ELSE 0 END, updated_at DESC, id DESC";

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

// Components, incidents and maintenance.
pub(crate) const SELECT_COMPONENTS: &str =
    "SELECT id, name, description, position FROM status_components ORDER BY position, id";
pub(crate) const INSERT_COMPONENT: &str = "INSERT INTO status_components (name, description, position, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO NOTHING RETURNING id";
pub(crate) const UPDATE_COMPONENT: &str = "UPDATE status_components SET name = $2, description = $3, position = $4, \
     updated_at = $5 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM status_components other WHERE other.name = $2 \
     AND other.id <> $1) RETURNING id";
// Incidents open, or resolved since $1; their impacts and updates.
pub(crate) const SELECT_INCIDENTS_SINCE: &str = "SELECT id, title, status, opened_at, resolved_at, version \
     FROM incidents WHERE resolved_at IS NULL OR resolved_at >= $1 ORDER BY opened_at DESC, id DESC";
pub(crate) const SELECT_IMPACTS_SINCE: &str = "SELECT i.incident_id, i.component_id, i.from_at, i.impact \
     FROM incident_impacts i JOIN incidents n ON n.id = i.incident_id \
     WHERE n.resolved_at IS NULL OR n.resolved_at >= $1 ORDER BY i.from_at, i.component_id";
pub(crate) const SELECT_UPDATES_SINCE: &str = "SELECT u.incident_id, u.status, u.message, u.created_at \
     FROM incident_updates u JOIN incidents n ON n.id = u.incident_id \
     WHERE n.resolved_at IS NULL OR n.resolved_at >= $1 ORDER BY u.id DESC";
// The history: a page of incidents newest first, then their impacts and updates (`IN` + the page's ids).
pub(crate) const SELECT_INCIDENT_PAGE: &str = "SELECT id, title, status, opened_at, resolved_at, version \
     FROM incidents WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2";
pub(crate) const SELECT_IMPACTS_OF: &str =
    "SELECT incident_id, component_id, from_at, impact FROM incident_impacts WHERE incident_id IN ";
pub(crate) const IMPACTS_ORDER: &str = " ORDER BY from_at, component_id";
pub(crate) const SELECT_UPDATES_OF: &str =
    "SELECT incident_id, status, message, created_at FROM incident_updates WHERE incident_id IN ";
pub(crate) const UPDATES_ORDER: &str = " ORDER BY id DESC";
pub(crate) const INSERT_INCIDENT: &str = "INSERT INTO incidents (title, status, opened_at, opened_by, updated_at) \
     VALUES ($1, $2, $3, $4, $3) RETURNING id";
pub(crate) const INSERT_IMPACT: &str = "INSERT INTO incident_impacts (incident_id, component_id, from_at, impact) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (incident_id, component_id, from_at) DO UPDATE SET impact = excluded.impact";
pub(crate) const INSERT_INCIDENT_UPDATE: &str = "INSERT INTO incident_updates \
     (incident_id, status, message, created_at, created_by) VALUES ($1, $2, $3, $4, $5)";
// One conditional update per change: only the version the form was made on, only while open.
pub(crate) const ADVANCE_INCIDENT: &str = "UPDATE incidents SET status = $3, version = version + 1, updated_at = $4, \
     resolved_at = CASE WHEN $3 = 'resolved' THEN $4 ELSE NULL END \
     WHERE id = $1 AND version = $2 AND resolved_at IS NULL";
// Maintenance windows not cancelled that end after $1, soonest first, and their components.
pub(crate) const SELECT_WINDOWS_SINCE: &str = "SELECT id, title, description, starts_at, ends_at \
     FROM maintenance_windows WHERE cancelled_at IS NULL AND ends_at > $1 ORDER BY starts_at, id";
pub(crate) const SELECT_WINDOW_COMPONENTS_SINCE: &str = "SELECT c.window_id, c.component_id \
     FROM maintenance_components c JOIN maintenance_windows w ON w.id = c.window_id \
     WHERE w.cancelled_at IS NULL AND w.ends_at > $1";
pub(crate) const INSERT_WINDOW: &str = "INSERT INTO maintenance_windows \
     (title, description, starts_at, ends_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
pub(crate) const INSERT_WINDOW_COMPONENT: &str =
    "INSERT INTO maintenance_components (window_id, component_id) VALUES ($1, $2)";
pub(crate) const CANCEL_WINDOW: &str = "UPDATE maintenance_windows SET cancelled_at = $2 \
     WHERE id = $1 AND cancelled_at IS NULL AND ends_at > $2";
// Edited content and its revisions.
pub(crate) const SELECT_ISSUE_COMPONENT_NAMES: &str = "SELECT k.issue_id, c.name FROM known_issue_components k \
     JOIN status_components c ON c.id = k.component_id ORDER BY c.position, c.id";
pub(crate) const SELECT_CONTENT_REVISION: &str = "SELECT content_revision FROM status_meta WHERE id = 1";
pub(crate) const SELECT_CONTENT_ISSUES: &str =
    "SELECT id, title, description, status, workaround FROM known_issues WHERE removed_at IS NULL ORDER BY id";
pub(crate) const SELECT_ISSUE_COMPONENT_IDS: &str = "SELECT k.issue_id, k.component_id FROM known_issue_components k \
     JOIN known_issues i ON i.id = k.issue_id WHERE i.removed_at IS NULL ORDER BY k.issue_id, k.component_id";
// The conditional update that makes an edit the next revision, or finds that another was made first.
pub(crate) const ADVANCE_CONTENT: &str = "UPDATE status_meta SET content_revision = content_revision + 1, \
     revision = revision + 1, stage = $2, service_level = $3, updated_at = $4 \
     WHERE id = 1 AND content_revision = $1 RETURNING content_revision";
pub(crate) const FIRST_REVISION: &str =
    "UPDATE status_meta SET content_revision = 1 WHERE id = 1 AND content_revision = 0";
pub(crate) const DELETE_MATURITY: &str = "DELETE FROM maturity_indicators";
pub(crate) const DELETE_WORK_AREAS: &str = "DELETE FROM work_areas";
pub(crate) const SELECT_LIVE_ISSUE_IDS: &str = "SELECT id FROM known_issues WHERE removed_at IS NULL";
pub(crate) const INSERT_CONTENT_ISSUE: &str = "INSERT INTO known_issues \
     (title, description, status, workaround, opened_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id";
// A restored issue comes back (removed_at cleared); "updated" moves only when its text changed.
pub(crate) const UPDATE_CONTENT_ISSUE: &str = "UPDATE known_issues SET title = $2, description = $3, status = $4, \
     workaround = $5, removed_at = NULL, updated_at = CASE WHEN $6 THEN $7 ELSE updated_at END WHERE id = $1";
pub(crate) const REMOVE_ISSUE: &str =
    "UPDATE known_issues SET removed_at = $2, updated_at = $2 WHERE id = $1 AND removed_at IS NULL";
pub(crate) const DELETE_ISSUE_COMPONENTS: &str = "DELETE FROM known_issue_components WHERE issue_id = $1";
// A component id that is not (or no longer) there is skipped.
pub(crate) const INSERT_ISSUE_COMPONENT: &str = "INSERT INTO known_issue_components (issue_id, component_id) \
     SELECT $1, id FROM status_components WHERE id = $2";
pub(crate) const INSERT_REVISION: &str = "INSERT INTO status_revisions \
     (revision, content, summary, author_id, restored_from, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const SELECT_REVISION_BY_NUMBER: &str = "SELECT r.revision, r.summary, \
     COALESCE(u.display_name, u.email, '') AS author, r.restored_from, r.created_at, r.content \
     FROM status_revisions r LEFT JOIN users u ON u.id = r.author_id WHERE r.revision = $1";
pub(crate) const SELECT_REVISIONS: &str = "SELECT r.revision, r.summary, \
     COALESCE(u.display_name, u.email, '') AS author, r.restored_from, r.created_at \
     FROM status_revisions r LEFT JOIN users u ON u.id = r.author_id \
     WHERE ($1 IS NULL OR r.revision < $1) ORDER BY r.revision DESC LIMIT $2";

// The components an incident or a window touches, for its events.
pub(crate) const SELECT_INCIDENT_COMPONENTS: &str =
    "SELECT DISTINCT component_id FROM incident_impacts WHERE incident_id = $1 ORDER BY component_id";
pub(crate) const SELECT_WINDOW_COMPONENTS: &str =
    "SELECT component_id FROM maintenance_components WHERE window_id = $1 ORDER BY component_id";

// Every change to what the page shows moves the revision (and "last updated"); caches compare it.
pub(crate) const BUMP_REVISION: &str = "UPDATE status_meta SET revision = revision + 1, updated_at = $1 WHERE id = 1";

/// An incident row: id, title, status, opened, resolved, version.
pub(crate) type IncidentRow =
    (i64, String, String, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>, i64);
/// An impact row: incident, component, from, impact.
pub(crate) type ImpactRow = (i64, i64, chrono::DateTime<chrono::Utc>, String);
/// An update row: incident, status, message, at.
pub(crate) type UpdateRow = (i64, String, String, chrono::DateTime<chrono::Utc>);

/// Incident records from their rows; impacts and updates go to their incidents in the order given.
pub(crate) fn incident_records(
    incidents: Vec<IncidentRow>,
    impacts: Vec<ImpactRow>,
    updates: Vec<UpdateRow>,
) -> Result<Vec<app::status::ssr::IncidentRecord>, app::error::StoreError> {
    use app::status::model::{ComponentStatus, IncidentUpdate, IssueStatus};
    use app::status::ssr::{ImpactRecord, IncidentRecord};
    let corrupt = |error: app::status::model::ParseError| app::error::StoreError::Corrupt(error.to_string());
    let mut records = incidents
        .into_iter()
        .map(|(id, title, status, opened_at, resolved_at, version)| {
            Ok(IncidentRecord {
                id,
                title,
                status: IssueStatus::parse(&status).map_err(corrupt)?,
                opened_at,
                resolved_at,
                version,
                impacts: Vec::new(),
                updates: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, app::error::StoreError>>()?;
    for (incident_id, component_id, from_at, impact) in impacts {
        if let Some(record) = records.iter_mut().find(|record| record.id == incident_id) {
            let impact = ComponentStatus::parse(&impact).map_err(corrupt)?;
            record.impacts.push(ImpactRecord { component_id, from_at, impact });
        }
    }
    for (incident_id, status, message, at) in updates {
        if let Some(record) = records.iter_mut().find(|record| record.id == incident_id) {
            let status = IssueStatus::parse(&status).map_err(corrupt)?;
            record.updates.push(IncidentUpdate { status, message, at });
        }
    }
    Ok(records)
}

/// A revision row: number, summary, author, restored from, created.
pub(crate) type RevisionRow = (i64, String, String, Option<i64>, chrono::DateTime<chrono::Utc>);
/// A known issue row as content: id, title, description, status, workaround.
pub(crate) type ContentIssueRow = (i64, String, String, String, Option<String>);

/// A revision's line from its row.
pub(crate) fn revision_line(
    (revision, summary, author, restored_from, at): RevisionRow,
) -> app::status::content::RevisionLine {
    app::status::content::RevisionLine { revision, summary, author, at, restored_from }
}

/// The content from its rows.
pub(crate) fn status_content(
    (stage, service_level): (String, String),
    report: &app::status::model::StatusReport,
    issues: Vec<ContentIssueRow>,
    issue_components: Vec<(i64, i64)>,
) -> Result<app::status::content::StatusContent, app::error::StoreError> {
    use app::status::content::{ContentIssue, StatusContent};
    let known_issues = issues
        .into_iter()
        .map(|(id, title, description, status, workaround)| {
            Ok(ContentIssue {
                id,
                title,
                description,
                status: app::status::model::IssueStatus::parse(&status)
                    .map_err(|error| app::error::StoreError::Corrupt(error.to_string()))?,
                workaround,
                component_ids: issue_components
                    .iter()
                    .filter(|(issue, _)| *issue == id)
                    .map(|(_, component)| *component)
                    .collect(),
            })
        })
        .collect::<Result<_, app::error::StoreError>>()?;
    Ok(StatusContent {
        service: app::status::model::ServiceSummary { stage, service_level },
        maturity: report.maturity.clone(),
        work_remaining: report.work_remaining.clone(),
        known_issues,
    })
}

/// Whether `error` is a unique-constraint violation (two admins adding one name at once).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(|error| error.is_unique_violation())
}

/// Implements `StatusStore` for a store type with a `pool` field, a `begin_snapshot()` method that opens a
/// consistent read-only transaction, and a `begin_write()` method.
macro_rules! impl_status_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// The report's stored part (everything but components, incidents and maintenance).
            async fn read_report(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<app::status::model::StatusReport, app::error::StoreError> {
                use $crate::storage::rows::{KnownIssueRow, MaturityRow, MetaRow, WorkAreaRow};
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let meta =
                    sqlx::query_as::<_, MetaRow>(SELECT_META).fetch_optional(&mut *conn).await.map_err(store_error)?;
                let maturity = sqlx::query_as::<_, MaturityRow>(SELECT_MATURITY)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(store_error)?;
                let areas = sqlx::query_as::<_, WorkAreaRow>(SELECT_WORK_AREAS)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(store_error)?;
                let issues = sqlx::query_as::<_, KnownIssueRow>(SELECT_KNOWN_ISSUES)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(store_error)?;
                let components: Vec<(i64, String)> =
                    sqlx::query_as(SELECT_ISSUE_COMPONENT_NAMES).fetch_all(&mut *conn).await.map_err(store_error)?;
                $crate::storage::rows::status_report(meta, maturity, areas, issues, components)
            }

            /// The edited content and its latest revision's number; `None` before seeding.
            async fn read_content(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<Option<(i64, app::status::content::StatusContent)>, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let revision: Option<i64> = sqlx::query_scalar(SELECT_CONTENT_REVISION)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?;
                let Some(revision) = revision else { return Ok(None) };
                let report = Self::read_report(&mut *conn).await?;
                let issues: Vec<ContentIssueRow> =
                    sqlx::query_as(SELECT_CONTENT_ISSUES).fetch_all(&mut *conn).await.map_err(store_error)?;
                let components: Vec<(i64, i64)> =
                    sqlx::query_as(SELECT_ISSUE_COMPONENT_IDS).fetch_all(&mut *conn).await.map_err(store_error)?;
                let summary = (report.service.stage.clone(), report.service.service_level.clone());
                Ok(Some((revision, status_content(summary, &report, issues, components)?)))
            }

            /// Records that seed `name` runs, in the transaction of `conn`; false when it ran before. Whoever inserts the
            /// ledger row first seeds; a concurrent starter waits on the row, then skips.
            async fn claim_seed(
                conn: &mut <$db as sqlx::Database>::Connection,
                name: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, sqlx::Error> {
                let claimed = sqlx::query($crate::storage::status_sql::INSERT_SEED_RUN)
                    .bind(name)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                Ok(claimed == 1)
            }

            /// Inserts the matrix rows and work areas in their order (the tables are empty or just emptied).
            async fn insert_matrix_and_areas(
                conn: &mut <$db as sqlx::Database>::Connection,
                maturity: &[app::status::model::MaturityIndicator],
                areas: &[app::status::model::WorkArea],
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), sqlx::Error> {
                use $crate::storage::status_sql::{INSERT_MATURITY, INSERT_WORK_AREA};
                for (position, row) in (0_i32..).zip(maturity) {
                    sqlx::query(INSERT_MATURITY)
                        .bind(position)
                        .bind(&row.indicator)
                        .bind(&row.current.value)
                        .bind(row.current.state.as_str())
                        .bind(&row.best_feasible.value)
                        .bind(row.best_feasible.state.as_str())
                        .bind(at)
                        .execute(&mut *conn)
                        .await?;
                }
                for (position, area) in (0_i32..).zip(areas) {
                    sqlx::query(INSERT_WORK_AREA)
                        .bind(position)
                        .bind(&area.area)
                        .bind(&area.description)
                        .bind(at)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            }

            /// Inserts revision `revision` holding `content`.
            async fn insert_revision(
                conn: &mut <$db as sqlx::Database>::Connection,
                revision: i64,
                content: &app::status::content::StatusContent,
                summary: &str,
                author: Option<i64>,
                restored_from: Option<i64>,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                let json = serde_json::to_string(content)
                    .map_err(|error| app::error::StoreError::Corrupt(format!("cannot encode the content: {error}")))?;
                sqlx::query($crate::storage::status_sql::INSERT_REVISION)
                    .bind(revision)
                    .bind(json)
                    .bind(summary)
                    .bind(author)
                    .bind(restored_from)
                    .bind(at)
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl app::status::ssr::StatusStore for $store {
            async fn load_status(&self) -> Result<app::status::model::StatusReport, app::error::StoreError> {
                let mut tx = self.begin_snapshot().await.map_err($crate::storage::store_error)?;
                let report = Self::read_report(&mut tx).await?;
                tx.rollback().await.map_err($crate::storage::store_error)?;
                Ok(report)
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
                if !Self::claim_seed(&mut tx, name, now).await.map_err(store_error)? {
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
                Self::insert_matrix_and_areas(&mut tx, &seed.maturity, &seed.work_remaining, now)
                    .await
                    .map_err(store_error)?;
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

            async fn seed_components_once(
                &self,
                name: &str,
                components: &[(&str, &str)],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let mut tx = self.begin_write().await.map_err(store_error)?;
                if !Self::claim_seed(&mut tx, name, now).await.map_err(store_error)? {
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(false);
                }
                for (position, (component, description)) in (0_i32..).zip(components) {
                    sqlx::query(INSERT_COMPONENT)
                        .bind(*component)
                        .bind(*description)
                        .bind(position * 10)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                // The revision stays: this runs at startup, before anything is cached.
                tx.commit().await.map_err(store_error)?;
                Ok(true)
            }

            async fn load_operations(
                &self,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<app::status::ssr::OperationsRecords, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let mut tx = self.begin_snapshot().await.map_err(store_error)?;
                let components = sqlx::query_as::<_, (i64, String, String, i32)>(SELECT_COMPONENTS)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .map(|(id, name, description, position)| app::status::ssr::ComponentRecord {
                        id,
                        name,
                        description,
                        position,
                    })
                    .collect();
                let incidents = sqlx::query_as::<_, IncidentRow>(SELECT_INCIDENTS_SINCE)
                    .bind(since)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let impacts = sqlx::query_as::<_, ImpactRow>(SELECT_IMPACTS_SINCE)
                    .bind(since)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let updates = sqlx::query_as::<_, UpdateRow>(SELECT_UPDATES_SINCE)
                    .bind(since)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let windows = sqlx::query_as::<
                    _,
                    (i64, String, String, chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
                >(SELECT_WINDOWS_SINCE)
                .bind(since)
                .fetch_all(&mut *tx)
                .await
                .map_err(store_error)?;
                let window_components = sqlx::query_as::<_, (i64, i64)>(SELECT_WINDOW_COMPONENTS_SINCE)
                    .bind(since)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.rollback().await.map_err(store_error)?;
                let maintenance = windows
                    .into_iter()
                    .map(|(id, title, description, starts_at, ends_at)| {
                        let mut component_ids: Vec<i64> = window_components
                            .iter()
                            .filter(|(window, _)| *window == id)
                            .map(|(_, component)| *component)
                            .collect();
                        component_ids.sort_unstable();
                        app::status::ssr::MaintenanceRecord {
                            id,
                            title,
                            description,
                            starts_at,
                            ends_at,
                            component_ids,
                        }
                    })
                    .collect();
                Ok(app::status::ssr::OperationsRecords {
                    components,
                    incidents: incident_records(incidents, impacts, updates)?,
                    maintenance,
                })
            }

            async fn incident_history(
                &self,
                before: Option<i64>,
                limit: u32,
            ) -> Result<Vec<app::status::ssr::IncidentRecord>, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let incidents = sqlx::query_as::<_, IncidentRow>(SELECT_INCIDENT_PAGE)
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                if incidents.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<i64> = incidents.iter().map(|row| row.0).collect();
                let mut query = sqlx::QueryBuilder::<$db>::new(SELECT_IMPACTS_OF);
                query.push("(");
                let mut list = query.separated(", ");
                for id in &ids {
                    list.push_bind(*id);
                }
                query.push(")").push(IMPACTS_ORDER);
                let impacts: Vec<ImpactRow> =
                    query.build_query_as().fetch_all(&self.pool).await.map_err(store_error)?;
                let mut query = sqlx::QueryBuilder::<$db>::new(SELECT_UPDATES_OF);
                query.push("(");
                let mut list = query.separated(", ");
                for id in &ids {
                    list.push_bind(*id);
                }
                query.push(")").push(UPDATES_ORDER);
                let updates: Vec<UpdateRow> =
                    query.build_query_as().fetch_all(&self.pool).await.map_err(store_error)?;
                incident_records(incidents, impacts, updates)
            }

            async fn save_component(
                &self,
                input: &app::status::ssr::ComponentInput,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<Option<i64>, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let mut tx = self.begin_write().await.map_err(store_error)?;
                let saved: Result<Option<i64>, sqlx::Error> = match input.id {
                    None => {
                        sqlx::query_scalar(INSERT_COMPONENT)
                            .bind(&input.name)
                            .bind(&input.description)
                            .bind(input.position)
                            .bind(audit.at)
                            .fetch_optional(&mut *tx)
                            .await
                    }
                    Some(id) => {
                        sqlx::query_scalar(UPDATE_COMPONENT)
                            .bind(id)
                            .bind(&input.name)
                            .bind(&input.description)
                            .bind(input.position)
                            .bind(audit.at)
                            .fetch_optional(&mut *tx)
                            .await
                    }
                };
                let id = match saved {
                    Ok(Some(id)) => id,
                    Ok(None) => return Ok(None),
                    Err(error) if is_unique_violation(&error) => return Ok(None),
                    Err(error) => return Err(store_error(error)),
                };
                let audit = app::auth::ssr::NewAuditEntry { target: format!("component:{id}"), ..audit.clone() };
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                sqlx::query(BUMP_REVISION).bind(audit.at).execute(&mut *tx).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(Some(id))
            }

            async fn open_incident(
                &self,
                incident: &app::status::ssr::NewIncident,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<i64, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let at = audit.at;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let id: i64 = sqlx::query_scalar(INSERT_INCIDENT)
                    .bind(&incident.title)
                    .bind(incident.status.as_str())
                    .bind(at)
                    .bind(audit.actor_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                for (component_id, impact) in &incident.impacts {
                    sqlx::query(INSERT_IMPACT)
                        .bind(id)
                        .bind(*component_id)
                        .bind(at)
                        .bind(impact.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                sqlx::query(INSERT_INCIDENT_UPDATE)
                    .bind(id)
                    .bind(incident.status.as_str())
                    .bind(&incident.message)
                    .bind(at)
                    .bind(audit.actor_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let audit = app::auth::ssr::NewAuditEntry { target: format!("incident:{id}"), ..audit.clone() };
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                sqlx::query(BUMP_REVISION).bind(at).execute(&mut *tx).await.map_err(store_error)?;
                let affected: Vec<i64> = incident.impacts.iter().map(|(id, _)| *id).collect();
                let status = Some(incident.status.as_str());
                Self::insert_status_event(&mut tx, "incident.opened", id, status, &incident.message, &affected, at)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(id)
            }

            async fn update_incident(
                &self,
                change: &app::status::ssr::IncidentChange,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::status::ssr::IncidentOutcome, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let at = audit.at;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let advanced = sqlx::query(ADVANCE_INCIDENT)
                    .bind(change.id)
                    .bind(change.version)
                    .bind(change.status.as_str())
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if advanced == 0 {
                    tx.rollback().await.map_err(store_error)?;
                    let current = self.incident_history(Some(change.id + 1), 1).await?;
                    return Ok(match current.into_iter().next().filter(|record| record.id == change.id) {
                        Some(record) => app::status::ssr::IncidentOutcome::Stale(Box::new(record)),
                        None => app::status::ssr::IncidentOutcome::NotFound,
                    });
                }
                for (component_id, impact) in &change.impacts {
                    sqlx::query(INSERT_IMPACT)
                        .bind(change.id)
                        .bind(*component_id)
                        .bind(at)
                        .bind(impact.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                sqlx::query(INSERT_INCIDENT_UPDATE)
                    .bind(change.id)
                    .bind(change.status.as_str())
                    .bind(&change.message)
                    .bind(at)
                    .bind(audit.actor_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                sqlx::query(BUMP_REVISION).bind(at).execute(&mut *tx).await.map_err(store_error)?;
                let affected: Vec<i64> = sqlx::query_scalar(SELECT_INCIDENT_COMPONENTS)
                    .bind(change.id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let kind = if change.status == app::status::model::IssueStatus::Resolved {
                    "incident.resolved"
                } else {
                    "incident.updated"
                };
                let status = Some(change.status.as_str());
                Self::insert_status_event(&mut tx, kind, change.id, status, &change.message, &affected, at)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(app::status::ssr::IncidentOutcome::Updated)
            }

            async fn schedule_maintenance(
                &self,
                window: &app::status::ssr::NewMaintenance,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<i64, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let mut tx = self.begin_write().await.map_err(store_error)?;
                let id: i64 = sqlx::query_scalar(INSERT_WINDOW)
                    .bind(&window.title)
                    .bind(&window.description)
                    .bind(window.starts_at)
                    .bind(window.ends_at)
                    .bind(audit.actor_id)
                    .bind(audit.at)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                for component_id in &window.component_ids {
                    sqlx::query(INSERT_WINDOW_COMPONENT)
                        .bind(id)
                        .bind(*component_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                let audit = app::auth::ssr::NewAuditEntry { target: format!("maintenance:{id}"), ..audit.clone() };
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                sqlx::query(BUMP_REVISION).bind(audit.at).execute(&mut *tx).await.map_err(store_error)?;
                let (kind, message, components) = ("maintenance.scheduled", &window.description, &window.component_ids);
                Self::insert_status_event(&mut tx, kind, id, None, message, components, audit.at)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(id)
            }

            async fn cancel_maintenance(
                &self,
                id: i64,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let mut tx = self.begin_write().await.map_err(store_error)?;
                let cancelled = sqlx::query(CANCEL_WINDOW)
                    .bind(id)
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if cancelled == 0 {
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(false);
                }
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                sqlx::query(BUMP_REVISION).bind(audit.at).execute(&mut *tx).await.map_err(store_error)?;
                let components: Vec<i64> = sqlx::query_scalar(SELECT_WINDOW_COMPONENTS)
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let message = "This maintenance will not take place.";
                Self::insert_status_event(&mut tx, "maintenance.cancelled", id, None, message, &components, audit.at)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(true)
            }

            async fn load_content(
                &self,
            ) -> Result<Option<(i64, app::status::content::StatusContent)>, app::error::StoreError> {
                let mut tx = self.begin_snapshot().await.map_err($crate::storage::store_error)?;
                let content = Self::read_content(&mut tx).await?;
                tx.rollback().await.map_err($crate::storage::store_error)?;
                Ok(content)
            }

            async fn ensure_first_revision(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let mut tx = self.begin_write().await.map_err(store_error)?;
                let content = match Self::read_content(&mut tx).await? {
                    Some((0, content)) => content,
                    _ => {
                        tx.rollback().await.map_err(store_error)?;
                        return Ok(false);
                    }
                };
                // Another process starting at once may have taken revision 1 since the read: it waits on the row
                // here and then finds the number moved.
                let claimed = sqlx::query(FIRST_REVISION).execute(&mut *tx).await.map_err(store_error)?.rows_affected();
                if claimed == 0 {
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(false);
                }
                Self::insert_revision(
                    &mut tx,
                    1,
                    &content,
                    "The content as it stood when revisions began",
                    None,
                    None,
                    now,
                )
                .await?;
                tx.commit().await.map_err(store_error)?;
                Ok(true)
            }

            async fn save_content(
                &self,
                change: &app::status::ssr::ContentChange,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<Option<i64>, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let at = audit.at;
                let mut content = change.content.clone();
                let mut tx = self.begin_write().await.map_err(store_error)?;
                // First, so that a concurrent edit waits here and then finds the revision moved.
                let revision: Option<i64> = sqlx::query_scalar(ADVANCE_CONTENT)
                    .bind(change.expected)
                    .bind(&content.service.stage)
                    .bind(&content.service.service_level)
                    .bind(at)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let Some(revision) = revision else {
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(None);
                };
                sqlx::query(DELETE_MATURITY).execute(&mut *tx).await.map_err(store_error)?;
                sqlx::query(DELETE_WORK_AREAS).execute(&mut *tx).await.map_err(store_error)?;
                Self::insert_matrix_and_areas(&mut tx, &content.maturity, &content.work_remaining, at)
                    .await
                    .map_err(store_error)?;
                let live: Vec<i64> =
                    sqlx::query_scalar(SELECT_LIVE_ISSUE_IDS).fetch_all(&mut *tx).await.map_err(store_error)?;
                for id in live.iter().filter(|id| !content.known_issues.iter().any(|issue| issue.id == **id)) {
                    sqlx::query(REMOVE_ISSUE).bind(id).bind(at).execute(&mut *tx).await.map_err(store_error)?;
                }
                for issue in &mut content.known_issues {
                    if issue.id == 0 {
                        issue.id = sqlx::query_scalar(INSERT_CONTENT_ISSUE)
                            .bind(&issue.title)
                            .bind(&issue.description)
                            .bind(issue.status.as_str())
                            .bind(issue.workaround.as_deref())
                            .bind(at)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(store_error)?;
                        if let Some(feedback) = change.from_feedback {
                            let linked = sqlx::query($crate::storage::feedback_sql::LINK_KNOWN_ISSUE)
                                .bind(feedback)
                                .bind(issue.id)
                                .bind(at)
                                .execute(&mut *tx)
                                .await
                                .map_err(store_error)?
                                .rows_affected();
                            if linked == 0 {
                                // Turned into an issue by someone else meanwhile: add nothing.
                                tx.rollback().await.map_err(store_error)?;
                                return Ok(None);
                            }
                        }
                    } else {
                        sqlx::query(UPDATE_CONTENT_ISSUE)
                            .bind(issue.id)
                            .bind(&issue.title)
                            .bind(&issue.description)
                            .bind(issue.status.as_str())
                            .bind(issue.workaround.as_deref())
                            .bind(change.touched.contains(&issue.id))
                            .bind(at)
                            .execute(&mut *tx)
                            .await
                            .map_err(store_error)?;
                    }
                    sqlx::query(DELETE_ISSUE_COMPONENTS).bind(issue.id).execute(&mut *tx).await.map_err(store_error)?;
                    for component in &issue.component_ids {
                        sqlx::query(INSERT_ISSUE_COMPONENT)
                            .bind(issue.id)
                            .bind(component)
                            .execute(&mut *tx)
                            .await
                            .map_err(store_error)?;
                    }
                }
                content.known_issues.sort_by_key(|issue| issue.id);
                Self::insert_revision(
                    &mut tx,
                    revision,
                    &content,
                    &change.summary,
                    audit.actor_id,
                    change.restored_from,
                    at,
                )
                .await?;
                let audit =
                    app::auth::ssr::NewAuditEntry { target: format!("status:revision:{revision}"), ..audit.clone() };
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(Some(revision))
            }

            async fn content_revision(
                &self,
                revision: i64,
            ) -> Result<Option<app::status::ssr::RevisionRecord>, app::error::StoreError> {
                use $crate::storage::status_sql::*;
                use $crate::storage::store_error;

                let row: Option<(i64, String, String, Option<i64>, chrono::DateTime<chrono::Utc>, String)> =
                    sqlx::query_as(SELECT_REVISION_BY_NUMBER)
                        .bind(revision)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(store_error)?;
                row.map(|(revision, summary, author, restored_from, at, content)| {
                    let content = serde_json::from_str(&content).map_err(|error| {
                        app::error::StoreError::Corrupt(format!("revision {revision} cannot be read: {error}"))
                    })?;
                    Ok(app::status::ssr::RevisionRecord {
                        line: revision_line((revision, summary, author, restored_from, at)),
                        content,
                    })
                })
                .transpose()
            }

            async fn content_revisions(
                &self,
                before: Option<i64>,
                limit: u32,
            ) -> Result<Vec<app::status::content::RevisionLine>, app::error::StoreError> {
                use $crate::storage::status_sql::*;

                let rows: Vec<RevisionRow> = sqlx::query_as(SELECT_REVISIONS)
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(rows.into_iter().map(revision_line).collect())
            }
        }
    };
}

pub(crate) use impl_status_store;
