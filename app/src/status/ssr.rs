//! Server side of the status area: the store contract and the service that keeps the current report in memory.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use chrono::Duration;

use super::availability::{self, ImpactHistory, ServiceHours, Span};
use super::content::{RevisionLine, StatusContent};
use super::model::{
    AffectedComponent, Component, ComponentStatus, Incident, IncidentUpdate, IssueStatus, Maintenance,
    MaturityIndicator, ServiceSummary, StatusReport, WorkArea,
};
use super::{IncidentForm, MaintenanceForm};
use crate::auth::ssr::{NewAuditEntry, RequestInfo, User, require_admin};
use crate::error::{AppError, StoreError};

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

/// A component as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRecord {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Display order.
    pub position: i32,
}

/// One change of an incident's impact on a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImpactRecord {
    /// The component.
    pub component_id: i64,
    /// From when.
    pub from_at: DateTime<Utc>,
    /// The impact ("operational" ends it).
    pub impact: ComponentStatus,
}

/// An incident as stored, with its impacts (oldest first) and updates (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    /// Id.
    pub id: i64,
    /// One-line summary.
    pub title: String,
    /// Where it stands.
    pub status: IssueStatus,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Resolved, if it was.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Grows with every update: an update made on an older version is refused.
    pub version: i64,
    /// Its impacts on components, oldest first.
    pub impacts: Vec<ImpactRecord>,
    /// Its updates, newest first.
    pub updates: Vec<IncidentUpdate>,
}

impl IncidentRecord {
    /// What the incident did to `component_id` over time.
    pub fn impact_on(&self, component_id: i64) -> Option<ImpactHistory> {
        let changes: Vec<_> = self
            .impacts
            .iter()
            .filter(|impact| impact.component_id == component_id)
            .map(|impact| (impact.from_at, impact.impact))
            .collect();
        (!changes.is_empty()).then_some(ImpactHistory { changes, until: self.resolved_at })
    }

    /// The latest impact on each component it touched, in the order they were first affected.
    pub fn current_impacts(&self) -> Vec<(i64, ComponentStatus)> {
        let mut latest: Vec<(i64, ComponentStatus)> = Vec::new();
        for impact in &self.impacts {
            match latest.iter_mut().find(|(id, _)| *id == impact.component_id) {
                Some(entry) => entry.1 = impact.impact,
                None => latest.push((impact.component_id, impact.impact)),
            }
        }
        latest
    }
}

/// A maintenance window as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceRecord {
    /// Id.
    pub id: i64,
    /// One-line summary.
    pub title: String,
    /// What is done.
    pub description: String,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// The components it affects.
    pub component_ids: Vec<i64>,
}

impl MaintenanceRecord {
    fn span(&self) -> Span {
        Span::new(self.starts_at, self.ends_at)
    }
}

/// What the components' part of the report is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationsRecords {
    /// Components, in display order.
    pub components: Vec<ComponentRecord>,
    /// Incidents open, or resolved since the time asked for; newest first.
    pub incidents: Vec<IncidentRecord>,
    /// Maintenance windows not cancelled that end after the time asked for; soonest first.
    pub maintenance: Vec<MaintenanceRecord>,
}

/// A component to add (no `id`) or change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInput {
    /// The component to change; `None` adds one.
    pub id: Option<i64>,
    /// Name (unique).
    pub name: String,
    /// What it is.
    pub description: String,
    /// Display order.
    pub position: i32,
}

/// An incident to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    /// One-line summary.
    pub title: String,
    /// Its first status.
    pub status: IssueStatus,
    /// The first update's message.
    pub message: String,
    /// The components it affects and how.
    pub impacts: Vec<(i64, ComponentStatus)>,
}

/// An update to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentChange {
    /// The incident.
    pub id: i64,
    /// The version the admin's form was made on.
    pub version: i64,
    /// Its status from now on; `resolved` resolves it.
    pub status: IssueStatus,
    /// What was found or done.
    pub message: String,
    /// Impacts that change from now on.
    pub impacts: Vec<(i64, ComponentStatus)>,
}

