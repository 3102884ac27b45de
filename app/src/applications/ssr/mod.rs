//! Server side of applications: the store contract. Every change is one transaction that also writes its timeline
//! event, its audit row and the mail it causes; a transition is one conditional update of the state (and version)
//! it was decided on.

mod service;

pub use service::{ApplicationService, ApplicationSettings, Decision, QUEUE_PAGE, quota_words};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::model::{ApplicationFields, BillingChoice, Quota};
use super::state::{ApplicationState, Transition};
pub use super::view::{ApplicationEvent, ApplicationSummaryRow, ProjectRef, QueueRow};
use crate::auth::ssr::{NewAuditEntry, OutgoingMail};
use crate::error::StoreError;

/// An application as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRecord {
    /// Id.
    pub id: i64,
    /// Who applied.
    pub applicant_id: i64,
    /// Their address and name, for the admins' pages.
    pub applicant_email: Option<String>,
    /// Their name.
    pub applicant_name: Option<String>,
    /// Where it is in its lifecycle.
    pub state: ApplicationState,
    /// Grows with every change.
    pub version: i64,
    /// The fields (a draft's may be incomplete).
    pub fields: ApplicationFields,
    /// Terms version accepted at the last submission.
    pub terms_version: Option<String>,
    /// The admin who took it, with their address.
    pub assigned_to: Option<(i64, String)>,
    /// The admin who decided, with their address, and when.
    pub decided: Option<(String, DateTime<Utc>)>,
    /// The reason given with the decision (or the last request for changes).
    pub decision_reason: Option<String>,
    /// The project approval created.
    pub project: Option<ProjectRef>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Last (re)submitted.
    pub submitted_at: Option<DateTime<Utc>>,
}

/// What an application's new event says; the store adds the time and ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Who.
    pub actor_id: i64,
    /// Who, as shown.
    pub actor: String,
    /// Whether an admin acted.
    pub by_admin: bool,
    /// Comment, message or reason.
    pub message: String,
}

/// A transition to make, decided by the state machine from the state and version the actor saw.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionChange {
    /// Which application.
    pub application_id: i64,
    /// What.
    pub transition: Transition,
    /// The state it must still be in.
    pub from: ApplicationState,
    /// The state it goes to.
    pub to: ApplicationState,
    /// The version it must still have (the one the actor saw).
    pub version: i64,
    /// The event (with the message or reason).
    pub event: NewEvent,
    /// For `submit`: the fields as submitted, and the terms version accepted.
    pub submitted: Option<(ApplicationFields, String)>,
    /// For `approve`: the project to create.
    pub project: Option<NewProject>,
    /// The mail it causes.
    pub mail: Vec<OutgoingMail>,
    /// Its audit row.
    pub audit: NewAuditEntry,
}

/// The project approval creates, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    /// Its name (the application's).
    pub name: String,
    /// The applicant, who becomes its manager.
    pub owner_id: i64,
    /// Title.
    pub title: String,
    /// Organisation.
    pub organisation: String,
    /// End date.
    pub end_date: NaiveDate,
    /// The quota granted (maybe not the one requested).
    pub quota: Quota,
    /// The billing account, if an existing one was chosen.
    pub billing_account_id: Option<i64>,
}

/// What became of a change that was conditional on the state and version someone saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Done; the application now has this version (and, after an approval, this project).
    Done {
        /// The new version.
        version: i64,
        /// The project created, if any.
        project_id: Option<i64>,
    },
    /// Somebody changed it first: here is how it is now.
    Stale(Box<ApplicationRecord>),
    /// The project name is taken by another open application or a project.
    NameTaken,
    /// No such application (for this applicant).
    NotFound,
}

/// How the queue is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueSort {
    /// Oldest submission first.
    #[default]
    Age,
    /// By project name.
    Name,
}

/// Which queue rows to list, and from where (keyset pagination: the sort key and id of the last row seen).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueFilter {
    /// Only this state (none: waiting for a decision).
    pub state: Option<ApplicationState>,
    /// Organisation, exactly.
    pub organisation: Option<String>,
    /// Applicant's address contains.
    pub applicant: Option<String>,
    /// Name, title or applicant contains.
    pub search: Option<String>,
    /// Sort order.
    pub sort: QueueSort,
    /// After this row: its sort key (time as RFC 3339, or name) and id.
    pub after: Option<(String, i64)>,
}

