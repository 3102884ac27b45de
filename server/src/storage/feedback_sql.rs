//! SQL of the feedback store, shared by both backends through [`impl_feedback_store!`].

// The author's sends since $2, counted in the sending transaction (the per-user limit).
pub(crate) const COUNT_RECENT: &str = "SELECT COUNT(*) FROM feedback WHERE author_id = $1 AND created_at >= $2";
pub(crate) const INSERT_FEEDBACK: &str = "INSERT INTO feedback \
     (author_id, kind, body, page, component_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
     RETURNING id";
pub(crate) const SELECT_FEEDBACK_OF: &str = "SELECT f.id, COALESCE(u.display_name, u.email, '') AS author, \
     u.email AS author_email, f.kind, f.body, f.page, f.component_id, c.name AS component, f.status, f.reply, \
     f.known_issue_id, f.created_at FROM feedback f JOIN users u ON u.id = f.author_id \
     LEFT JOIN status_components c ON c.id = f.component_id \
     WHERE f.author_id = $1 ORDER BY f.id DESC";
pub(crate) const SELECT_FEEDBACK_QUEUE: &str = "SELECT f.id, COALESCE(u.display_name, u.email, '') AS author, \
     u.email AS author_email, f.kind, f.body, f.page, f.component_id, c.name AS component, f.status, f.reply, \
     f.known_issue_id, f.created_at FROM feedback f JOIN users u ON u.id = f.author_id \
     LEFT JOIN status_components c ON c.id = f.component_id \
     WHERE ($1 IS NULL OR f.status = $1) ORDER BY f.id DESC LIMIT $2";
pub(crate) const SELECT_FEEDBACK_BY_ID: &str = "SELECT f.id, COALESCE(u.display_name, u.email, '') AS author, \
     u.email AS author_email, f.kind, f.body, f.page, f.component_id, c.name AS component, f.status, f.reply, \
     f.known_issue_id, f.created_at FROM feedback f JOIN users u ON u.id = f.author_id \
     LEFT JOIN status_components c ON c.id = f.component_id \
     WHERE f.id = $1";
// A reply is stamped (and its author recorded) only when it changed.
pub(crate) const TRIAGE_FEEDBACK: &str = "UPDATE feedback SET status = $2, reply = $3, \
     replied_at = CASE WHEN $4 THEN $5 ELSE replied_at END, replied_by = CASE WHEN $4 THEN $6 ELSE replied_by END, \
     updated_at = $5 WHERE id = $1";
// Used by the status store when a known issue is made from a report, in the same transaction.
pub(crate) const LINK_KNOWN_ISSUE: &str = "UPDATE feedback SET known_issue_id = $2, updated_at = $3, \
     status = CASE WHEN status = 'new' THEN 'acknowledged' ELSE status END WHERE id = $1 AND known_issue_id IS NULL";

/// A feedback row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FeedbackRow {
    pub id: i64,
    pub author: String,
    pub author_email: Option<String>,
    pub kind: String,
    pub body: String,
    pub page: String,
    pub component_id: Option<i64>,
    pub component: Option<String>,
    pub status: String,
    pub reply: Option<String>,
    pub known_issue_id: Option<i64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl FeedbackRow {
    pub(crate) fn into_record(self) -> Result<app::feedback::ssr::FeedbackRecord, app::error::StoreError> {
        let corrupt = |error: app::status::model::ParseError| app::error::StoreError::Corrupt(error.to_string());
        Ok(app::feedback::ssr::FeedbackRecord {
            id: self.id,
            author: self.author,
            author_email: self.author_email,
            kind: app::feedback::FeedbackKind::parse(&self.kind).map_err(corrupt)?,
            body: self.body,
            page: self.page,
            component: self.component_id.zip(self.component),
            status: app::feedback::FeedbackStatus::parse(&self.status).map_err(corrupt)?,
            reply: self.reply,
            known_issue_id: self.known_issue_id,
            created_at: self.created_at,
        })
    }
}