/// What came of an incident update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentOutcome {
    /// Written.
    Updated,
    /// There is no such incident.
    NotFound,
    /// It was resolved already, or changed since the form was made: the current record.
    Stale(Box<IncidentRecord>),
}

/// A maintenance window to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMaintenance {
    /// One-line summary.
    pub title: String,
    /// What is done and what users notice.
    pub description: String,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// The components it affects.
    pub component_ids: Vec<i64>,
}

/// An edit of the status content, made on the latest revision `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentChange {
    /// The latest revision when the edit was computed; another revision since refuses it.
    pub expected: i64,
    /// The whole content after the edit (new known issues have id 0).
    pub content: StatusContent,
    /// Known issues already stored whose text changed (their "updated" moves); new ones always count.
    pub touched: Vec<i64>,
    /// What changed, in a sentence.
    pub summary: String,
    /// The revision this one restores, if it does.
    pub restored_from: Option<i64>,
    /// The feedback the one new known issue was made from: it is linked to the issue in the same transaction.
    pub from_feedback: Option<i64>,
}

/// A stored revision of the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionRecord {
    /// Number, summary, author and time.
    pub line: RevisionLine,
    /// The content as it stood after it.
    pub content: StatusContent,
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

    /// Adds `components` (name, description) unless a seed named `name` has run before, like
    /// [`seed_status_once`](Self::seed_status_once).
    async fn seed_components_once(
        &self,
        name: &str,
        components: &[(&str, &str)],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Components, incidents open or resolved since `since`, and maintenance windows ending after `since`.
    async fn load_operations(&self, since: DateTime<Utc>) -> Result<OperationsRecords, StoreError>;

    /// Incidents newest first, older than incident `before` when given; at most `limit`.
    async fn incident_history(&self, before: Option<i64>, limit: u32) -> Result<Vec<IncidentRecord>, StoreError>;

    /// Adds or changes a component, with its audit row; `Ok(None)` when the name belongs to another component or
    /// there is no component `input.id`.
    async fn save_component(&self, input: &ComponentInput, audit: &NewAuditEntry) -> Result<Option<i64>, StoreError>;

    /// Opens an incident with its first update and impacts, and the audit row; returns its id.
    async fn open_incident(&self, incident: &NewIncident, audit: &NewAuditEntry) -> Result<i64, StoreError>;

    /// Adds an update to an open incident of `change.version` (resolving it when the status is `resolved`), with
    /// the impacts that change and the audit row.
    async fn update_incident(
        &self,
        change: &IncidentChange,
        audit: &NewAuditEntry,
    ) -> Result<IncidentOutcome, StoreError>;

    /// Announces a maintenance window, with its audit row; returns its id.
    async fn schedule_maintenance(&self, window: &NewMaintenance, audit: &NewAuditEntry) -> Result<i64, StoreError>;

    /// Cancels a window that has not ended, with its audit row; false when there is no such window.
    async fn cancel_maintenance(&self, id: i64, audit: &NewAuditEntry) -> Result<bool, StoreError>;

    /// The edited content as it stands and its latest revision's number (0 before the first); `None` before the
    /// status content is seeded.
    async fn load_content(&self) -> Result<Option<(i64, StatusContent)>, StoreError>;

    /// Records the content as it stands as revision 1 unless there is a revision already (databases seeded before
    /// revisions were kept). Returns whether it did.
    async fn ensure_first_revision(&self, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Writes `change` as the next revision, with `audit`, unless the latest revision is no longer
    /// `change.expected` (`None`). Returns the new revision's number.
    async fn save_content(&self, change: &ContentChange, audit: &NewAuditEntry) -> Result<Option<i64>, StoreError>;

    /// Revision `revision`, if there is one.
    async fn content_revision(&self, revision: i64) -> Result<Option<RevisionRecord>, StoreError>;

    /// Up to `limit` revisions older than `before` (or the newest), newest first.
    async fn content_revisions(&self, before: Option<i64>, limit: u32) -> Result<Vec<RevisionLine>, StoreError>;
}

/// The service level that availability is measured against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLevelSettings {
    /// When the level applies.
    pub hours: ServiceHours,
    /// The availability promised, in thousandths of a percent (97% is 97,000).
    pub target_milli_percent: i64,
}

