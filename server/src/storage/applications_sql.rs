//! SQL of the application store, shared by both backends through [`impl_application_store!`]. Every change writes
//! its timeline event, audit row and mail in the same transaction; transitions are conditional on state and version.

pub(crate) const SELECT_APPLICATION: &str = "SELECT a.id, a.applicant_id, u.email AS applicant_email, \
     u.display_name AS applicant_name, a.state, a.version, a.project_name, a.title, a.purpose, a.organisation, \
     a.end_date, a.cpu_cores, a.memory_gib, a.storage_gib, a.pods, a.gpus, a.quota_justification, \
     a.billing_account_id, a.billing_justification, a.terms_version, a.assigned_to, t.email AS assigned_email, \
     d.email AS decided_email, a.decided_at, a.decision_reason, p.id AS project_id, p.name AS project_name_granted, \
     p.state AS project_state, p.cpu_cores AS granted_cpu_cores, p.memory_gib AS granted_memory_gib, \
     p.storage_gib AS granted_storage_gib, p.pods AS granted_pods, p.gpus AS granted_gpus, \
     a.created_at, a.updated_at, a.submitted_at \
     FROM applications a JOIN users u ON u.id = a.applicant_id \
     LEFT JOIN users t ON t.id = a.assigned_to LEFT JOIN users d ON d.id = a.decided_by \
     LEFT JOIN projects p ON p.application_id = a.id WHERE a.id = $1";

// Saving the same form twice (a double click, a reload that posts again) saves one draft: the form's key is unique
// per applicant, and a second save of it changes the first draft while it is still a draft.
pub(crate) const SELECT_DRAFT_BY_KEY: &str =
    "SELECT id, state, version FROM applications WHERE applicant_id = $1 AND draft_key = $2";
pub(crate) const INSERT_DRAFT: &str = "INSERT INTO applications (applicant_id, draft_key, state, project_name, \
     title, purpose, organisation, end_date, cpu_cores, memory_gib, storage_gib, pods, gpus, quota_justification, \
     billing_account_id, billing_justification, created_at, updated_at) \
     VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) RETURNING id";
// Only the applicant, only while editable, only on the version the form was made on.
pub(crate) const UPDATE_FIELDS: &str = "UPDATE applications SET project_name = $4, title = $5, purpose = $6, \
     organisation = $7, end_date = $8, cpu_cores = $9, memory_gib = $10, storage_gib = $11, pods = $12, gpus = $13, \
     quota_justification = $14, billing_account_id = $15, billing_justification = $16, updated_at = $17, \
     version = version + 1 \
     WHERE id = $1 AND applicant_id = $2 AND version = $3 AND state IN ('draft', 'changes_requested') \
     RETURNING version";
pub(crate) const SUBMIT: &str = "UPDATE applications SET state = 'submitted', project_name = $4, title = $5, \
     purpose = $6, organisation = $7, end_date = $8, cpu_cores = $9, memory_gib = $10, storage_gib = $11, \
     pods = $12, gpus = $13, quota_justification = $14, billing_account_id = $15, billing_justification = $16, \
     terms_version = $17, submitted_at = $18, updated_at = $18, version = version + 1 \
     WHERE id = $1 AND state = $2 AND version = $3 RETURNING version";
// Every other transition: who made it and when are kept, so that someone who comes second is told.
pub(crate) const SET_STATE: &str = "UPDATE applications SET state = $4, decided_by = $5, decided_at = $6, \
     decision_reason = $7, updated_at = $6, version = version + 1 \
     WHERE id = $1 AND state = $2 AND version = $3 RETURNING version";
pub(crate) const PROJECT_NAME_IN_USE: &str = "SELECT COUNT(*) FROM projects WHERE name = $1";
pub(crate) const NAME_TAKEN: &str = "SELECT (SELECT COUNT(*) FROM projects WHERE name = $1) + \
     (SELECT COUNT(*) FROM applications WHERE project_name = $1 AND state IN ('submitted', 'changes_requested') \
     AND ($2 IS NULL OR id <> $2))";
