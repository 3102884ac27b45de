//! Durable background work. A job is a database row written in the same transaction as the change that causes it;
//! runners claim due jobs with a lease that they renew while the job runs, so a job whose runner died is picked up
//! again once the lease runs out. Job handlers are idempotent: running one twice does no harm. Failures are retried
//! with exponential backoff and jitter, up to a maximum number of attempts.

use std::sync::Arc;
use std::time::Duration;

use app::auth::ssr::{MailNotice, MailRenderer, NewAuditEntry};
use app::email::EmailAddress;
use app::error::{StoreError, cause_chain};
use app::projects::ssr::desired::{ClusterSettings, desired_state};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::mail::{MailError, Mailer};
use crate::provision::{Action, ApplyContext, Finished, GiveUp, ProvisionError, SharedProvisioner};

/// How long a claimed job is reserved for its runner, by default; the runner renews it while the job runs.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often a runner erases the bodies of messages whose secret expired.
pub const ERASE_PERIOD: Duration = Duration::from_secs(60);
/// How often runners look for due jobs when nobody tells them about new ones (a safety net: new jobs wake them).
pub const POLL_PERIOD: Duration = Duration::from_secs(1);
/// First retry delay; it doubles with each attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// Longest delay between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);
/// Attempts before a job is failed for good, by default.
pub const MAX_ATTEMPTS: u32 = 10;
/// Provisioning attempts in one job run when the project keeps changing while it is applied.
const MAX_CHANGED_ROUNDS: u32 = 5;

/// How the runner paces its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSettings {
    /// Lease of a claimed job; renewed every third of it while the job runs.
    pub lease: Duration,
    /// How often to look for due jobs without a wake-up.
    pub poll: Duration,
    /// Attempts before a job is failed for good.
    pub max_attempts: u32,
    /// First retry delay (doubling, with jitter, up to [`MAX_BACKOFF`]).
    pub first_backoff: Duration,
    /// How often active projects are compared with what the backend holds (`None`: never).
    pub drift_check: Option<Duration>,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            lease: LEASE,
            poll: POLL_PERIOD,
            max_attempts: MAX_ATTEMPTS,
            first_backoff: FIRST_BACKOFF,
            drift_check: Some(Duration::from_secs(10 * 60)),
        }
    }
}

/// What a job does, with its arguments; stored as `kind` and JSON `payload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobPayload {
    /// Deliver one message from the outbox.
    SendMail {
        /// The outbox row.
        outbox_id: i64,
    },
    /// Make a project's objects on the cluster match the project (or remove them once it is closed). Queued by
    /// every change that affects the cluster; one waits per project.
    ProvisionProject {
        /// The project.
        project_id: i64,
    },
    /// The daily sweep of projects: expiry reminders, suspension of expired projects, deletion of closed ones
    /// whose grace period is over; as of `at` (when it was scheduled).
    ProjectLifecycle {
        /// The sweep's "now".
        at: DateTime<Utc>,
    },
    /// Writes the BU ledger up to the hour that starts at `hour` (filling any gap, correcting late samples).
    UsageRollup {
        /// The last complete hour when it was queued.
        hour: DateTime<Utc>,
    },
    /// Tells subscribers and webhooks about a status event (see [`crate::notify`]).
    NotifyStatus {
        /// The event.
        event_id: i64,
    },
    /// Delivers a status event to one webhook.
    DeliverWebhook {
        /// The delivery.
        delivery_id: i64,
    },
}