impl Default for ServiceLevelSettings {
    /// Rahti's level (JHS 174 level A): 97% inside weekdays 08:00–16:00 Helsinki time.
    fn default() -> Self {
        Self { hours: ServiceHours::rahti(), target_milli_percent: 97_000 }
    }
}

/// How far back the bars and the availability figure of the page reach.
pub const HISTORY_DAYS: u32 = 90;
/// Resolved incidents stay on the page (and in `/status.json`) this long.
const RECENT_INCIDENT_DAYS: i64 = 7;
/// The report is computed again at least this often, so that time-based parts (bars, availability, maintenance
/// that starts or ends) stay current without a change.
const REPORT_LIFETIME_MINUTES: i64 = 5;

/// A report as computed at a moment, and when it must be computed again.
struct Loaded {
    report: Arc<StatusReport>,
    valid_until: DateTime<Utc>,
}

/// Keeps the current status report in memory so that the status page does not touch the database per request, and
/// runs the admins' changes to components, incidents and maintenance.
pub struct StatusService {
    store: Arc<dyn StatusStore>,
    settings: ServiceLevelSettings,
    current: ArcSwapOption<Loaded>,
    reload_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for StatusService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let revision = self.current.load().as_ref().map(|loaded| loaded.report.revision);
        f.debug_struct("StatusService").field("revision", &revision).finish_non_exhaustive()
    }
}

impl StatusService {
    /// A service reading from `store` and measuring availability against `settings`; nothing is loaded until first
    /// asked.
    pub fn new(store: Arc<dyn StatusStore>, settings: ServiceLevelSettings) -> Self {
        Self { store, settings, current: ArcSwapOption::empty(), reload_lock: tokio::sync::Mutex::new(()) }
    }

    /// The service level availability is measured against.
    pub fn settings(&self) -> &ServiceLevelSettings {
        &self.settings
    }

    /// The current report: the one in memory unless its time is up, else computed again. When the database cannot
    /// be read, the last report stays in use (the status page is what people read during an outage).
    pub async fn report(&self) -> Result<Arc<StatusReport>, StoreError> {
        if let Some(report) = self.fresh() {
            return Ok(report);
        }
        let _guard = self.reload_lock.lock().await;
        // Another caller may have loaded it while this one waited.
        if let Some(report) = self.fresh() {
            return Ok(report);
        }
        match self.reload_locked().await {
            Ok(report) => Ok(report),
            Err(error) => match self.current.load_full() {
                Some(loaded) => {
                    tracing::warn!(error = %crate::error::cause_chain(&error), "cannot recompute the status report; serving the last one");
                    Ok(Arc::clone(&loaded.report))
                }
                None => Err(error),
            },
        }
    }

    fn fresh(&self) -> Option<Arc<StatusReport>> {
        self.current
            .load_full()
            .filter(|loaded| Utc::now() < loaded.valid_until)
            .map(|loaded| Arc::clone(&loaded.report))
    }

    /// Reloads the report if the stored revision differs from the loaded one. Returns whether it changed.
    /// On a database error the loaded report stays in place, so the status page keeps working in an outage.
    pub async fn sync(&self) -> Result<bool, StoreError> {
        if self.current.load().is_none() {
            // Nobody asked yet: the first request loads it.
            return Ok(false);
        }
        let stored = self.store.status_revision().await?;
        let loaded = |service: &Self| service.current.load().as_ref().is_some_and(|l| l.report.revision == stored);
        if loaded(self) {
            return Ok(false);
        }
        let _guard = self.reload_lock.lock().await;
        if loaded(self) {
            return Ok(false);
        }
        self.reload_locked().await?;
        Ok(true)
    }

