//! Durable background work. A job is a database row written in the same transaction as the change that causes it;
//! runners claim due jobs with a lease, so a job whose runner died is picked up again once the lease runs out. Job
//! handlers are idempotent: running one twice does no harm.

use std::sync::Arc;
use std::time::Duration;

use app::error::{StoreError, cause_chain};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::mail::{MailError, Mailer};

/// How long a claimed job is reserved for its runner.
pub const LEASE: Duration = Duration::from_secs(5 * 60);
/// How often a runner erases the bodies of messages whose secret expired.
pub const ERASE_PERIOD: Duration = Duration::from_secs(60);
/// How often runners look for due jobs when nobody tells them about new ones.
pub const POLL_PERIOD: Duration = Duration::from_secs(1);
/// First retry delay; it doubles with each attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// Longest delay between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);

/// What a job does, with its arguments; stored as `kind` and JSON `payload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobPayload {
    /// Deliver one message from the outbox.
    SendMail {
        /// The outbox row.
        outbox_id: i64,
    },
    /// Create or update a project's objects on the cluster. Queued by approval; no runner claims it until the
    /// provisioners land.
    ProvisionProject {
        /// The project.
        project_id: i64,
    },
}

impl JobPayload {
    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            JobPayload::SendMail { .. } => "send_mail",
            JobPayload::ProvisionProject { .. } => "provision_project",
        }
    }

    /// The stored payload.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("job payloads serialise")
    }

    /// Reads a stored job.
    pub fn parse(kind: &str, payload: &str) -> Result<Self, String> {
        match kind {
            "send_mail" | "provision_project" => {
                let parsed: Self =
                    serde_json::from_str(payload).map_err(|error| format!("bad {kind} payload: {error}"))?;
                if parsed.kind() != kind {
                    return Err(format!("bad {kind} payload: {payload}"));
                }
                Ok(parsed)
            }
            other => Err(format!("unknown job kind {other:?}")),
        }
    }
}

/// A job claimed by a runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// Row id.
    pub id: i64,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// What to do, or why the row cannot be read.
    pub payload: Result<JobPayload, String>,
}

/// A message waiting in the outbox. `Debug` hides the bodies, which may carry a sign-in link.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Row id.
    pub id: i64,
    /// Recipient address.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text_body: String,
    /// HTML part.
    pub html_body: String,
    /// When it was delivered, if it was.
    pub sent_at: Option<DateTime<Utc>>,
    /// For a message that carries a secret: when the secret stops working (and the body is erased).
    pub secret_expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("subject", &self.subject)
            .field("bodies", &"********")
            .field("sent_at", &self.sent_at)
            .field("secret_expires_at", &self.secret_expires_at)
            .finish()
    }
}

