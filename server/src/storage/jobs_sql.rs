//! SQL of the job queue and the outbox, shared by both backends through [`impl_job_store!`].

// `{lock}` is `FOR UPDATE SKIP LOCKED` on PostgreSQL, so that runners in several processes never claim the same row;
// SQLite serialises writers, which has the same effect. Runners claim only the kinds they have a handler for: a
// `provision_project` job waits, queued and visible, until provisioning lands (it is never retried into failure).
macro_rules! claim_job_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE jobs SET locked_until = $2, attempts = attempts + 1 WHERE id = (SELECT id FROM jobs ",
            "WHERE done_at IS NULL AND run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) ",
            "AND kind IN ('send_mail') ",
            "ORDER BY run_at, id LIMIT 1 ",
            $lock,
            ") RETURNING id, kind, payload, attempts"
        )
    };
}

pub(crate) const CLAIM_JOB_POSTGRES: &str = claim_job_sql!("FOR UPDATE SKIP LOCKED");
pub(crate) const CLAIM_JOB_SQLITE: &str = claim_job_sql!("");
pub(crate) const FINISH_JOB: &str =
    "UPDATE jobs SET done_at = $2, locked_until = NULL, last_error = NULL WHERE id = $1";
pub(crate) const RETRY_JOB: &str = "UPDATE jobs SET run_at = $2, locked_until = NULL, last_error = $3 WHERE id = $1";
pub(crate) const CLOSE_FAILED_JOB: &str =
    "UPDATE jobs SET done_at = $2, locked_until = NULL, last_error = $3 WHERE id = $1";
pub(crate) const COUNT_PENDING_JOBS: &str = "SELECT COUNT(*) FROM jobs WHERE done_at IS NULL";
pub(crate) const SELECT_OUTBOX: &str = "SELECT id, recipient, subject, text_body, html_body, sent_at, \
     secret_expires_at FROM outbox WHERE id = $1";
// A message that carried a secret keeps no copy of it once delivered.
pub(crate) const MARK_SENT: &str = "UPDATE outbox SET sent_at = $2, \
     text_body = CASE WHEN secret_expires_at IS NULL THEN text_body ELSE '' END, \
     html_body = CASE WHEN secret_expires_at IS NULL THEN html_body ELSE '' END \
     WHERE id = $1 AND sent_at IS NULL";
// Secrets past their time are erased whether or not they were delivered.
pub(crate) const ERASE_EXPIRED_SECRETS: &str = "UPDATE outbox SET text_body = '', html_body = '' \
     WHERE secret_expires_at < $1 AND (text_body <> '' OR html_body <> '')";

/// Implements `JobStore` for a store type with a `pool` field, a `begin_write()` method and a `jobs_waker`;
/// `$claim` is the claim statement of its dialect.
macro_rules! impl_job_store {
    ($store:ty, $claim:expr) => {
        #[async_trait::async_trait]
        impl $crate::jobs::JobStore for $store {
            async fn claim_job(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::jobs::ClaimedJob>, app::error::StoreError> {
                let lease = chrono::Duration::from_std($crate::jobs::LEASE).unwrap_or(chrono::Duration::minutes(5));
                let mut tx = self.begin_write().await.map_err($crate::storage::store_error)?;
                let row = sqlx::query_as::<_, $crate::storage::rows::JobRow>($claim)
                    .bind(now)
                    .bind(now + lease)
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

            fn jobs_waker(&self) -> std::sync::Arc<tokio::sync::Notify> {
                std::sync::Arc::clone(&self.jobs_waker)
            }
        }
    };
}

pub(crate) use impl_job_store;