impl JobPayload {
    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            JobPayload::SendMail { .. } => "send_mail",
            JobPayload::ProvisionProject { .. } => "provision_project",
            JobPayload::ProjectLifecycle { .. } => "project_lifecycle",
            JobPayload::UsageRollup { .. } => "usage_rollup",
            JobPayload::NotifyStatus { .. } => "notify_status",
            JobPayload::DeliverWebhook { .. } => "deliver_webhook",
        }
    }

    /// The key that keeps a second copy of this job out of the queue while one waits or runs.
    pub fn dedupe_key(&self) -> Option<String> {
        match self {
            JobPayload::SendMail { .. }
            | JobPayload::ProjectLifecycle { .. }
            | JobPayload::NotifyStatus { .. }
            | JobPayload::DeliverWebhook { .. } => None,
            // One rollup at a time: a second would only wait on the first's rows.
            JobPayload::UsageRollup { .. } => Some("usage_rollup".to_owned()),
            JobPayload::ProvisionProject { project_id } => Some(format!("project:{project_id}")),
        }
    }

    /// The stored payload.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("job payloads serialise")
    }

    /// Reads a stored job.
    pub fn parse(kind: &str, payload: &str) -> Result<Self, String> {
        match kind {
            "send_mail" | "provision_project" | "project_lifecycle" | "usage_rollup" | "notify_status"
            | "deliver_webhook" => {
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
    /// The one-click unsubscribe URL of a message to a list.
    pub list_unsubscribe: Option<String>,
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
    /// Claims the oldest due job until `locked_until`, counting an attempt; `None` when nothing is due.
    async fn claim_job(
        &self,
        now: DateTime<Utc>,
        locked_until: DateTime<Utc>,
    ) -> Result<Option<ClaimedJob>, StoreError>;

    /// Renews the lease of a job that is still running.
    async fn extend_lease(&self, id: i64, locked_until: DateTime<Utc>) -> Result<(), StoreError>;

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

    /// Jobs waiting or running (`pending`) and failed for good (`failed`), by kind: (kind, state, count).
    async fn job_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError>;

    /// Woken whenever this process queues a job.
    fn jobs_waker(&self) -> Arc<Notify>;
}

/// The delay before retry number `attempts` (1 = first retry) without jitter: `first`, doubling, at most
/// [`MAX_BACKOFF`].
pub fn backoff(first: Duration, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1));
    first.saturating_mul(factor).min(MAX_BACKOFF)
}

/// `delay` with jitter: somewhere between half of it and all of it, so that jobs that failed together (a cluster
/// outage) do not all come back at the same moment. `random` is uniform in `[0, 1)`.
pub fn with_jitter(delay: Duration, random: f64) -> Duration {
    delay.mul_f64(0.5 + 0.5 * random.clamp(0.0, 1.0))
}

fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
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
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error("project {0} kept changing while it was provisioned; will go on")]
    KeptChanging(i64),
    #[error("the projects' daily sweep stopped: {0}")]
    Sweep(app::error::AppError),
    #[error("the usage rollup stopped")]
    Rollup(#[source] app::billing::ssr::RollupError),
    #[error(transparent)]
    Delivery(#[from] crate::notify::DeliveryError),
}

impl JobError {
    /// Whether trying again cannot help.
    fn is_permanent(&self) -> bool {
        match self {
            JobError::BadRow(_) | JobError::MissingMail(_) | JobError::ExpiredMail(_) => true,
            JobError::Store(_)
            | JobError::KeptChanging(_)
            | JobError::Sweep(_)
            | JobError::Rollup(_)
            | JobError::Delivery(_) => false,
            JobError::Mail(error) => error.is_permanent(),
            JobError::Provision(error) => error.is_permanent(),
        }
    }
}

/// What the provisioning job needs.
#[derive(Clone)]
pub struct Provisioning {
    /// The configured backend.
    pub backend: SharedProvisioner,
    /// The objects every project gets.
    pub cluster: ClusterSettings,
    /// Renders the mail the job sends (the project is ready; provisioning failed).
    pub mail: Arc<dyn MailRenderer>,
    /// Where approval-to-active times are observed.
    pub metrics: Arc<crate::http::metrics::Metrics>,
}

impl std::fmt::Debug for Provisioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioning")
            .field("backend", &self.backend)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

/// What the status notification jobs need.
#[derive(Clone)]
pub struct Notifier {
    /// Renders the subscribers' messages.
    pub mail: Arc<dyn MailRenderer>,
    /// Berth's public base URL (links in messages and webhook bodies), without the trailing slash.
    pub base_url: String,
    /// Posts to webhooks.
    pub client: reqwest::Client,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// Runs jobs from the store until the task is aborted.
#[derive(Debug, Clone)]
pub struct JobRunner {
    store: Arc<dyn crate::storage::Store>,
    mailer: Arc<Mailer>,
    provisioning: Provisioning,
    projects: Arc<app::projects::ssr::ProjectService>,
    billing: Arc<app::billing::ssr::BillingService>,
    notifier: Notifier,
    settings: JobSettings,
}

impl JobRunner {
    /// A runner over `store`, delivering mail with `mailer`, provisioning projects with `provisioning`, sweeping
    /// them with `projects` and rolling usage up into the ledger with `billing`.
    pub fn new(
        store: Arc<dyn crate::storage::Store>,
        mailer: Arc<Mailer>,
        provisioning: Provisioning,
        projects: Arc<app::projects::ssr::ProjectService>,
        billing: Arc<app::billing::ssr::BillingService>,
        notifier: Notifier,
        settings: JobSettings,
    ) -> Self {
        Self { store, mailer, provisioning, projects, billing, notifier, settings }
    }

    /// The provisioning backend's name.
    pub fn backend(&self) -> &'static str {
        self.provisioning.backend.backend()
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
                () = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    fn lease_until(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        from + chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::minutes(1))
    }

    /// Claims and runs one due job; returns whether there was one.
    pub async fn run_one(&self) -> Result<bool, StoreError> {
        let now = Utc::now();
        let Some(job) = self.store.claim_job(now, self.lease_until(now)).await? else { return Ok(false) };
        let work = async {
            match &job.payload {
                Ok(JobPayload::SendMail { outbox_id }) => self.send_mail(job.id, *outbox_id).await,
                Ok(JobPayload::ProvisionProject { project_id }) => self.provision(&job, *project_id).await,
                Ok(JobPayload::ProjectLifecycle { at }) => self.sweep_projects(job.id, *at).await,
                Ok(JobPayload::UsageRollup { hour }) => self.roll_up_usage(job.id, *hour).await,
                Ok(JobPayload::NotifyStatus { event_id }) => self.notify_status(job.id, *event_id).await,
                Ok(JobPayload::DeliverWebhook { delivery_id }) => self.deliver_webhook(job.id, *delivery_id).await,
                Err(reason) => Err(JobError::BadRow(reason.clone())),
            }
        };
        // The lease is renewed every third of its length while the job runs, so that no other runner takes it.
        let heartbeat = async {
            let mut ticks = tokio::time::interval(self.settings.lease / 3);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(error) = self.store.extend_lease(job.id, self.lease_until(Utc::now())).await {
                    tracing::warn!(job = job.id, error = %cause_chain(&error), "cannot renew a job's lease");
                }
            }
        };
        let result = tokio::select! {
            result = work => result,
            () = heartbeat => unreachable!("the heartbeat never ends"),
        };
        match result {
            Ok(Handled::Done) => tracing::info!(job = job.id, attempts = job.attempts, "job done"),
            Ok(Handled::Recorded) => {}
            Err(error) => {
                let now = Utc::now();
                let message = cause_chain(&error);
                if error.is_permanent() || job.attempts >= self.settings.max_attempts {
                    tracing::error!(job = job.id, attempts = job.attempts, error = %message, "job failed for good");
                    self.store.fail_job(job.id, &message, None, now).await?;
                } else {
                    let delay = with_jitter(backoff(self.settings.first_backoff, job.attempts), random_unit());
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

    /// The daily sweep of projects as of `at`; each of its steps is a conditional change, so running it again after
    /// a crash does nothing twice.
    async fn sweep_projects(&self, job_id: i64, at: DateTime<Utc>) -> Result<Handled, JobError> {
        let report = self.projects.run_lifecycle(at).await.map_err(JobError::Sweep)?;
        tracing::info!(
            reminded = report.reminded,
            expired = report.expired,
            deleted = report.deleted,
            "swept the projects' lifecycle"
        );
        self.store.finish_job(job_id, Utc::now()).await?;
        Ok(Handled::Done)
    }

    /// The ledger up to `hour`; every step is idempotent, so a rollup cut short is finished by the next one.
    async fn roll_up_usage(&self, job_id: i64, hour: DateTime<Utc>) -> Result<Handled, JobError> {
        let report = self.billing.rollup(hour).await.map_err(JobError::Rollup)?;
        tracing::info!(
            hours = report.hours,
            charges = report.charges,
            corrections = report.corrections,
            "rolled usage up into the ledger"
        );
        self.store.finish_job(job_id, Utc::now()).await?;
        Ok(Handled::Done)
    }

    /// Fans a status event out; every step skips what an earlier run did.
    async fn notify_status(&self, job_id: i64, event_id: i64) -> Result<Handled, JobError> {
        let notifier = &self.notifier;
        crate::notify::fan_out(self.store.as_ref(), notifier.mail.as_ref(), &notifier.base_url, event_id).await?;
        self.store.finish_job(job_id, Utc::now()).await?;
        Ok(Handled::Done)
    }

    /// One attempt to deliver to a webhook; a failure is retried with the job's backoff.
    async fn deliver_webhook(&self, job_id: i64, delivery_id: i64) -> Result<Handled, JobError> {
        let notifier = &self.notifier;
        crate::notify::deliver(self.store.as_ref(), &notifier.client, &notifier.base_url, delivery_id).await?;
        self.store.finish_job(job_id, Utc::now()).await?;
        Ok(Handled::Done)
    }

    async fn send_mail(&self, job_id: i64, outbox_id: i64) -> Result<Handled, JobError> {
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
        Ok(Handled::Done)
    }

    /// Makes the project's objects match it through the backend. Each attempt is recorded; when the project changed
    /// while an attempt ran, the next round applies the newer state. A failure is retried like any job's; once the
    /// job gives up (after its last attempt, or at once when trying again cannot help), the project shows that its
    /// provisioning failed and the admins are told, in the same transaction that fails the job.
    async fn provision(&self, job: &ClaimedJob, project_id: i64) -> Result<Handled, JobError> {
        let backend = &self.provisioning.backend;
        for _ in 0..MAX_CHANGED_ROUNDS {
            let Some(work) = self.store.start_attempt(project_id, job.id, backend.backend(), Utc::now()).await? else {
                tracing::warn!(job = job.id, project = project_id, "the project of a provisioning job is gone");
                self.store.finish_job(job.id, Utc::now()).await?;
                return Ok(Handled::Done);
            };
            let context = ApplyContext::new(project_id, work.generation);
            let result = match work.action {
                Action::Provision => {
                    backend.apply(&desired_state(&work.spec, &self.provisioning.cluster), &context).await
                }
                Action::Deprovision => backend.remove(&work.spec.name, &context).await,
            };
            match result {
                Ok(()) => {
                    let mail = self.project_ready_mail(&work.spec);
                    match self.store.finish_attempt(&work, job.id, &mail, Utc::now()).await? {
                        Finished::Done { activated_after } => {
                            if let Some(seconds) = activated_after {
                                self.provisioning.metrics.observe_approval_to_active(seconds);
                            }
                            tracing::info!(
                                job = job.id,
                                project = project_id,
                                generation = work.generation,
                                backend = backend.backend(),
                                action = work.action.as_str(),
                                "project provisioned"
                            );
                            return Ok(Handled::Done);
                        }
                        Finished::Changed => continue,
                    }
                }
                Err(error) => {
                    let message = cause_chain(&error);
                    let gives_up = error.is_permanent() || job.attempts >= self.settings.max_attempts;
                    if !gives_up {
                        self.store.fail_attempt(&work, &message, None, Utc::now()).await?;
                        return Err(JobError::Provision(error));
                    }
                    let give_up = GiveUp {
                        job_id: job.id,
                        mail: self.provisioning_failed_mail(&work.spec.name, &message, job.attempts).await?,
                        audit: NewAuditEntry::system("project.provisioning_failed", format!("project:{project_id}"), Utc::now())
                            .with_details(serde_json::json!({ "project": work.spec.name, "error": message, "attempts": job.attempts })),
                    };
                    tracing::error!(job = job.id, project = project_id, attempts = job.attempts, error = %message, "provisioning failed for good");
                    self.store.fail_attempt(&work, &message, Some(&give_up), Utc::now()).await?;
                    return Ok(Handled::Recorded);
                }
            }
        }
        Err(JobError::KeptChanging(project_id))
    }

    fn project_ready_mail(&self, spec: &app::projects::ssr::desired::ProjectSpec) -> Vec<app::auth::ssr::OutgoingMail> {
        let Ok(owner) = EmailAddress::parse(&spec.owner_email) else { return Vec::new() };
        let notice = MailNotice {
            subject: format!("Your project {} is ready", spec.name),
            paragraphs: vec![
                format!("The project {} is set up on the cluster: its namespace is {}.", spec.name, spec.name),
                format!("Quota: {}.", app::applications::ssr::quota_words(&spec.quota)),
            ],
            path: format!("/projects/{}", spec.name),
            link_label: "Open the project".to_owned(),
        };
        vec![self.provisioning.mail.notice(&owner, &notice)]
    }

    async fn provisioning_failed_mail(
        &self,
        name: &str,
        error: &str,
        attempts: u32,
    ) -> Result<Vec<app::auth::ssr::OutgoingMail>, StoreError> {
        let notice = MailNotice {
            subject: format!("Provisioning failed: {name}"),
            paragraphs: vec![
                format!("Berth gave up provisioning the project {name} after {attempts} attempt(s)."),
                format!("The last error: {error}"),
                "Fix the cause, then retry the job or reprovision the project from its page.".to_owned(),
            ],
            path: format!("/projects/{name}"),
            link_label: "Open the project".to_owned(),
        };
        Ok(self
            .store
            .admin_addresses()
            .await?
            .iter()
            .filter_map(|address| EmailAddress::parse(address).ok())
            .map(|address| self.provisioning.mail.notice(&address, &notice))
            .collect())
    }

    /// Compares every active project with what the backend holds, and records the result on the project.
    pub async fn check_drift(&self) -> Result<usize, StoreError> {
        let mut checked = 0;
        for spec in self.store.active_projects().await? {
            let desired = desired_state(&spec, &self.provisioning.cluster);
            match self.provisioning.backend.check_drift(&desired).await {
                Ok(None) => return Ok(checked),
                Ok(Some(report)) => {
                    if !report.differences.is_empty() {
                        tracing::warn!(project = spec.id, differences = ?report.differences, "project drifted");
                    }
                    self.store.record_drift(spec.id, Some(&report), Utc::now()).await?;
                    checked += 1;
                }
                Err(error) => {
                    tracing::warn!(project = spec.id, error = %cause_chain(&error), "cannot check a project for drift");
                }
            }
        }
        Ok(checked)
    }

    /// Checks for drift every `period` (see [`JobSettings::drift_check`]) until the task is aborted.
    pub async fn check_drift_forever(self, period: Duration) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.check_drift().await {
                tracing::warn!(error = %cause_chain(&error), "cannot check projects for drift; will retry");
            }
        }
    }
}

/// What a handler did with its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handled {
    /// Done, and recorded as done with the handler's own changes.
    Done,
    /// Ended by the handler itself (failed for good, in its own transaction).
    Recorded,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(FIRST_BACKOFF, 1), Duration::from_secs(5));
        assert_eq!(backoff(FIRST_BACKOFF, 2), Duration::from_secs(10));
        assert_eq!(backoff(FIRST_BACKOFF, 4), Duration::from_secs(40));
        assert_eq!(backoff(FIRST_BACKOFF, 20), MAX_BACKOFF);
        assert_eq!(backoff(FIRST_BACKOFF, u32::MAX), MAX_BACKOFF);
        assert_eq!(backoff(Duration::from_millis(100), 3), Duration::from_millis(400));
    }

    #[test]
    fn jitter_keeps_between_half_and_all_of_the_delay() {
        let delay = Duration::from_secs(40);
        assert_eq!(with_jitter(delay, 0.0), Duration::from_secs(20));
        assert_eq!(with_jitter(delay, 0.5), Duration::from_secs(30));
        assert!(with_jitter(delay, 0.999_999) <= delay);
        assert_eq!(with_jitter(delay, 7.0), delay, "out-of-range randomness is clamped");
        let samples: Vec<f64> = (0..200).map(|_| random_unit()).collect();
        assert!(samples.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(samples.windows(2).any(|pair| pair[0] != pair[1]), "it is random");
    }

    #[test]
    fn only_provisioning_jobs_have_a_dedupe_key() {
        assert_eq!(JobPayload::SendMail { outbox_id: 1 }.dedupe_key(), None);
        assert_eq!(JobPayload::ProvisionProject { project_id: 7 }.dedupe_key().as_deref(), Some("project:7"));
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