pub(crate) const INSERT_PROJECT: &str = "INSERT INTO projects (name, application_id, owner_id, title, organisation, \
     end_date, cpu_cores, memory_gib, storage_gib, pods, gpus, billing_account_id, state, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'provisioning', $13, $13) RETURNING id";
pub(crate) const SELECT_BILLING_ACCOUNTS_OF: &str = "SELECT a.id, a.name, \
     CAST(COALESCE((SELECT SUM(g.amount_mbu) FROM billing_grants g WHERE g.account_id = a.id), 0) \
     - COALESCE((SELECT SUM(l.amount_mbu) FROM billing_ledger l WHERE l.account_id = a.id), 0) AS BIGINT) \
     FROM billing_accounts a WHERE a.owner_id = $1 ORDER BY a.id";
// An approval that asked for a new billing account opens one for the applicant, named after the project.
pub(crate) const INSERT_BILLING_ACCOUNT: &str =
    "INSERT INTO billing_accounts (name, owner_id, created_at) VALUES ($1, $2, $3) RETURNING id";
pub(crate) const INSERT_MANAGER: &str =
    "INSERT INTO project_members (project_id, user_id, role, created_at) VALUES ($1, $2, 'manager', $3)";
pub(crate) const TAKE: &str = "UPDATE applications SET assigned_to = $2, updated_at = $3 WHERE id = $1";
pub(crate) const TOUCH: &str = "UPDATE applications SET updated_at = $2 WHERE id = $1";
pub(crate) const INSERT_EVENT: &str = "INSERT INTO application_events \
     (application_id, at, actor_id, actor, kind, from_state, to_state, message, details) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub(crate) const SELECT_EVENTS: &str = "SELECT id, at, actor, kind, from_state, to_state, message, details \
     FROM application_events WHERE application_id = $1 ORDER BY id";
pub(crate) const SELECT_APPLICATIONS_OF: &str = "SELECT id, state, project_name, title, updated_at \
     FROM applications WHERE applicant_id = $1 ORDER BY updated_at DESC, id DESC";
pub(crate) const COUNT_WAITING: &str =
    "SELECT COUNT(*) FROM (SELECT 1 FROM applications WHERE state = 'submitted' LIMIT $1) AS waiting";
pub(crate) const SELECT_ADMINS_MAILED_EACH: &str = "SELECT email FROM users \
     WHERE role = 'admin' AND disabled_at IS NULL AND email IS NOT NULL AND application_mail = 'each' ORDER BY id";

pub(crate) const SELECT_ADMINS_MAILED_DAILY: &str = "SELECT email FROM users \
     WHERE role = 'admin' AND disabled_at IS NULL AND email IS NOT NULL AND application_mail = 'daily' ORDER BY id";
pub(crate) const SELECT_APPLICATION_MAIL: &str = "SELECT application_mail FROM users WHERE id = $1";
pub(crate) const SET_APPLICATION_MAIL: &str = "UPDATE users SET application_mail = $2 WHERE id = $1";
pub(crate) const SELECT_PROJECTS_OF: &str = "SELECT id, name, state, cpu_cores, memory_gib, storage_gib, pods, gpus \
     FROM projects WHERE owner_id = $1 ORDER BY name";
// The run's row and its mail in one transaction: whichever process inserts the row sends the mail, once.
pub(crate) const INSERT_SCHEDULED_RUN: &str = "INSERT INTO scheduled_runs (name, period, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

// The queue: keyset pagination (no OFFSET) over the indexes on (state, submitted_at, id), (state, project_name, id)
// and their organisation-first twins. Only the filters given become SQL: `($n IS NULL OR …)` would keep the
// planners from using the organisation indexes. Patterns are escaped LIKE patterns.
pub(crate) const QUEUE_SELECT: &str = "SELECT a.id, a.state, a.project_name, a.title, a.organisation, \
     COALESCE(u.email, '') AS applicant, t.email AS assigned_to, a.submitted_at, a.cpu_cores, a.memory_gib, \
     a.storage_gib, a.pods, a.gpus \
     FROM applications a JOIN users u ON u.id = a.applicant_id LEFT JOIN users t ON t.id = a.assigned_to \
     WHERE a.state = ";