/// Job rows and the outbox.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Claims the oldest due job for [`LEASE`], counting an attempt; `None` when nothing is due.
    async fn claim_job(&self, now: DateTime<Utc>) -> Result<Option<ClaimedJob>, StoreError>;

    /// Marks a job done.
    async fn finish_job(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Records a failure; the job runs again at `retry_at`, or never when `None` (it is closed with its error).
    async fn fail_job(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// An outbox message.
    async fn outbox_message(&self, id: i64) -> Result<Option<OutboxMessage>, StoreError>;

    /// Records that the message was delivered and its job is done, together.
    async fn mark_mail_sent(&self, outbox_id: i64, job_id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Erases the bodies of messages whose secret has expired, delivered or not; returns how many.
    async fn erase_expired_secrets(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Jobs not yet done, for `/metrics` and tests.
    async fn pending_jobs(&self) -> Result<i64, StoreError>;

    /// Woken whenever this process queues a job.
    fn jobs_waker(&self) -> Arc<Notify>;
}

/// The delay before retry number `attempts` (1 = first retry).
pub fn backoff(attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1));
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Why a job did not finish.
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("the job row cannot be read: {0}")]
    BadRow(String),
    #[error("outbox message {0} does not exist")]
    MissingMail(i64),
    #[error("outbox message {0} carried a secret that expired before it could be delivered; its body was erased")]
    ExpiredMail(i64),
    #[error("no handler for {0} jobs yet")]
    NoHandler(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
}

impl JobError {
    /// Whether trying again cannot help.
    fn is_permanent(&self) -> bool {
        match self {
            JobError::BadRow(_) | JobError::MissingMail(_) | JobError::ExpiredMail(_) => true,
            JobError::Store(_) | JobError::NoHandler(_) => false,
            JobError::Mail(error) => error.is_permanent(),
        }
    }
}

/// Runs jobs from the store until the task is aborted.
#[derive(Debug, Clone)]
pub struct JobRunner {
    store: Arc<dyn crate::storage::Store>,
    mailer: Arc<Mailer>,
    poll_period: Duration,
}

impl JobRunner {
    /// A runner over `store`, delivering mail with `mailer`.
    pub fn new(store: Arc<dyn crate::storage::Store>, mailer: Arc<Mailer>) -> Self {
        Self { store, mailer, poll_period: POLL_PERIOD }
    }

    /// Claims and runs due jobs forever; sleeps when none are due until told about a new one or the poll period
    /// has passed.
    pub async fn run_forever(self) {
        let waker = self.store.jobs_waker();
        let mut store_failing = false;
        let mut last_erase: Option<tokio::time::Instant> = None;
        loop {
            if last_erase.is_none_or(|at| at.elapsed() >= ERASE_PERIOD) {
                last_erase = Some(tokio::time::Instant::now());
                match self.store.erase_expired_secrets(Utc::now()).await {
                    Ok(0) => {}
                    Ok(erased) => tracing::info!(messages = erased, "erased the bodies of expired sign-in messages"),
                    Err(error) => tracing::warn!(error = %cause_chain(&error), "cannot erase expired messages"),
                }
            }
            match self.run_one().await {
                Ok(true) => {
                    store_failing = false;
                    continue;
                }
                Ok(false) => store_failing = false,
                Err(error) => {
                    if !store_failing {
                        tracing::warn!(error = %cause_chain(&error), "cannot claim jobs; will retry");
                    }
                    store_failing = true;
                }
            }
            tokio::select! {
                () = waker.notified() => {}
                () = tokio::time::sleep(self.poll_period) => {}
            }
        }
    }

    /// Claims and runs one due job; returns whether there was one.
    pub async fn run_one(&self) -> Result<bool, StoreError> {
        let Some(job) = self.store.claim_job(Utc::now()).await? else { return Ok(false) };
        let result = match &job.payload {
            Ok(JobPayload::SendMail { outbox_id }) => self.send_mail(job.id, *outbox_id).await,
            // Not claimed (see the claim statement); should one be, it waits and is tried again later.
            Ok(JobPayload::ProvisionProject { .. }) => Err(JobError::NoHandler("provision_project")),
            Err(reason) => Err(JobError::BadRow(reason.clone())),
        };
        match result {
            Ok(()) => tracing::info!(job = job.id, attempts = job.attempts, "job done"),
            Err(error) => {
                let now = Utc::now();
                let message = cause_chain(&error);
                if error.is_permanent() {
                    tracing::error!(job = job.id, attempts = job.attempts, error = %message, "job failed for good");
                    self.store.fail_job(job.id, &message, None, now).await?;
                } else {
                    let delay = backoff(job.attempts);
                    tracing::warn!(
                        job = job.id,
                        attempts = job.attempts,
                        retry_in_seconds = delay.as_secs(),
                        error = %message,
                        "job failed; will retry"
                    );
                    let retry_at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::minutes(10));
                    self.store.fail_job(job.id, &message, Some(retry_at), now).await?;
                }
            }
        }
        Ok(true)
    }

    async fn send_mail(&self, job_id: i64, outbox_id: i64) -> Result<(), JobError> {
        let message = self.store.outbox_message(outbox_id).await?.ok_or(JobError::MissingMail(outbox_id))?;
        // A link that no longer works is not worth sending, and its body must not be kept.
        if message.sent_at.is_none() && message.secret_expires_at.is_some_and(|expires| expires <= Utc::now()) {
            self.store.erase_expired_secrets(Utc::now()).await?;
            return Err(JobError::ExpiredMail(outbox_id));
        }
        // A runner that died after sending but before recording it leaves the job to run again: the message is
        // then delivered twice at worst, with the same Message-ID so mail clients can fold the copies.
        if message.sent_at.is_none() {
            self.mailer.send(&message).await?;
        }
        self.store.mark_mail_sent(outbox_id, job_id, Utc::now()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(20), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn payloads_round_trip_and_unknown_kinds_are_refused() {
        let payload = JobPayload::SendMail { outbox_id: 7 };
        assert_eq!(payload.to_json(), r#"{"outbox_id":7}"#);
        assert_eq!(JobPayload::parse(payload.kind(), &payload.to_json()).unwrap(), payload);
        assert!(JobPayload::parse("launch_rockets", "{}").unwrap_err().contains("launch_rockets"));
        assert!(JobPayload::parse("send_mail", "{}").is_err());
    }
}
