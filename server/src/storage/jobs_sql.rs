//! SQL of the job queue and the outbox, shared by both backends through [`impl_job_store!`].

// `{lock}` is `FOR UPDATE SKIP LOCKED` on PostgreSQL, so that runners in several processes never claim the same row;
// SQLite serialises writers, which has the same effect. A job whose lease ran out (its runner died) is claimed again.
macro_rules! claim_job_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE jobs SET locked_until = $2, attempts = attempts + 1 WHERE id = (SELECT id FROM jobs ",
            "WHERE done_at IS NULL AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) ",
            "ORDER BY run_at, id LIMIT 1 ",
            $lock,
            ") RETURNING id, kind, payload, attempts"
        )
    };
}

pub(crate) const CLAIM_JOB_POSTGRES: &str = claim_job_sql!("FOR UPDATE SKIP LOCKED");
pub(crate) const CLAIM_JOB_SQLITE: &str = claim_job_sql!("");
pub(crate) const FINISH_JOB: &str =
    "UPDATE jobs SET done_at = $2, locked_until = NULL, last_error = NULL, outcome = 'done' WHERE id = $1";
// The runner holds its lease while the job runs, so a long job is not taken over by another runner.
pub(crate) const EXTEND_LEASE: &str = "UPDATE jobs SET locked_until = $2 WHERE id = $1 AND done_at IS NULL";
pub(crate) const RETRY_JOB: &str = "UPDATE jobs SET run_at = $2, locked_until = NULL, last_error = $3 WHERE id = $1";
pub(crate) const CLOSE_FAILED_JOB: &str =
    "UPDATE jobs SET done_at = $2, locked_until = NULL, last_error = $3, outcome = 'failed' WHERE id = $1";
pub(crate) const COUNT_PENDING_JOBS: &str = "SELECT COUNT(*) FROM jobs WHERE done_at IS NULL";
pub(crate) const COUNT_JOBS_BY_KIND: &str = "SELECT kind, \
     CASE WHEN done_at IS NULL THEN 'pending' ELSE 'failed' END AS state, COUNT(*) AS count FROM jobs \
     WHERE done_at IS NULL OR outcome = 'failed' GROUP BY kind, CASE WHEN done_at IS NULL THEN 'pending' ELSE 'failed' END";
pub(crate) const SELECT_OUTBOX: &str = "SELECT id, recipient, subject, text_body, html_body, sent_at, \
     secret_expires_at, list_unsubscribe FROM outbox WHERE id = $1";
// A message that carried a secret keeps no copy of it once delivered.
pub(crate) const MARK_SENT: &str = "UPDATE outbox SET sent_at = $2, \
     text_body = CASE WHEN secret_expires_at IS NULL THEN text_body ELSE '' END, \
     html_body = CASE WHEN secret_expires_at IS NULL THEN html_body ELSE '' END \
     WHERE id = $1 AND sent_at IS NULL";
// Secrets past their time are erased whether or not they were delivered.
pub(crate) const ERASE_EXPIRED_SECRETS: &str = "UPDATE outbox SET text_body = '', html_body = '' \
     WHERE secret_expires_at < $1 AND (text_body <> '' OR html_body <> '')";