    async fn reload_locked(&self) -> Result<Arc<StatusReport>, StoreError> {
        let now = Utc::now();
        let mut report = self.store.load_status().await?;
        let records = self.store.load_operations(now - Duration::days(i64::from(HISTORY_DAYS) + 1)).await?;
        let valid_until = assemble_operations(&mut report, &records, now, &self.settings);
        let report = Arc::new(report);
        self.current.store(Some(Arc::new(Loaded { report: Arc::clone(&report), valid_until })));
        tracing::debug!(revision = report.revision, "status report loaded");
        Ok(report)
    }

    /// The components (id and name) in display order, from the report in memory: what forms offer to choose from.
    pub async fn component_choices(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let report = self.report().await?;
        Ok(report.components.iter().map(|component| (component.id, component.name.clone())).collect())
    }

    /// The ids among a form's checkbox `keys` that name components, ascending; anything else is left out.
    pub async fn chosen_components<'a>(&self, keys: impl Iterator<Item = &'a String>) -> Result<Vec<i64>, StoreError> {
        let known = self.component_choices().await?;
        let mut ids: Vec<i64> =
            keys.filter_map(|key| key.parse().ok()).filter(|id| known.iter().any(|(known, _)| known == id)).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The store the service reads and writes.
    pub(crate) fn store(&self) -> &dyn StatusStore {
        self.store.as_ref()
    }

    /// After a change made here: the report is computed again at once (other processes hear of it from the
    /// database); a failure is logged, the change is made.
    pub(crate) async fn changed(&self) {
        let _guard = self.reload_lock.lock().await;
        if let Err(error) = self.reload_locked().await {
            tracing::warn!(error = %crate::error::cause_chain(&error), "cannot reload the status report after a change");
        }
    }

    /// What the admins' status page shows (admins only).
    pub async fn operations(&self, admin: &User) -> Result<OperationsRecords, AppError> {
        require_admin(admin)?;
        let now = Utc::now();
        let mut records = self.store.load_operations(now).await?;
        records.incidents.retain(|incident| incident.resolved_at.is_none());
        Ok(records)
    }

    /// Adds or changes a component (admins only).
    pub async fn save_component(
        &self,
        admin: &User,
        id: Option<i64>,
        name: &str,
        description: &str,
        position: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        require_admin(admin)?;
        let name = text_field("name", name, 60)?;
        let description = optional_text_field("description", description, 500)?;
        let position =
            match position.trim() {
                "" => 0,
                text => text.parse::<i32>().ok().filter(|position| (0..=1000).contains(position)).ok_or_else(|| {
                    AppError::invalid("position", "Give the position as a whole number from 0 to 1000.")
                })?,
            };
        let input = ComponentInput { id, name, description, position };
        let target = id.map_or_else(|| "component:new".to_owned(), |id| format!("component:{id}"));
        let audit = NewAuditEntry::by(
            admin,
            if id.is_some() { "component.update" } else { "component.create" },
            target,
            request,
        )
        .with_details(serde_json::json!({ "name": input.name, "position": input.position }));
        match self.store.save_component(&input, &audit).await? {
            Some(_) => {
                self.changed().await;
                Ok(())
            }
            None if id.is_some() => {
                Err(AppError::invalid("name", "Another component has this name, or this one is gone."))
            }
            None => Err(AppError::invalid("name", "A component with this name exists already.")),
        }
    }

    /// Opens an incident: title, first status and message, and the components it affects with their impacts
    /// (admins only). Returns its id.
    pub async fn open_incident(
        &self,
        admin: &User,
        form: &IncidentForm,
        request: &RequestInfo,
    ) -> Result<i64, AppError> {
        require_admin(admin)?;
        let title = text_field("title", &form.title, 200);
        let message = text_field("message", &form.message, 4000);
        let status = incident_status(&form.status, false);
        let impacts = self.impacts(&form.impacts).await;
        let (title, message, status, impacts) = collect_fields(title, message, status, impacts)?;
        if impacts.iter().all(|(_, impact)| *impact == ComponentStatus::Operational) {
            return Err(AppError::invalid("impacts", "Choose at least one component and how the incident affects it."));
        }
        let impacts = impacts.into_iter().filter(|(_, impact)| *impact != ComponentStatus::Operational).collect();
        let incident = NewIncident { title, status, message, impacts };
        let audit = NewAuditEntry::by(admin, "incident.open", "incident:new".to_owned(), request)
            .with_details(serde_json::json!({ "title": incident.title, "status": incident.status.as_str() }));
        let id = self.store.open_incident(&incident, &audit).await?;
        self.changed().await;
        Ok(id)
    }

    /// Adds an update to an incident made on `version` of it; `resolved` resolves it and restores its components
    /// (admins only).
    pub async fn update_incident(
        &self,
        admin: &User,
        id: i64,
        version: i64,
        form: &IncidentForm,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        require_admin(admin)?;
        let message = text_field("message", &form.message, 4000);
        let status = incident_status(&form.status, true);
        let impacts = self.impacts(&form.impacts).await;
        let (_, message, status, impacts) = collect_fields(Ok(String::new()), message, status, impacts)?;
        let change = IncidentChange { id, version, status, message, impacts };
        let audit = NewAuditEntry::by(admin, "incident.update", format!("incident:{id}"), request)
            .with_details(serde_json::json!({ "status": status.as_str() }));
        match self.store.update_incident(&change, &audit).await? {
            IncidentOutcome::Updated => {
                self.changed().await;
                Ok(())
            }
            IncidentOutcome::NotFound => Err(AppError::NotFound),
            IncidentOutcome::Stale(current) => Err(AppError::Conflict {
                message: match (current.resolved_at, current.updates.first()) {
                    (Some(at), _) => format!(
                        "This incident was resolved on {} UTC; open a new one if the problem is back.",
                        at.format("%-d %B %Y %H:%M")
                    ),
                    (None, Some(update)) => format!(
                        "The incident changed after this page was opened (an update at {} UTC). Reload it and check \
                         before adding yours.",
                        update.at.format("%H:%M")
                    ),
                    (None, None) => "The incident changed after this page was opened. Reload it.".to_owned(),
                },
            }),
        }
    }

    /// The components named in a form's impacts with the impact chosen for each; an empty choice is skipped.
    async fn impacts(
        &self,
        chosen: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<(i64, ComponentStatus)>, AppError> {
        let known = self.store.load_operations(Utc::now()).await?.components;
        let mut impacts = Vec::new();
        for (id, impact) in chosen {
            if impact.trim().is_empty() {
                continue;
            }
            let id = id
                .parse::<i64>()
                .ok()
                .filter(|id| known.iter().any(|component| component.id == *id))
                .ok_or_else(|| AppError::invalid("impacts", "One of the components is not known (any more)."))?;
            let impact = ComponentStatus::parse(impact.trim())
                .ok()
                .filter(|impact| ComponentStatus::IMPACTS.contains(impact))
                .ok_or_else(|| AppError::invalid("impacts", "Choose an impact from the list."))?;
            impacts.push((id, impact));
        }
        Ok(impacts)
    }

    /// Announces a maintenance window; times are local to the service hours' zone (admins only).
    pub async fn schedule_maintenance(
        &self,
        admin: &User,
        form: &MaintenanceForm,
        request: &RequestInfo,
    ) -> Result<i64, AppError> {
        require_admin(admin)?;
        let zone = self.zone();
        let mut errors = Vec::new();
        let mut keep = |result: Result<String, AppError>| match result {
            Ok(text) => text,
            Err(error) => {
                errors.extend(field_errors(error));
                String::new()
            }
        };
        let title = keep(text_field("title", &form.title, 200));
        let description = keep(text_field("description", &form.description, 4000));
        let starts_at = local_time(&form.starts, &zone);
        let ends_at = local_time(&form.ends, &zone);
        let now = Utc::now();
        match (starts_at, ends_at) {
            (None, _) => errors.push(field("starts", "Give the start as a date and time.")),
            (_, None) => errors.push(field("ends", "Give the end as a date and time.")),
            (Some(starts), Some(ends)) if ends <= starts => {
                errors.push(field("ends", "The end must come after the start."))
            }
            (_, Some(ends)) if ends <= now => errors.push(field("ends", "The window is over already.")),
            (Some(starts), Some(ends)) if ends - starts > Duration::days(14) => {
                errors.push(field("ends", "A window lasts at most 14 days."))
            }
            _ => {}
        }
        let known = self.store.load_operations(now).await?.components;
        let mut component_ids = Vec::new();
        for id in form.components.keys() {
            match id.parse::<i64>().ok().filter(|id| known.iter().any(|component| component.id == *id)) {
                Some(id) => component_ids.push(id),
                None => errors.push(field("components", "One of the components is not known (any more).")),
            }
        }
        component_ids.sort_unstable();
        component_ids.dedup();
        if component_ids.is_empty() && errors.iter().all(|error| error.field != "components") {
            errors.push(field("components", "Choose the components the maintenance affects."));
        }
        if !errors.is_empty() {
            return Err(AppError::InvalidFields { errors });
        }
        let (Some(starts_at), Some(ends_at)) = (starts_at, ends_at) else {
            return Err(AppError::invalid("starts", "Give the start as a date and time."));
        };
        let window = NewMaintenance { title, description, starts_at, ends_at, component_ids };
        let audit = NewAuditEntry::by(admin, "maintenance.schedule", "maintenance:new".to_owned(), request)
            .with_details(serde_json::json!({
                "title": window.title, "starts_at": starts_at.to_rfc3339(), "ends_at": ends_at.to_rfc3339(),
            }));
        let id = self.store.schedule_maintenance(&window, &audit).await?;
        self.changed().await;
        Ok(id)
    }

    /// Cancels a maintenance window that has not ended (admins only).
    pub async fn cancel_maintenance(&self, admin: &User, id: i64, request: &RequestInfo) -> Result<(), AppError> {
        require_admin(admin)?;
        let audit = NewAuditEntry::by(admin, "maintenance.cancel", format!("maintenance:{id}"), request);
        if !self.store.cancel_maintenance(id, &audit).await? {
            return Err(AppError::NotFound);
        }
        self.changed().await;
        Ok(())
    }

    /// Incidents newest first, older than `before` when given (public).
    pub async fn incident_history(&self, before: Option<i64>) -> Result<(Vec<Incident>, Option<i64>), AppError> {
        let records = self.store.incident_history(before, HISTORY_PAGE + 1).await?;
        let components = self.store.load_operations(Utc::now()).await?.components;
        let more = records.len() > HISTORY_PAGE as usize;
        let incidents: Vec<Incident> =
            records.iter().take(HISTORY_PAGE as usize).map(|record| incident_of(record, &components)).collect();
        let next = more.then(|| incidents.last().map(|incident| incident.id)).flatten();
        Ok((incidents, next))
    }

    /// Each component's availability over the days `from` to `to` (YYYY-MM-DD, both included, in the service
    /// hours' zone) against the target (public).
    pub async fn availability_between(&self, from: &str, to: &str) -> Result<AvailabilityTable, AppError> {
        let zone = self.zone();
        let day = |field: &str, text: &str| {
            chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| AppError::invalid(field, "Give the day as YYYY-MM-DD."))
        };
        let (first, last) = (day("from", from)?, day("to", to)?);
        if last < first {
            return Err(AppError::invalid("to", "The last day must not come before the first."));
        }
        if (last - first).num_days() > 366 {
            return Err(AppError::invalid("to", "Ask for at most a year at a time."));
        }
        let start = |day: chrono::NaiveDate| {
            use chrono::TimeZone as _;
            zone.from_local_datetime(&day.and_time(chrono::NaiveTime::MIN)).earliest().map(|at| at.with_timezone(&Utc))
        };
        let (Some(period_from), Some(period_to)) = (start(first), start(last + Duration::days(1))) else {
            return Err(AppError::invalid("from", "Give the day as YYYY-MM-DD."));
        };
        let now = Utc::now();
        let period = Span::new(period_from, period_to.min(now));
        let records = self.store.load_operations(period_from - Duration::days(1)).await?;
        let rows = records
            .components
            .iter()
            .map(|component| {
                let figure = component_availability(component.id, &records, period, now, &self.settings.hours);
                (component.name.clone(), figure)
            })
            .collect();
        Ok(AvailabilityTable { from: first, to: last, rows, target_milli_percent: self.settings.target_milli_percent })
    }

    fn zone(&self) -> chrono_tz::Tz {
        match &self.settings.hours {
            ServiceHours::Weekly { zone, .. } => *zone,
            ServiceHours::Always => chrono_tz::UTC,
        }
    }
}

