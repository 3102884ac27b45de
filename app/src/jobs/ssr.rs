//! Server side of the jobs page: the store contract and the service (admins only, every action audited).

use std::sync::Arc;

use async_trait::async_trait;

use super::{JOB_KINDS, JOBS_PAGE, JobQuery, JobState, JobView};
use crate::auth::ssr::{NewAuditEntry, RequestInfo, User, require_admin};
use crate::error::{AppError, StoreError};

/// What retrying or cancelling a job came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobChange {
    /// Done.
    Done,
    /// No such job.
    NotFound,
    /// The job is not in a state that allows it (e.g. cancelling a running job, retrying a done one).
    WrongState(JobState),
    /// Another job for the same thing already waits (retrying would run it twice).
    AlreadyQueued,
}

/// Storage of the jobs page.
#[async_trait]
pub trait JobAdminStore: Send + Sync + 'static {
    /// Jobs of `kind` (all if none) in `state` (all if none), older than `before`, newest first, at most `limit`.
    async fn jobs(
        &self,
        kind: Option<&str>,
        state: Option<JobState>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<JobView>, StoreError>;

    /// Queues a failed or cancelled job again now, with no attempts counted; a provisioning job's project goes back
    /// to provisioning. With its audit row.
    async fn retry_job(&self, id: i64, audit: &NewAuditEntry) -> Result<JobChange, StoreError>;

    /// Cancels a queued job, with its audit row.
    async fn cancel_job(&self, id: i64, audit: &NewAuditEntry) -> Result<JobChange, StoreError>;
}

/// The jobs page's service.
pub struct JobAdminService {
    store: Arc<dyn JobAdminStore>,
}

impl std::fmt::Debug for JobAdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobAdminService").finish_non_exhaustive()
    }
}

impl JobAdminService {
    /// The service over `store`.
    pub fn new(store: Arc<dyn JobAdminStore>) -> Self {
        Self { store }
    }

    /// One page of jobs.
    pub async fn list(&self, admin: &User, query: &JobQuery) -> Result<Vec<JobView>, AppError> {
        require_admin(admin)?;
        let kind = match query.kind.trim() {
            "" => None,
            kind if JOB_KINDS.contains(&kind) => Some(kind),
            _ => return Err(AppError::invalid("kind", "Choose a kind from the list.")),
        };
        let state = match query.state.trim() {
            "" => None,
            text => {
                Some(JobState::parse(text).ok_or_else(|| AppError::invalid("state", "Choose a state from the list."))?)
            }
        };
        Ok(self.store.jobs(kind, state, query.before, JOBS_PAGE).await?)
    }

    /// Queues a failed or cancelled job again.
    pub async fn retry(&self, admin: &User, id: i64, request: &RequestInfo) -> Result<(), AppError> {
        require_admin(admin)?;
        let audit = NewAuditEntry::by(admin, "job.retry", format!("job:{id}"), request);
        refused(self.store.retry_job(id, &audit).await?, "retried")
    }

    /// Cancels a queued job.
    pub async fn cancel(&self, admin: &User, id: i64, request: &RequestInfo) -> Result<(), AppError> {
        require_admin(admin)?;
        let audit = NewAuditEntry::by(admin, "job.cancel", format!("job:{id}"), request);
        refused(self.store.cancel_job(id, &audit).await?, "cancelled")
    }
}

fn refused(change: JobChange, verb: &str) -> Result<(), AppError> {
    match change {
        JobChange::Done => Ok(()),
        JobChange::NotFound => Err(AppError::NotFound),
        JobChange::WrongState(state) => Err(AppError::Conflict {
            message: format!(
                "A {} job cannot be {verb}. Reload the page to see where it is now.",
                state.label().to_lowercase()
            ),
        }),
        JobChange::AlreadyQueued => Err(AppError::Conflict {
            message: "Another job for the same work is already queued; it will do what this one would.".to_owned(),
        }),
    }
}
