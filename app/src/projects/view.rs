//! What the project pages show, as the server sends it to the browser.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::members::{InvitationView, ProjectEventView};
use super::model::{MemberRole, ProjectState};
use super::requests::RequestView;
use crate::applications::model::Quota;

/// A row of the projects list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSummary {
    /// Id.
    pub id: i64,
    /// Name (and namespace).
    pub name: String,
    /// Title.
    pub title: String,
    /// Organisation.
    pub organisation: String,
    /// State.
    pub state: ProjectState,
    /// Granted quota.
    pub quota: Quota,
    /// The viewer's role in it, if they are a member.
    pub role: Option<MemberRole>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A member of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    /// User id.
    pub user_id: i64,
    /// Address.
    pub email: String,
    /// Name.
    pub name: Option<String>,
    /// Role.
    pub role: MemberRole,
    /// Since.
    pub since: DateTime<Utc>,
}

/// One provisioning attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    /// Id.
    pub id: i64,
    /// `provision` or `deprovision`.
    pub action: String,
    /// The backend that did it.
    pub backend: String,
    /// The project's generation it applied.
    pub generation: i64,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Ended (none while running).
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded`, `failed` or `interrupted`.
    pub outcome: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// The result of the last drift check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftView {
    /// When.
    pub checked_at: DateTime<Utc>,
    /// The differences found (empty: none).
    pub differences: Vec<String>,
}

/// A project's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectView {
    /// Id.
    pub id: i64,
    /// Name, which is also the namespace.
    pub name: String,
    /// Title.
    pub title: String,
    /// Organisation.
    pub organisation: String,
    /// State.
    pub state: ProjectState,
    /// Granted quota.
    pub quota: Quota,
    /// Expected end.
    pub end_date: NaiveDate,
    /// The owner's address.
    pub owner: String,
    /// The application it came from.
    pub application_id: i64,
    /// Approved (created).
    pub approved_at: DateTime<Utc>,
    /// First active.
    pub activated_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub provision_error: Option<String>,
    /// Why an admin suspended it (while it is suspended).
    pub suspend_reason: Option<String>,
    /// Whether a provisioning job is waiting or running.
    pub job_pending: bool,
    /// Members, managers first.
    pub members: Vec<MemberView>,
    /// Provisioning history, newest first.
    pub attempts: Vec<AttemptView>,
    /// The last drift check, if the backend can check.
    pub drift: Option<DriftView>,
    /// Open invitations (shown to managers and admins; empty for others).
    pub invitations: Vec<InvitationView>,
    /// The project's history, newest first.
    pub events: Vec<ProjectEventView>,
    /// When its quota last went up.
    pub last_increase_at: Option<DateTime<Utc>>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// From when its namespace may be deleted (closed projects).
    pub delete_after: Option<DateTime<Utc>>,
    /// When its namespace was deleted.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Why it was closed.
    pub close_reason: Option<String>,
    /// When the daily sweep suspended it because its end date passed.
    pub expired_at: Option<DateTime<Utc>>,
    /// Its quota change and renewal requests, newest first.
    pub requests: Vec<RequestView>,
    /// The most of each resource a project may have.
    pub max_quota: Quota,
    /// The auto-approval rules of quota changes, in words, in order.
    pub quota_rules: Vec<String>,
    /// Whether the viewer is an admin (who may reprovision).
    pub viewer_is_admin: bool,
    /// The viewer's user id.
    pub viewer_id: i64,
    /// The viewer's role in the project, if they are a member.
    pub viewer_role: Option<MemberRole>,
}

impl ProjectView {
    /// Whether the viewer may invite, change roles and remove members.
    pub fn viewer_manages(&self) -> bool {
        super::members::may(super::members::MemberAction::Invite, self.viewer_role, self.viewer_is_admin)
    }
}