/// Incidents per page of the history.
pub const HISTORY_PAGE: u32 = 20;

/// Each component's availability over a period, as computed for the history page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityTable {
    /// First day.
    pub from: chrono::NaiveDate,
    /// Last day.
    pub to: chrono::NaiveDate,
    /// Component name and its figure.
    pub rows: Vec<(String, availability::Availability)>,
    /// The target, thousandths of a percent.
    pub target_milli_percent: i64,
}

fn field(name: &str, message: &str) -> crate::error::FieldError {
    crate::error::FieldError { field: name.to_owned(), message: message.to_owned() }
}

fn field_errors(error: AppError) -> Vec<crate::error::FieldError> {
    match error {
        AppError::Invalid { field, message } => vec![crate::error::FieldError { field, message }],
        AppError::InvalidFields { errors } => errors,
        _ => Vec::new(),
    }
}

/// All four results, or every field's error at once.
fn collect_fields<A, B, C, D>(
    a: Result<A, AppError>,
    b: Result<B, AppError>,
    c: Result<C, AppError>,
    d: Result<D, AppError>,
) -> Result<(A, B, C, D), AppError> {
    match (a, b, c, d) {
        (Ok(a), Ok(b), Ok(c), Ok(d)) => Ok((a, b, c, d)),
        (a, b, c, d) => Err(AppError::from_fields([a.err(), b.err(), c.err(), d.err()].into_iter().flatten())),
    }
}

