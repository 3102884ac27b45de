//! The admins' jobs page (`/admin/jobs`): background jobs by kind and state, with their attempts and last error;
//! a failed job can be retried and a waiting one cancelled. The server side (`ssr`) holds the store contract.

pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Rows per page.
pub const JOBS_PAGE: u32 = 50;

/// The kinds of job, as stored.
pub const JOB_KINDS: [&str; 4] = ["send_mail", "provision_project", "project_lifecycle", "usage_rollup"];

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its time (a first run, or a retry after a failure).
    Queued,
    /// Claimed by a runner now.
    Running,
    /// Done.
    Done,
    /// Failed for good.
    Failed,
    /// Cancelled by an admin.
    Cancelled,
}

/// Every state, in the order the filter lists them.
pub const JOB_STATES: [JobState; 5] =
    [JobState::Queued, JobState::Running, JobState::Failed, JobState::Done, JobState::Cancelled];

impl JobState {
    /// The stored (and query) form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads the query form.
    pub fn parse(text: &str) -> Option<Self> {
        JOB_STATES.into_iter().find(|state| state.as_str() == text)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Queued => "Queued",
            Self::Running => "Running",
            Self::Done => "Done",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
        }
    }
}

/// One job as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    /// Id.
    pub id: i64,
    /// `send_mail`, `provision_project`.
    pub kind: String,
    /// What it works on, in words ("project 7", "message 12").
    pub subject: String,
    /// Where it is.
    pub state: JobState,
    /// Attempts so far.
    pub attempts: i64,
    /// When it runs (next).
    pub run_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Queued.
    pub created_at: DateTime<Utc>,
    /// Ended.
    pub done_at: Option<DateTime<Utc>>,
}

/// The filter as the page's form sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobQuery {
    /// A kind, or empty for all.
    #[serde(default)]
    pub kind: String,
    /// A state, or empty for all.
    #[serde(default)]
    pub state: String,
    /// Older than this job.
    #[serde(default)]
    pub before: Option<i64>,
}

#[cfg(feature = "ssr")]
use crate::ssr::{respond_with_error, signed_in_admin};

/// One page of jobs, newest first (admins only).
#[server(prefix = "/api", endpoint = "admin_jobs")]
pub async fn get_jobs(query: JobQuery) -> Result<Vec<JobView>, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    state.jobs.list(&auth.user, &query).await.map_err(respond_with_error)
}

/// Queues a failed or cancelled job again (admins only).
#[server(prefix = "/api", endpoint = "admin_job_retry")]
pub async fn retry_job(id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.jobs.retry(&auth.user, id, &request).await.map_err(respond_with_error)
}

/// Cancels a job that waits (admins only); a running one finishes its attempt first.
#[server(prefix = "/api", endpoint = "admin_job_cancel")]
pub async fn cancel_job(id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.jobs.cancel(&auth.user, id, &request).await.map_err(respond_with_error)
}
