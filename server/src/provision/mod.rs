//! Provisioning: turning a project's desired state into objects on the cluster through one of three backends behind
//! the [`Provisioner`] trait (GitOps files, the Kubernetes API, a webhook), and the `provision_project` job that
//! drives them. The job reads the project when it runs, so one job applies however many changes were queued.

pub mod gitops;
pub mod kubernetes;
pub mod webhook;

use std::sync::Arc;

use app::auth::ssr::{NewAuditEntry, OutgoingMail};
use app::error::StoreError;
use app::projects::ssr::desired::{DesiredState, ProjectSpec};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What a provisioning job does to the project's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create or update them to the desired state.
    Provision,
    /// Remove them (the project was closed).
    Deprovision,
}

impl Action {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Provision => "provision",
            Action::Deprovision => "deprovision",
        }
    }
}

/// Which run of which change a backend call belongs to: sent along (as the webhook's delivery id, say) so that a
/// receiver can tell a repeated delivery from a new change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyContext {
    /// The project.
    pub project_id: i64,
    /// The generation of the project being applied.
    pub generation: i64,
    /// `project-ID-generation-G`: the same for every attempt at the same change.
    pub delivery_id: String,
}

impl ApplyContext {
    /// The context of applying `generation` of project `project_id`.
    pub fn new(project_id: i64, generation: i64) -> Self {
        Self { project_id, generation, delivery_id: format!("project-{project_id}-generation-{generation}") }
    }
}

/// Why a backend could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// Trying again may help: the cluster or receiver is down, slow, or answered with a server error.
    #[error("{0}")]
    Transient(String),
    /// Trying again cannot help without a change: the namespace belongs to somebody else, or the request was refused
    /// as invalid.
    #[error("{0}")]
    Permanent(String),
}

impl ProvisionError {
    /// Whether trying again cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ProvisionError::Permanent(_))
    }
}

/// How the objects on the cluster differ from the desired state, as found by a drift check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DriftReport {
    /// One line per difference ("ResourceQuota berth-quota: pods is 100, wants 50"); empty when none.
    pub differences: Vec<String>,
}

/// A provisioning backend.
#[async_trait]
pub trait Provisioner: Send + Sync + std::fmt::Debug {
    /// The backend's name, shown in each attempt's history (`gitops`, `kubernetes`, `webhook`).
    fn backend(&self) -> &'static str;

    /// Makes the project's objects match `desired`. Doing it twice changes nothing the second time.
    async fn apply(&self, desired: &DesiredState, context: &ApplyContext) -> Result<(), ProvisionError>;

    /// Removes the objects of the project whose namespace is `namespace`. Removing what is gone is not an error.
    async fn remove(&self, namespace: &str, context: &ApplyContext) -> Result<(), ProvisionError>;

    /// Compares what the backend holds with `desired`; `None` when this backend cannot read back what it did.
    async fn check_drift(&self, desired: &DesiredState) -> Result<Option<DriftReport>, ProvisionError> {
        let _ = desired;
        Ok(None)
    }
}

/// The work of one provisioning attempt, as read when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningWork {
    /// The attempt's history row.
    pub attempt_id: i64,
    /// What to do.
    pub action: Action,
    /// The project's generation this attempt applies.
    pub generation: i64,
    /// The project and its members.
    pub spec: ProjectSpec,
    /// When the project was approved.
    pub approved_at: DateTime<Utc>,
}

/// How an attempt that succeeded ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Finished {
    /// The project is as desired and the job is done; `activated` says whether this made it active for the first
    /// time (with the time from approval).
    Done {
        /// Seconds from approval to active, when this attempt made the project active for the first time.
        activated_after: Option<f64>,
    },
    /// The project changed while the attempt ran: the job goes on with the newer generation.
    Changed,
}

/// What giving up on a provisioning job records, with the job's failure, in one transaction.
#[derive(Debug, Clone)]
pub struct GiveUp {
    /// The job, closed as failed.
    pub job_id: i64,
    /// Mail to the admins.
    pub mail: Vec<OutgoingMail>,
    /// The audit row.
    pub audit: NewAuditEntry,
}

/// Storage the provisioning job needs.
#[async_trait]
pub trait ProvisioningStore: Send + Sync {
    /// Starts an attempt of job `job_id` for project `project_id` through `backend`: marks attempts of the same job
    /// that never ended as interrupted, reads the project and its members, and records the new attempt. `None` when
    /// the project does not exist.
    async fn start_attempt(
        &self,
        project_id: i64,
        job_id: i64,
        backend: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ProvisioningWork>, StoreError>;

    /// Records that the attempt succeeded. When the project has not changed since the attempt read it, the project
    /// becomes active (if it was provisioning) and the job is done, with an audit row and `mail` (for the owner,
    /// when this made the project active), all in one transaction that holds the project's row.
    async fn finish_attempt(
        &self,
        work: &ProvisioningWork,
        job_id: i64,
        mail: &[OutgoingMail],
        now: DateTime<Utc>,
    ) -> Result<Finished, StoreError>;

    /// Records that the attempt failed with `error`; with `give_up`, also that the project's provisioning failed,
    /// closes the job as failed, queues the mail and writes the audit row.
    async fn fail_attempt(
        &self,
        work: &ProvisioningWork,
        error: &str,
        give_up: Option<&GiveUp>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The active projects, for the drift check: their specs.
    async fn active_projects(&self) -> Result<Vec<ProjectSpec>, StoreError>;

    /// Records the result of a drift check of a project.
    async fn record_drift(
        &self,
        project_id: i64,
        drift: Option<&DriftReport>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// The configured backend, shared by the job runner and the drift check.
pub type SharedProvisioner = Arc<dyn Provisioner>;