/// Text of 1 to `max` characters after trimming, without control characters (line breaks allowed).
pub(crate) fn text_field(name: &str, text: &str, max: usize) -> Result<String, AppError> {
    let text = optional_text_field(name, text, max)?;
    if text.is_empty() {
        return Err(AppError::invalid(name, "This cannot be empty."));
    }
    Ok(text)
}

/// Text of at most `max` characters after trimming, without control characters (line breaks allowed).
pub(crate) fn optional_text_field(name: &str, text: &str, max: usize) -> Result<String, AppError> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(AppError::invalid(name, format!("This can have at most {max} characters.")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(AppError::invalid(name, "Remove the invisible control characters from this text."));
    }
    Ok(text.to_owned())
}

fn incident_status(text: &str, may_resolve: bool) -> Result<IssueStatus, AppError> {
    IssueStatus::parse(text.trim())
        .ok()
        .filter(|status| may_resolve || *status != IssueStatus::Resolved)
        .ok_or_else(|| AppError::invalid("status", "Choose a status from the list."))
}

/// `YYYY-MM-DDTHH:MM` (what a `datetime-local` field sends) in `zone`, as UTC.
fn local_time(text: &str, zone: &chrono_tz::Tz) -> Option<DateTime<Utc>> {
    use chrono::TimeZone as _;
    let naive = chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M").ok()?;
    zone.from_local_datetime(&naive).earliest().map(|at| at.with_timezone(&Utc))
}