// The admins' jobs page: newest first, by keyset; `$2` is the state's condition value (see `JOB_STATE_SQL`).
macro_rules! admin_jobs_sql {
    ($state:literal) => {
        concat!(
            "SELECT id, kind, payload, attempts, run_at, locked_until, last_error, outcome, created_at, done_at ",
            "FROM jobs WHERE ($1 IS NULL OR kind = $1) AND ",
            $state,
            " AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        )
    };
}
pub(crate) const ADMIN_JOBS_ALL: &str = admin_jobs_sql!("($2 IS NULL)");
pub(crate) const ADMIN_JOBS_ENDED: &str = admin_jobs_sql!("outcome = $2");
pub(crate) const ADMIN_JOBS_QUEUED: &str =
    admin_jobs_sql!("done_at IS NULL AND (locked_until IS NULL OR locked_until < $2)");
pub(crate) const ADMIN_JOBS_RUNNING: &str = admin_jobs_sql!("done_at IS NULL AND locked_until >= $2");
pub(crate) const SELECT_JOB_FOR_CHANGE: &str = "SELECT id, kind, payload, attempts, run_at, locked_until, last_error, outcome, created_at, done_at FROM jobs \
     WHERE id = $1";
// Back in the queue as if new; the partial unique index refuses it while another job with its dedupe key waits.
pub(crate) const REQUEUE_JOB: &str = "UPDATE jobs SET done_at = NULL, outcome = NULL, attempts = 0, run_at = $2, \
     locked_until = NULL WHERE id = $1 AND outcome IN ('failed', 'cancelled')";
pub(crate) const CANCEL_JOB: &str = "UPDATE jobs SET done_at = $2, outcome = 'cancelled', locked_until = NULL \
     WHERE id = $1 AND done_at IS NULL AND (locked_until IS NULL OR locked_until < $2)";
pub(crate) const PROJECT_BACK_TO_PROVISIONING: &str =
    "UPDATE projects SET state = 'provisioning', updated_at = $2 WHERE id = $1 AND state = 'provisioning_failed'";

/// Implements `JobStore` for a store type with a `pool` field, a `begin_write()` method and a `jobs_waker`;
/// `$claim` is the claim statement of its dialect.
macro_rules! impl_job_store {
    ($store:ty, $claim:expr) => {
        #[async_trait::async_trait]
        impl $crate::jobs::JobStore for $store {
            async fn claim_job(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                locked_until: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::jobs::ClaimedJob>, app::error::StoreError> {
                let mut tx = self.begin_write().await.map_err($crate::storage::store_error)?;
                let row = sqlx::query_as::<_, $crate::storage::rows::JobRow>($claim)
                    .bind(now)
                    .bind(locked_until)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::storage::store_error)?;
                tx.commit().await.map_err($crate::storage::store_error)?;
                Ok(row.map(|row| $crate::jobs::ClaimedJob {
                    id: row.id,
                    attempts: u32::try_from(row.attempts).unwrap_or(0),
                    payload: $crate::jobs::JobPayload::parse(&row.kind, &row.payload),
                }))
            }

            async fn extend_lease(
                &self,
                id: i64,
                locked_until: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                sqlx::query($crate::storage::jobs_sql::EXTEND_LEASE)
                    .bind(id)
                    .bind(locked_until)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(())
            }

            async fn finish_job(
                &self,
                id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                sqlx::query($crate::storage::jobs_sql::FINISH_JOB)
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(())
            }

            async fn fail_job(
                &self,
                id: i64,
                error: &str,
                retry_at: Option<chrono::DateTime<chrono::Utc>>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::jobs_sql::{CLOSE_FAILED_JOB, RETRY_JOB};
                let (statement, at) = match retry_at {
                    Some(at) => (RETRY_JOB, at),
                    None => (CLOSE_FAILED_JOB, now),
                };
                sqlx::query(statement)
                    .bind(id)
                    .bind(at)
                    .bind(error)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?;
                Ok(())
            }

            async fn outbox_message(
                &self,
                id: i64,
            ) -> Result<Option<$crate::jobs::OutboxMessage>, app::error::StoreError> {
                let row =
                    sqlx::query_as::<_, $crate::storage::rows::OutboxRow>($crate::storage::jobs_sql::SELECT_OUTBOX)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::storage::store_error)?;
                Ok(row.map(|row| $crate::jobs::OutboxMessage {
                    id: row.id,
                    recipient: row.recipient,
                    subject: row.subject,
                    text_body: row.text_body,
                    html_body: row.html_body,
                    sent_at: row.sent_at,
                    secret_expires_at: row.secret_expires_at,
                    list_unsubscribe: row.list_unsubscribe,
                }))
            }

            async fn mark_mail_sent(
                &self,
                outbox_id: i64,
                job_id: i64,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), app::error::StoreError> {
                use $crate::storage::store_error;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                sqlx::query($crate::storage::jobs_sql::MARK_SENT)
                    .bind(outbox_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                sqlx::query($crate::storage::jobs_sql::FINISH_JOB)
                    .bind(job_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)
            }

            async fn erase_expired_secrets(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, app::error::StoreError> {
                Ok(sqlx::query($crate::storage::jobs_sql::ERASE_EXPIRED_SECRETS)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)?
                    .rows_affected())
            }

            async fn pending_jobs(&self) -> Result<i64, app::error::StoreError> {
                sqlx::query_scalar($crate::storage::jobs_sql::COUNT_PENDING_JOBS)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)
            }

            async fn job_counts(&self) -> Result<Vec<(String, String, i64)>, app::error::StoreError> {
                sqlx::query_as($crate::storage::jobs_sql::COUNT_JOBS_BY_KIND)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::storage::store_error)
            }

            fn jobs_waker(&self) -> std::sync::Arc<tokio::sync::Notify> {
                std::sync::Arc::clone(&self.jobs_waker)
            }
        }
    };
}