pub(crate) const QUEUE_ORGANISATION: &str = " AND a.organisation = ";
pub(crate) const QUEUE_APPLICANT: [&str; 2] = [" AND u.email LIKE ", " ESCAPE '\\'"];
pub(crate) const QUEUE_SEARCH: [&str; 4] = [
    " AND (LOWER(a.project_name) LIKE ",
    " ESCAPE '\\' OR LOWER(a.title) LIKE ",
    " ESCAPE '\\' OR u.email LIKE ",
    " ESCAPE '\\')",
];
/// After (key, id): `[" AND (a.K > ", " OR (a.K = ", " AND a.id > ", "))"]`.
pub(crate) const QUEUE_AFTER_AGE: [&str; 4] =
    [" AND (a.submitted_at > ", " OR (a.submitted_at = ", " AND a.id > ", "))"];
pub(crate) const QUEUE_AFTER_NAME: [&str; 4] =
    [" AND (a.project_name > ", " OR (a.project_name = ", " AND a.id > ", "))"];
pub(crate) const QUEUE_ORDER_AGE: &str = " ORDER BY a.submitted_at, a.id LIMIT ";
pub(crate) const QUEUE_ORDER_NAME: &str = " ORDER BY a.project_name, a.id LIMIT ";

/// Binds an application's fields, in the column order every statement here lists them: project name, title,
/// purpose, organisation, end date, the five quota values, quota justification, billing account, billing
/// justification.
macro_rules! bind_fields {
    ($query:expr, $fields:expr) => {{
        let fields: &app::applications::model::ApplicationFields = $fields;
        let (account, justification) = app::applications::ssr::billing_columns(fields.billing.as_ref());
        $query
            .bind(fields.project_name.as_ref().map_or("", |name| name.as_str()))
            .bind(&fields.title)
            .bind(&fields.purpose)
            .bind(&fields.organisation)
            .bind(fields.end_date)
            .bind(i64::from(fields.quota.cpu_cores))
            .bind(i64::from(fields.quota.memory_gib))
            .bind(i64::from(fields.quota.storage_gib))
            .bind(i64::from(fields.quota.pods))
            .bind(i64::from(fields.quota.gpus))
            .bind(&fields.quota_justification)
            .bind(account)
            .bind(justification)
    }};
}

pub(crate) use bind_fields;