/// A component's availability over `period` from the records.
fn component_availability(
    component_id: i64,
    records: &OperationsRecords,
    period: Span,
    now: DateTime<Utc>,
    hours: &ServiceHours,
) -> availability::Availability {
    let impacts: Vec<ImpactHistory> =
        records.incidents.iter().filter_map(|incident| incident.impact_on(component_id)).collect();
    let windows = windows_of(component_id, records);
    availability::availability(period, hours, &windows, &availability::outages(&impacts, now))
}

fn windows_of(component_id: i64, records: &OperationsRecords) -> Vec<Span> {
    records
        .maintenance
        .iter()
        .filter(|window| window.component_ids.contains(&component_id))
        .map(MaintenanceRecord::span)
        .collect()
}

/// An incident as the report shows it: component names, current impacts.
fn incident_of(record: &IncidentRecord, components: &[ComponentRecord]) -> Incident {
    let name = |id: i64| {
        components.iter().find(|component| component.id == id).map_or_else(|| format!("#{id}"), |c| c.name.clone())
    };
    Incident {
        id: record.id,
        title: record.title.clone(),
        status: record.status,
        opened_at: record.opened_at,
        resolved_at: record.resolved_at,
        components: record
            .current_impacts()
            .into_iter()
            .filter(|(_, impact)| *impact != ComponentStatus::Operational)
            .map(|(id, impact)| AffectedComponent { component: name(id), impact })
            .collect(),
        updates: record.updates.clone(),
    }
}

