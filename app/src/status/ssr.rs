//! Server side of the status area: the store contract and the service that keeps the current report in memory.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::model::{IssueStatus, MaturityIndicator, ServiceSummary, StatusReport, WorkArea};
use crate::error::StoreError;

/// Status content to write on first start (see [`StatusStore::seed_status_once`]).
#[derive(Debug, Clone)]
pub struct StatusSeed {
    /// Stage and service level.
    pub service: ServiceSummary,
    /// Maturity matrix rows, in display order.
    pub maturity: Vec<MaturityIndicator>,
    /// Work areas, in display order.
    pub work_remaining: Vec<WorkArea>,
    /// Known issues; they are opened at seeding time.
    pub known_issues: Vec<KnownIssueSeed>,
}

/// A known issue to seed.
#[derive(Debug, Clone)]
pub struct KnownIssueSeed {
    /// One-line summary.
    pub title: String,
    /// What users see.
    pub description: String,
    /// Where it stands.
    pub status: IssueStatus,
    /// What users can do meanwhile.
    pub workaround: Option<String>,
}

/// Storage of the public status content.
#[async_trait]
pub trait StatusStore: Send + Sync + 'static {
    /// The whole report as stored now.
    async fn load_status(&self) -> Result<StatusReport, StoreError>;

    /// The revision of the stored content: a cheap check for whether anything changed.
    async fn status_revision(&self) -> Result<i64, StoreError>;

    /// Writes `seed` unless a seed named `name` has run before, in one transaction. Safe when several processes
    /// start at once: exactly one of them writes. Returns whether this call wrote the seed.
    async fn seed_status_once(&self, name: &str, seed: &StatusSeed, now: DateTime<Utc>) -> Result<bool, StoreError>;
}

/// Keeps the current status report in memory so that the status page does not touch the database per request.
pub struct StatusService {
    store: Arc<dyn StatusStore>,
    current: ArcSwapOption<StatusReport>,
    reload_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for StatusService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let revision = self.current.load().as_ref().map(|report| report.revision);
        f.debug_struct("StatusService").field("revision", &revision).finish_non_exhaustive()
    }
}

impl StatusService {
    /// A service reading from `store`; nothing is loaded until first asked.
    pub fn new(store: Arc<dyn StatusStore>) -> Self {
        Self { store, current: ArcSwapOption::empty(), reload_lock: tokio::sync::Mutex::new(()) }
    }

    /// The report as last loaded, loading it first if nothing is loaded yet.
    pub async fn report(&self) -> Result<Arc<StatusReport>, StoreError> {
        if let Some(report) = self.current.load_full() {
            return Ok(report);
        }
        let _guard = self.reload_lock.lock().await;
        // Another caller may have loaded it while this one waited.
        if let Some(report) = self.current.load_full() {
            return Ok(report);
        }
        self.reload_locked().await
    }

    /// Reloads the report if the stored revision differs from the loaded one. Returns whether it changed.
    /// On a database error the loaded report stays in place, so the status page keeps working in an outage.
    pub async fn sync(&self) -> Result<bool, StoreError> {
        let stored = self.store.status_revision().await?;
        if self.current.load().as_ref().is_some_and(|report| report.revision == stored) {
            return Ok(false);
        }
        let _guard = self.reload_lock.lock().await;
        if self.current.load().as_ref().is_some_and(|report| report.revision == stored) {
            return Ok(false);
        }
        self.reload_locked().await?;
        Ok(true)
    }

    async fn reload_locked(&self) -> Result<Arc<StatusReport>, StoreError> {
        let report = Arc::new(self.store.load_status().await?);
        self.current.store(Some(Arc::clone(&report)));
        tracing::debug!(revision = report.revision, "status report loaded");
        Ok(report)
    }
}
