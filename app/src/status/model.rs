//! The status report: what `/status`, `/status.json` and the Atom feed show.
//!
//! These types are the public schema of `/status.json` (documented in the README): add fields, never rename or
//! remove them without bumping [`STATUS_SCHEMA_VERSION`].

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version of the `/status.json` schema. Version 2 added the components, incidents and maintenance windows;
/// every field of version 1 is kept as it was.
pub const STATUS_SCHEMA_VERSION: u32 = 2;

/// How good a maturity value is. Shown by colour and by text, never colour alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Fit for production use.
    Ok,
    /// Usable with care: preview quality or a known limitation.
    Warn,
    /// Not fit for production use.
    Bad,
}

impl Health {
    /// All values, in order of increasing concern.
    pub const ALL: [Health; 3] = [Health::Ok, Health::Warn, Health::Bad];

    /// Parses the stored form (`ok`, `warn`, `bad`).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Self::ALL.into_iter().find(|health| health.as_str() == text).ok_or_else(|| ParseError::new("health", text))
    }

    /// The stored and serialised form.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Warn => "warn",
            Health::Bad => "bad",
        }
    }

    /// The word a reader sees next to the colour.
    pub fn label(self) -> &'static str {
        match self {
            Health::Ok => "OK",
            Health::Warn => "Caution",
            Health::Bad => "Not ready",
        }
    }
}

/// Where a known issue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueStatus {
    /// Reported; the cause is not known yet.
    Investigating,
    /// The cause is known and a fix is being worked on.
    Identified,
    /// A fix is in place and being watched.
    Monitoring,
    /// Fixed.
    Resolved,
}

impl IssueStatus {
    /// All values, in lifecycle order.
    pub const ALL: [IssueStatus; 4] =
        [IssueStatus::Investigating, IssueStatus::Identified, IssueStatus::Monitoring, IssueStatus::Resolved];

    /// Parses the stored form (`investigating`, `identified`, `monitoring`, `resolved`).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| ParseError::new("issue status", text))
    }

    /// The stored and serialised form.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Investigating => "investigating",
            IssueStatus::Identified => "identified",
            IssueStatus::Monitoring => "monitoring",
            IssueStatus::Resolved => "resolved",
        }
    }

    /// A short sentence for readers.
    pub fn label(self) -> &'static str {
        match self {
            IssueStatus::Investigating => "Investigating",
            IssueStatus::Identified => "Cause known, fix in progress",
            IssueStatus::Monitoring => "Fix applied, monitoring",
            IssueStatus::Resolved => "Resolved",
        }
    }
}

/// How a component is doing, in order of increasing concern: the worst of several is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    /// Working normally.
    Operational,
    /// In an announced maintenance window.
    UnderMaintenance,
    /// Working, but slower or with errors.
    Degraded,
    /// Down for some users or some functions.
    PartialOutage,
    /// Down.
    MajorOutage,
}

impl ComponentStatus {
    /// All values, in order of increasing concern.
    pub const ALL: [ComponentStatus; 5] = [
        ComponentStatus::Operational,
        ComponentStatus::UnderMaintenance,
        ComponentStatus::Degraded,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
    ];

    /// What an incident can do to a component ("operational" takes it out of the incident).
    pub const IMPACTS: [ComponentStatus; 4] = [
        ComponentStatus::Operational,
        ComponentStatus::Degraded,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
    ];

    /// Parses the stored form (`operational`, `under_maintenance`, `degraded`, `partial_outage`, `major_outage`).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| ParseError::new("component status", text))
    }

    /// The stored and serialised form.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::UnderMaintenance => "under_maintenance",
            ComponentStatus::Degraded => "degraded",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
        }
    }

    /// The words a reader sees next to the colour.
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::UnderMaintenance => "Under maintenance",
            ComponentStatus::Degraded => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
        }
    }

    /// Whether this counts as the component being unavailable (degraded service still counts as available).
    pub fn is_outage(self) -> bool {
        matches!(self, ComponentStatus::PartialOutage | ComponentStatus::MajorOutage)
    }
}

impl fmt::Display for ComponentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A part of the service whose status is shown on its own ("Web console", "Image registry").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Stable identifier.
    pub id: i64,
    /// Name.
    pub name: String,
    /// What it is, for readers who do not know.
    pub description: String,
    /// Its status now.
    pub status: ComponentStatus,
    /// The share of service hours it was available over the last 90 days, in percent with up to three decimals;
    /// `None` when those days held no service hours.
    pub availability_90_days: Option<String>,
    /// The worst status of each of the last 90 days, oldest first, for the page's bars (not in `/status.json`).
    #[serde(skip)]
    pub last_90_days: Vec<ComponentStatus>,
}