/// Implements `FeedbackStore` for a store type with `pool`, `begin_write()`, `jobs_waker` and the account store's
/// `insert_audit` and `insert_mail` (so it comes after `impl_account_store!`).
macro_rules! impl_feedback_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl app::feedback::ssr::FeedbackStore for $store {
            async fn submit_feedback(
                &self,
                feedback: &app::feedback::ssr::NewFeedback,
                since: chrono::DateTime<chrono::Utc>,
                limit: u32,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<Option<i64>, app::error::StoreError> {
                use $crate::storage::feedback_sql::*;
                use $crate::storage::store_error;

                let mut tx = self.begin_write().await.map_err(store_error)?;
                let recent: i64 = sqlx::query_scalar(COUNT_RECENT)
                    .bind(feedback.author_id)
                    .bind(since)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if recent >= i64::from(limit) {
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(None);
                }
                let id: i64 = sqlx::query_scalar(INSERT_FEEDBACK)
                    .bind(feedback.author_id)
                    .bind(feedback.kind.as_str())
                    .bind(&feedback.body)
                    .bind(&feedback.page)
                    .bind(feedback.component_id)
                    .bind(audit.at)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let audit = app::auth::ssr::NewAuditEntry { target: format!("feedback:{id}"), ..audit.clone() };
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(Some(id))
            }

            async fn feedback_of(
                &self,
                author_id: i64,
            ) -> Result<Vec<app::feedback::ssr::FeedbackRecord>, app::error::StoreError> {
                let rows: Vec<$crate::storage::feedback_sql::FeedbackRow> =
                    sqlx::query_as($crate::storage::feedback_sql::SELECT_FEEDBACK_OF)
                        .bind(author_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                $crate::storage::feedback_sql::records_of(rows)
            }

            async fn feedback_queue(
                &self,
                status: Option<app::feedback::FeedbackStatus>,
                limit: u32,
            ) -> Result<Vec<app::feedback::ssr::FeedbackRecord>, app::error::StoreError> {
                let rows: Vec<$crate::storage::feedback_sql::FeedbackRow> =
                    sqlx::query_as($crate::storage::feedback_sql::SELECT_FEEDBACK_QUEUE)
                        .bind(status.map(app::feedback::FeedbackStatus::as_str))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                $crate::storage::feedback_sql::records_of(rows)
            }

            async fn feedback_by_id(
                &self,
                id: i64,
            ) -> Result<Option<app::feedback::ssr::FeedbackRecord>, app::error::StoreError> {
                let row: Option<$crate::storage::feedback_sql::FeedbackRow> =
                    sqlx::query_as($crate::storage::feedback_sql::SELECT_FEEDBACK_BY_ID)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                row.map($crate::storage::feedback_sql::FeedbackRow::into_record).transpose()
            }

            async fn triage_feedback(
                &self,
                triage: &app::feedback::ssr::FeedbackTriage,
                mail: Option<&app::auth::ssr::OutgoingMail>,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<bool, app::error::StoreError> {
                use $crate::storage::feedback_sql::*;
                use $crate::storage::store_error;

                let mut tx = self.begin_write().await.map_err(store_error)?;
                let updated = sqlx::query(TRIAGE_FEEDBACK)
                    .bind(triage.id)
                    .bind(triage.status.as_str())
                    .bind(triage.reply.as_deref())
                    .bind(triage.reply_changed)
                    .bind(audit.at)
                    .bind(audit.actor_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if updated == 0 {
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(false);
                }
                Self::insert_audit(&mut tx, audit).await.map_err(store_error)?;
                if let Some(mail) = mail {
                    Self::insert_mail(&mut tx, mail, audit.at).await.map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                if mail.is_some() {
                    self.jobs_waker.notify_one();
                }
                Ok(true)
            }
        }
    };
}

/// Records from rows (a row that does not parse is corrupt).
pub(crate) fn records_of(
    rows: Vec<FeedbackRow>,
) -> Result<Vec<app::feedback::ssr::FeedbackRecord>, app::error::StoreError> {
    rows.into_iter().map(FeedbackRow::into_record).collect()
}

pub(crate) use impl_feedback_store;