pub(crate) use impl_job_store;

/// Implements `JobAdminStore` for a store type with `pool`, `begin_write()`, `jobs_waker` and the account store's
/// `insert_audit`.
macro_rules! impl_job_admin_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// The job an admin retries or cancels, read in the change's transaction.
            async fn job_for_change(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: i64,
            ) -> Result<Option<$crate::storage::rows::AdminJobRow>, app::error::StoreError> {
                sqlx::query_as::<_, $crate::storage::rows::AdminJobRow>($crate::storage::jobs_sql::SELECT_JOB_FOR_CHANGE)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err($crate::storage::store_error)
            }
        }

        #[async_trait::async_trait]
        impl app::jobs::ssr::JobAdminStore for $store {
            async fn jobs(
                &self,
                kind: Option<&str>,
                state: Option<app::jobs::JobState>,
                before: Option<i64>,
                limit: u32,
            ) -> Result<Vec<app::jobs::JobView>, app::error::StoreError> {
                use app::jobs::JobState;
                use $crate::storage::jobs_sql::*;
                use $crate::storage::rows::AdminJobRow;
                let now = chrono::Utc::now();
                let rows = match state {
                    None => sqlx::query_as::<_, AdminJobRow>(ADMIN_JOBS_ALL).bind(kind).bind(None::<String>),
                    Some(JobState::Queued) => sqlx::query_as::<_, AdminJobRow>(ADMIN_JOBS_QUEUED).bind(kind).bind(now),
                    Some(JobState::Running) => sqlx::query_as::<_, AdminJobRow>(ADMIN_JOBS_RUNNING).bind(kind).bind(now),
                    Some(ended) => sqlx::query_as::<_, AdminJobRow>(ADMIN_JOBS_ENDED).bind(kind).bind(ended.as_str()),
                }
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::storage::store_error)?;
                Ok(rows.into_iter().map(|row| row.into_view(now)).collect())
            }

            async fn retry_job(
                &self,
                id: i64,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::jobs::ssr::JobChange, app::error::StoreError> {
                use app::jobs::ssr::JobChange;
                use $crate::storage::jobs_sql::*;
                use $crate::storage::store_error;
                let now = audit.at;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let Some(job) = Self::job_for_change(&mut tx, id).await? else {
                    return Ok(JobChange::NotFound);
                };
                let state = job.state(now);
                if !matches!(state, app::jobs::JobState::Failed | app::jobs::JobState::Cancelled) {
                    return Ok(JobChange::WrongState(state));
                }
                match sqlx::query(REQUEUE_JOB).bind(id).bind(now).execute(&mut *tx).await {
                    Ok(_) => {}
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                        return Ok(JobChange::AlreadyQueued);
                    }
                    Err(error) => return Err(store_error(error)),
                }
                if let Ok($crate::jobs::JobPayload::ProvisionProject { project_id }) =
                    $crate::jobs::JobPayload::parse(&job.kind, &job.payload)
                {
                    sqlx::query(PROJECT_BACK_TO_PROVISIONING)
                        .bind(project_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                let audit = audit.clone().with_details(serde_json::json!({ "kind": job.kind }));
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.jobs_waker.notify_one();
                Ok(JobChange::Done)
            }

            async fn cancel_job(
                &self,
                id: i64,
                audit: &app::auth::ssr::NewAuditEntry,
            ) -> Result<app::jobs::ssr::JobChange, app::error::StoreError> {
                use app::jobs::ssr::JobChange;
                use $crate::storage::jobs_sql::*;
                use $crate::storage::store_error;
                let now = audit.at;
                let mut tx = self.begin_write().await.map_err(store_error)?;
                let Some(job) = Self::job_for_change(&mut tx, id).await? else {
                    return Ok(JobChange::NotFound);
                };
                let cancelled =
                    sqlx::query(CANCEL_JOB).bind(id).bind(now).execute(&mut *tx).await.map_err(store_error)?.rows_affected();
                if cancelled == 0 {
                    return Ok(JobChange::WrongState(job.state(now)));
                }
                let audit = audit.clone().with_details(serde_json::json!({ "kind": job.kind }));
                Self::insert_audit(&mut tx, &audit).await.map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(JobChange::Done)
            }
        }
    };
}

pub(crate) use impl_job_admin_store;