/// An incident's effect on one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedComponent {
    /// The component's name.
    pub component: String,
    /// What the incident does to it now (or did, when it was resolved).
    pub impact: ComponentStatus,
}

/// A timestamped message of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    /// The incident's status from this update on.
    pub status: IssueStatus,
    /// What was found or done.
    pub message: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Something that went wrong with the service, from its opening to its resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable identifier; also the `#incident-{id}` anchor.
    pub id: i64,
    /// One-line summary.
    pub title: String,
    /// Where it stands.
    pub status: IssueStatus,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When it was resolved; `None` while open.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The components it affects.
    pub components: Vec<AffectedComponent>,
    /// Its updates, newest first.
    pub updates: Vec<IncidentUpdate>,
}

/// An announced window of maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// Stable identifier.
    pub id: i64,
    /// One-line summary.
    pub title: String,
    /// What is done and what users notice.
    pub description: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// The components it affects, by name.
    pub components: Vec<String>,
}

/// A value that is not one of an enumeration's stored forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind}")]
pub struct ParseError {
    kind: &'static str,
    value: String,
}

impl ParseError {
    pub(crate) fn new(kind: &'static str, value: &str) -> Self {
        Self { kind, value: value.chars().take(64).collect() }
    }
}

/// One value in the maturity matrix with its health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatedValue {
    /// What is measured, in words ("Technical preview").
    pub value: String,
    /// How good that is.
    pub state: Health,
}

/// One row of the maturity matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaturityIndicator {
    /// What the row rates ("Storage class").
    pub indicator: String,
    /// Where the service is today.
    pub current: RatedValue,
    /// The best the service can feasibly reach.
    pub best_feasible: RatedValue,
}

/// An area of work that must be done before the service is production-ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkArea {
    /// Short name ("Storage").
    pub area: String,
    /// What is missing and what is planned.
    pub description: String,
}

/// A problem users may meet, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownIssue {
    /// Stable identifier; also the `#issue-{id}` anchor on `/status`.
    pub id: i64,
    /// One-line summary.
    pub title: String,
    /// What users see.
    pub description: String,
    /// Where the issue stands.
    pub status: IssueStatus,
    /// What users can do meanwhile; `None` when there is nothing.
    pub workaround: Option<String>,
    /// When the issue was first recorded.
    pub opened_at: DateTime<Utc>,
    /// When the issue last changed.
    pub updated_at: DateTime<Utc>,
    /// The names of the components it affects, in display order (since version 2; may be empty).
    #[serde(default)]
    pub components: Vec<String>,
}

/// The service's stage and promised service level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSummary {
    /// Release stage ("Beta").
    pub stage: String,
    /// The availability and support hours promised today.
    pub service_level: String,
}

/// Everything the public status page shows, as of one revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Always [`STATUS_SCHEMA_VERSION`] when produced by this build.
    pub schema_version: u32,
    /// Grows with every change to the content.
    pub revision: i64,
    /// When the content last changed.
    pub updated_at: DateTime<Utc>,
    /// Stage and service level.
    pub service: ServiceSummary,
    /// The maturity matrix, in display order.
    pub maturity: Vec<MaturityIndicator>,
    /// Work remaining before production, in display order.
    pub work_remaining: Vec<WorkArea>,
    /// Known issues, most recently updated first.
    pub known_issues: Vec<KnownIssue>,
    /// The worst status of any component now (since version 2).
    pub overall: ComponentStatus,
    /// The components, in display order (since version 2).
    pub components: Vec<Component>,
    /// Open incidents, and those resolved in the last seven days; newest first (since version 2).
    pub incidents: Vec<Incident>,
    /// Maintenance windows in progress or announced, soonest first (since version 2).
    pub maintenance: Vec<Maintenance>,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for IssueStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_round_trips_through_its_stored_form() {
        for health in Health::ALL {
            assert_eq!(Health::parse(health.as_str()), Ok(health));
        }
    }

    #[test]
    fn issue_status_round_trips_through_its_stored_form() {
        for status in IssueStatus::ALL {
            assert_eq!(IssueStatus::parse(status.as_str()), Ok(status));
        }
    }

    #[test]
    fn unknown_stored_forms_are_refused_with_the_value_named() {
        let error = Health::parse("great").unwrap_err();
        assert_eq!(error.to_string(), "\"great\" is not a valid health");
        assert!(IssueStatus::parse("Resolved").is_err(), "parsing is case-sensitive");
    }

    #[test]
    fn serialised_forms_match_stored_forms() {
        assert_eq!(serde_json::to_string(&Health::Warn).unwrap(), "\"warn\"");
        assert_eq!(serde_json::to_string(&IssueStatus::Identified).unwrap(), "\"identified\"");
    }
}