/// Fills the components' part of `report` from `records` as of `now`: each component's status, bars and 90-day
/// availability, the overall status, open and recent incidents, and maintenance in progress or to come. Returns
/// when the result must be computed again (the next maintenance boundary, or in a few minutes).
pub fn assemble_operations(
    report: &mut StatusReport,
    records: &OperationsRecords,
    now: DateTime<Utc>,
    settings: &ServiceLevelSettings,
) -> DateTime<Utc> {
    let zone = match &settings.hours {
        ServiceHours::Weekly { zone, .. } => Some(*zone),
        ServiceHours::Always => None,
    };
    let period = Span::new(now - Duration::days(i64::from(HISTORY_DAYS)), now);
    report.components = records
        .components
        .iter()
        .map(|component| {
            let impacts: Vec<ImpactHistory> =
                records.incidents.iter().filter_map(|incident| incident.impact_on(component.id)).collect();
            let windows = windows_of(component.id, records);
            let figure =
                availability::availability(period, &settings.hours, &windows, &availability::outages(&impacts, now));
            Component {
                id: component.id,
                name: component.name.clone(),
                description: component.description.clone(),
                status: availability::status_at(now, &impacts, &windows),
                availability_90_days: figure.percent_text(),
                last_90_days: availability::daily_worst(now, HISTORY_DAYS, zone.as_ref(), &impacts, &windows),
            }
        })
        .collect();
    report.overall =
        report.components.iter().map(|component| component.status).max().unwrap_or(ComponentStatus::Operational);
    let recent = now - Duration::days(RECENT_INCIDENT_DAYS);
    report.incidents = records
        .incidents
        .iter()
        .filter(|incident| incident.resolved_at.is_none_or(|at| at >= recent))
        .map(|incident| incident_of(incident, &records.components))
        .collect();
    report.maintenance = records
        .maintenance
        .iter()
        .filter(|window| window.ends_at > now)
        .map(|window| Maintenance {
            id: window.id,
            title: window.title.clone(),
            description: window.description.clone(),
            starts_at: window.starts_at,
            ends_at: window.ends_at,
            components: records
                .components
                .iter()
                .filter(|component| window.component_ids.contains(&component.id))
                .map(|component| component.name.clone())
                .collect(),
        })
        .collect();
    let next_boundary =
        records.maintenance.iter().flat_map(|window| [window.starts_at, window.ends_at]).filter(|at| *at > now).min();
    let lifetime = now + Duration::minutes(REPORT_LIFETIME_MINUTES);
    next_boundary.map_or(lifetime, |at| at.min(lifetime))
}