/// Storage of applications, their timelines and the projects approval creates.
#[async_trait]
pub trait ApplicationStore: Send + Sync + 'static {
    /// Saves a new draft; the same `draft_key` (one per form) saves the same draft again instead of adding one.
    /// Returns its id and version.
    async fn save_new_draft(
        &self,
        applicant_id: i64,
        draft_key: &str,
        fields: &ApplicationFields,
        event: &NewEvent,
        audit: &NewAuditEntry,
    ) -> Result<(i64, i64), StoreError>;

    /// Saves the applicant's changes to an editable application of the version they were made on.
    async fn save_changes(
        &self,
        application_id: i64,
        applicant_id: i64,
        version: i64,
        fields: &ApplicationFields,
        event: &NewEvent,
        audit: &NewAuditEntry,
    ) -> Result<ChangeOutcome, StoreError>;

    /// Makes a transition: one conditional update of state and version, with its event, audit row, mail, and,
    /// for an approval, the project, its manager and the `provision_project` job.
    async fn transition(&self, change: &TransitionChange) -> Result<ChangeOutcome, StoreError>;

    /// Adds a comment (any state) with the mail it causes.
    async fn comment(
        &self,
        application_id: i64,
        event: &NewEvent,
        mail: &[OutgoingMail],
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

    /// An admin takes an application (shown as assigned to them); returns false if it does not exist.
    async fn take(&self, application_id: i64, event: &NewEvent, audit: &NewAuditEntry) -> Result<bool, StoreError>;

    /// An application.
    async fn application(&self, id: i64) -> Result<Option<ApplicationRecord>, StoreError>;

    /// Its timeline and comments, oldest first.
    async fn events(&self, application_id: i64) -> Result<Vec<ApplicationEvent>, StoreError>;

    /// A user's applications, last changed first.
    async fn applications_of(&self, applicant_id: i64) -> Result<Vec<ApplicationSummaryRow>, StoreError>;

    /// One page of the admins' queue.
    async fn queue(&self, filter: &QueueFilter, limit: u32) -> Result<Vec<QueueRow>, StoreError>;

    /// How many applications wait for a decision, counting no further than `up_to`: the header only says
    /// "100+", and counting stops there instead of walking every waiting row on every page view.
    async fn waiting_count(&self, up_to: i64) -> Result<i64, StoreError>;

    /// Whether `name` is held by a project or another open application (not `except`).
    async fn name_taken(&self, name: &str, except: Option<i64>) -> Result<bool, StoreError>;

    /// Addresses of the admins who want a message for each new or resubmitted application.
    async fn admins_mailed_each(&self) -> Result<Vec<String>, StoreError>;

    /// Addresses of the admins who want one daily digest instead.
    async fn admins_mailed_daily(&self) -> Result<Vec<String>, StoreError>;

    /// Whether `user_id` chose the daily digest.
    async fn application_mail_daily(&self, user_id: i64) -> Result<bool, StoreError>;

    /// Records `user_id`'s choice between a message per application and the daily digest.
    async fn set_application_mail_daily(
        &self,
        user_id: i64,
        daily: bool,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// The projects `owner_id` owns, by name.
    async fn projects_of(&self, owner_id: i64) -> Result<Vec<ProjectRef>, StoreError>;

    /// The billing accounts `owner_id` owns: (id, name, balance), oldest first.
    async fn billing_accounts_of(
        &self,
        owner_id: i64,
    ) -> Result<Vec<(i64, String, crate::billing::model::MilliBu)>, StoreError>;

    /// Records that the scheduled work `name` ran for `period` and queues its mail, in one transaction; does
    /// nothing and returns false when it already ran (in this process or another).
    async fn run_once(
        &self,
        name: &str,
        period: &str,
        mail: &[OutgoingMail],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// The stored form of a billing choice: (existing account id, justification of a new account).
pub fn billing_columns(billing: Option<&BillingChoice>) -> (Option<i64>, Option<&str>) {
    match billing {
        Some(BillingChoice::Existing(id)) => (Some(*id), None),
        Some(BillingChoice::New { justification }) => (None, Some(justification.as_str())),
        None => (None, None),
    }
}