/// Implements `ApplicationStore` for a store type with `pool`, `begin_write()`, `jobs_waker` and the account
/// store's `insert_audit` and `insert_mail` (so it comes after `impl_account_store!`).
macro_rules! impl_application_store {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn insert_event(
                conn: &mut <$db as sqlx::Database>::Connection,
                application_id: i64,
                at: chrono::DateTime<chrono::Utc>,
                kind: &str,
                states: Option<(app::applications::state::ApplicationState, app::applications::state::ApplicationState)>,
                event: &app::applications::ssr::NewEvent,
            ) -> Result<(), sqlx::Error> {
                sqlx::query($crate::storage::applications_sql::INSERT_EVENT)
                    .bind(application_id)
                    .bind(at)
                    .bind(event.actor_id)
                    .bind(&event.actor)
                    .bind(kind)
                    .bind(states.map(|(from, _)| from.as_str()))
                    .bind(states.map(|(_, to)| to.as_str()))
                    .bind(&event.message)
                    .bind(serde_json::json!({ "by_admin": event.by_admin }).to_string())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            async fn load_application(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: i64,
            ) -> Result<Option<app::applications::ssr::ApplicationRecord>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::ApplicationRow>(
                    $crate::storage::applications_sql::SELECT_APPLICATION,
                )
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map_err($crate::storage::store_error)?
                .map($crate::storage::rows::ApplicationRow::into_record)
                .transpose()
            }

            /// Saves the applicant's fields into an editable application of `version`; the new version, or `None`
            /// when no row matched.
            async fn update_fields(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: i64,
                applicant_id: i64,
                version: i64,
                fields: &app::applications::model::ApplicationFields,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<i64>, sqlx::Error> {
                let query = sqlx::query_scalar($crate::storage::applications_sql::UPDATE_FIELDS)
                    .bind(id)
                    .bind(applicant_id)
                    .bind(version);
                $crate::storage::applications_sql::bind_fields!(query, fields).bind(now).fetch_optional(&mut *conn).await
            }

            /// What a change that touched no row means: somebody changed it first, or it does not exist.
            async fn stale_or_missing(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: i64,
            ) -> Result<app::applications::ssr::ChangeOutcome, app::error::StoreError> {
                use app::applications::ssr::ChangeOutcome;
                Ok(match Self::load_application(conn, id).await? {
                    Some(record) => ChangeOutcome::Stale(Box::new(record)),
                    None => ChangeOutcome::NotFound,
                })
            }
        }

        #[async_trait::async_trait]
        impl app::applications::ssr::ApplicationStore for $store {
            async fn save_new_draft(
                &self,
                applicant_id: i64,
                draft_key: &str,
                fields: &app::applications::model::ApplicationFields,
                event: &app::applications::ssr::NewEvent,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<(i64, i64), app::error::StoreError> {
                use $crate::storage::applications_sql::*;
                use $crate::storage::store_error;
                let now = audit.at;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let existing: Option<(i64, String, i64)> = sqlx::query_as(SELECT_DRAFT_BY_KEY)
                    .bind(applicant_id)
                    .bind(draft_key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let audit = |id: i64| app::auth::ssr::NewAuditEntry { target: format!("application:{id}"), ..audit.clone() };
                if let Some((id, state, version)) = existing {
                    // The same form again: save into the draft it created, if that is still a draft.
                    if state != "draft" {
                        return Ok((id, version));
                    }
                    let version = Self::update_fields(&mut tx, id, applicant_id, version, fields, now)
                        .await
                        .map_err(store_error)?
                        .ok_or_else(|| {
                            app::error::StoreError::Corrupt(format!("draft {id} changed while it was saved"))
                        })?;
                    Self::insert_event(&mut tx, id, now, "saved", None, event).await.map_err(store_error)?;
                    Self::insert_audit(&mut tx, &audit(id)).await.map_err(store_error)?;
                    tx.commit().await.map_err(store_error)?;
                    return Ok((id, version));
                }
                let query = sqlx::query_scalar(INSERT_DRAFT).bind(applicant_id).bind(draft_key);
                let id: i64 = bind_fields!(query, fields).bind(now).fetch_one(&mut *tx).await.map_err(store_error)?;
                Self::insert_event(&mut tx, id, now, "created", None, event).await.map_err(store_error)?;
                Self::insert_audit(&mut tx, &audit(id)).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok((id, 1))
            }

            async fn save_changes(
                &self,
                application_id: i64,
                applicant_id: i64,
                version: i64,
                fields: &app::applications::model::ApplicationFields,
                event: &app::applications::ssr::NewEvent,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::applications::ssr::ChangeOutcome, app::error::StoreError> {
                use app::applications::ssr::ChangeOutcome;
                use $crate::storage::store_error;
                let now = audit.at;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let updated = Self::update_fields(&mut tx, application_id, applicant_id, version, fields, now)
                    .await
                    .map_err(store_error)?;
                let Some(version) = updated else {
                    return match Self::stale_or_missing(&mut tx, application_id).await? {
                        ChangeOutcome::Stale(record) if record.applicant_id == applicant_id => {
                            Ok(ChangeOutcome::Stale(record))
                        }
                        _ => Ok(ChangeOutcome::NotFound),
                    };
                };
                Self::insert_event(&mut tx, application_id, now, "saved", None, event).await.map_err(store_error)?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(ChangeOutcome::Done { version, project_id: None })
            }

            async fn transition(
                &self,
                change: &app::applications::ssr::TransitionChange,
            ) -> Result<app::applications::ssr::ChangeOutcome, app::error::StoreError> {
                use app::applications::ssr::ChangeOutcome;
                use $crate::storage::applications_sql::*;
                use $crate::storage::store_error;
                let now = change.audit.at;
                let id = change.application_id;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let updated: Result<Option<i64>, sqlx::Error> = match &change.submitted {
                    Some((fields, terms_version)) => {
                        let name = fields.project_name.as_ref().map_or("", |name| name.as_str());
                        let in_use: i64 = sqlx::query_scalar(PROJECT_NAME_IN_USE)
                            .bind(name)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(store_error)?;
                        if in_use > 0 {
                            return Ok(ChangeOutcome::NameTaken);
                        }
                        let query = sqlx::query_scalar(SUBMIT).bind(id).bind(change.from.as_str()).bind(change.version);
                        bind_fields!(query, fields).bind(terms_version).bind(now).fetch_optional(&mut *tx).await
                    }
                    None => {
                        sqlx::query_scalar(SET_STATE)
                            .bind(id)
                            .bind(change.from.as_str())
                            .bind(change.version)
                            .bind(change.to.as_str())
                            .bind(change.event.actor_id)
                            .bind(now)
                            .bind(Some(change.event.message.as_str()).filter(|message| !message.is_empty()))
                            .fetch_optional(&mut *tx)
                            .await
                    }
                };
                let version = match updated {
                    Ok(Some(version)) => version,
                    Ok(None) => return Self::stale_or_missing(&mut tx, id).await,
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                        return Ok(ChangeOutcome::NameTaken);
                    }
                    Err(error) => return Err(store_error(error)),
                };
                let mut project_id = None;
                if let Some(project) = &change.project {
                    let billing_account_id = match project.billing_account_id {
                        Some(id) => id,
                        None => sqlx::query_scalar(INSERT_BILLING_ACCOUNT)
                            .bind(&project.name)
                            .bind(project.owner_id)
                            .bind(now)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(store_error)?,
                    };
                    let created: Result<i64, sqlx::Error> = sqlx::query_scalar(INSERT_PROJECT)
                        .bind(&project.name)
                        .bind(id)
                        .bind(project.owner_id)
                        .bind(&project.title)
                        .bind(&project.organisation)
                        .bind(project.end_date)
                        .bind(i64::from(project.quota.cpu_cores))
                        .bind(i64::from(project.quota.memory_gib))
                        .bind(i64::from(project.quota.storage_gib))
                        .bind(i64::from(project.quota.pods))
                        .bind(i64::from(project.quota.gpus))
                        .bind(billing_account_id)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await;
                    let created = match created {
                        Ok(created) => created,
                        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                            return Ok(ChangeOutcome::NameTaken);
                        }
                        Err(error) => return Err(store_error(error)),
                    };
                    sqlx::query(INSERT_MANAGER)
                        .bind(created)
                        .bind(project.owner_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let job = $crate::jobs::JobPayload::ProvisionProject { project_id: created };
                    Self::insert_job(&mut tx, &job, now).await.map_err(store_error)?;
                    project_id = Some(created);
                }
                Self::insert_event(
                    &mut tx,
                    id,
                    now,
                    change.transition.as_str(),
                    Some((change.from, change.to)),
                    &change.event,
                )
                .await
                .map_err(store_error)?;
                for mail in &change.mail {
                    Self::insert_mail(&mut tx, mail, now).await.map_err(store_error)?;
                }
                Self::insert_audit(&mut tx, &change.audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                if !change.mail.is_empty() || project_id.is_some() {
                    self.jobs_waker.notify_one();
                }
                Ok(ChangeOutcome::Done { version, project_id })
            }

            async fn comment(
                &self,
                application_id: i64,
                event: &app::applications::ssr::NewEvent,
                mail: &[app::auth::ssr::OutgoingMail],
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::applications_sql::*;
                use $crate::storage::store_error;
                let now = audit.at;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let touched =
                    sqlx::query(TOUCH).bind(application_id).bind(now).execute(&mut *tx).await.map_err(store_error)?;
                if touched.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::insert_event(&mut tx, application_id, now, "comment", None, event).await.map_err(store_error)?;
                for message in mail {
                    Self::insert_mail(&mut tx, message, now).await.map_err(store_error)?;
                }
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                if !mail.is_empty() {
                    self.jobs_waker.notify_one();
                }
                Ok(true)
            }

            async fn take(
                &self,
                application_id: i64,
                event: &app::applications::ssr::NewEvent,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::applications_sql::*;
                use $crate::storage::store_error;
                let now = audit.at;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let taken = sqlx::query(TAKE)
                    .bind(application_id)
                    .bind(event.actor_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if taken.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::insert_event(&mut tx, application_id, now, "take", None, event).await.map_err(store_error)?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(true)
            }

            async fn application(
                &self,
                id: i64,
            ) -> Result<Option<app::applications::ssr::ApplicationRecord>, app::error::StoreError> {
                let mut conn = self.pool.acquire().await.map_err($crate::storage::store_error)?;
                Self::load_application(&mut conn, id).await
            }

            async fn events(
                &self,
                application_id: i64,
            ) -> Result<Vec<app::applications::ssr::ApplicationEvent>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::ApplicationEventRow>(
                    $crate::storage::applications_sql::SELECT_EVENTS,
                )
                .bind(application_id)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::store_error)?
                .into_iter()
                .map($crate::storage::rows::ApplicationEventRow::into_event)
                .collect()
            }

            async fn applications_of(
                &self,
                applicant_id: i64,
            ) -> Result<Vec<app::applications::ssr::ApplicationSummaryRow>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::ApplicationSummaryDbRow>(
                    $crate::storage::applications_sql::SELECT_APPLICATIONS_OF,
                )
                .bind(applicant_id)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::store_error)?
                .into_iter()
                .map($crate::storage::rows::ApplicationSummaryDbRow::into_summary)
                .collect()
            }

            async fn queue(
                &self,
                filter: &app::applications::ssr::QueueFilter,
                limit: u32,
            ) -> Result<Vec<app::applications::ssr::QueueRow>, app::error::StoreError> {
                use app::applications::ssr::QueueSort;
                use $crate::storage::accounts_sql::like_literal;
                use $crate::storage::applications_sql as sql;
                let state = filter.state.unwrap_or(app::applications::state::ApplicationState::Submitted);
                let contains = |text: &str| format!("%{}%", like_literal(&text.to_lowercase()));
                let mut query = sqlx::QueryBuilder::<$db>::new(sql::QUEUE_SELECT);
                query.push_bind(state.as_str());
                if let Some(organisation) = &filter.organisation {
                    query.push(sql::QUEUE_ORGANISATION).push_bind(organisation.clone());
                }
                if let Some(applicant) = &filter.applicant {
                    let [before, after] = sql::QUEUE_APPLICANT;
                    query.push(before).push_bind(contains(applicant)).push(after);
                }
                if let Some(search) = &filter.search {
                    let pattern = contains(search);
                    let [first, second, third, last] = sql::QUEUE_SEARCH;
                    query.push(first).push_bind(pattern.clone()).push(second).push_bind(pattern.clone());
                    query.push(third).push_bind(pattern).push(last);
                }
                match filter.sort {
                    QueueSort::Age => {
                        let after = filter.after.as_ref().and_then(|(key, id)| {
                            chrono::DateTime::parse_from_rfc3339(key).ok().map(|at| (at.with_timezone(&chrono::Utc), *id))
                        });
                        if let Some((at, id)) = after {
                            let [first, second, third, last] = sql::QUEUE_AFTER_AGE;
                            query.push(first).push_bind(at).push(second).push_bind(at);
                            query.push(third).push_bind(id).push(last);
                        }
                        query.push(sql::QUEUE_ORDER_AGE);
                    }
                    QueueSort::Name => {
                        if let Some((name, id)) = &filter.after {
                            let [first, second, third, last] = sql::QUEUE_AFTER_NAME;
                            query.push(first).push_bind(name.clone()).push(second).push_bind(name.clone());
                            query.push(third).push_bind(*id).push(last);
                        }
                        query.push(sql::QUEUE_ORDER_NAME);
                    }
                }
                query.push_bind(i64::from(limit));
                query
                    .build_query_as::<$crate::storage::rows::QueueDbRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?
                    .into_iter()
                    .map($crate::storage::rows::QueueDbRow::into_row)
                    .collect()
            }

            async fn waiting_count(&self, up_to: i64) -> Result<i64, app::error::StoreError> {
                sqlx::query_scalar($crate::storage::applications_sql::COUNT_WAITING)
                    .bind(up_to)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)
            }

            async fn name_taken(&self, name: &str, except: Option<i64>) -> Result<bool, app::error::StoreError> {
                let count: i64 = sqlx::query_scalar($crate::storage::applications_sql::NAME_TAKEN)
                    .bind(name)
                    .bind(except)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(count > 0)
            }

            async fn admins_mailed_each(&self) -> Result<Vec<String>, app::error::StoreError> {
                sqlx::query_scalar($crate::storage::applications_sql::SELECT_ADMINS_MAILED_EACH)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)
            }

            async fn admins_mailed_daily(&self) -> Result<Vec<String>, app::error::StoreError> {
                sqlx::query_scalar($crate::storage::applications_sql::SELECT_ADMINS_MAILED_DAILY)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)
            }

            async fn application_mail_daily(&self, user_id: i64) -> Result<bool, app::error::StoreError> {
                let choice: Option<String> =
                    sqlx::query_scalar($crate::storage::applications_sql::SELECT_APPLICATION_MAIL)
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                Ok(choice.as_deref() == Some("daily"))
            }

            async fn set_application_mail_daily(
                &self,
                user_id: i64,
                daily: bool,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query($crate::storage::applications_sql::SET_APPLICATION_MAIL)
                    .bind(user_id)
                    .bind(if daily { "daily" } else { "each" })
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)
            }

            async fn billing_accounts_of(
                &self,
                owner_id: i64,
            ) -> Result<Vec<(i64, String, app::billing::model::MilliBu)>, app::error::StoreError> {
                let rows: Vec<(i64, String, i64)> =
                    sqlx::query_as($crate::storage::applications_sql::SELECT_BILLING_ACCOUNTS_OF)
                        .bind(owner_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, name, balance)| (id, name, app::billing::model::MilliBu(balance)))
                    .collect())
            }

            async fn projects_of(
                &self,
                owner_id: i64,
            ) -> Result<Vec<app::applications::ssr::ProjectRef>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::ProjectRefRow>(
                    $crate::storage::applications_sql::SELECT_PROJECTS_OF,
                )
                .bind(owner_id)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::store_error)?
                .into_iter()
                .map($crate::storage::rows::ProjectRefRow::into_project)
                .collect()
            }

            async fn run_once(
                &self,
                name: &str,
                period: &str,
                mail: &[app::auth::ssr::OutgoingMail],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let inserted = sqlx::query($crate::storage::applications_sql::INSERT_SCHEDULED_RUN)
                    .bind(name)
                    .bind(period)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if inserted.rows_affected() == 0 {
                    return Ok(false);
                }
                for message in mail {
                    Self::insert_mail(&mut tx, message, now).await.map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                if !mail.is_empty() {
                    self.jobs_waker.notify_one();
                }
                Ok(true)
            }
        }
    };
}

pub(crate) use impl_application_store;
