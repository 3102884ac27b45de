//! Row shapes shared by both backends and their conversion into domain types.

use app::auth::model::{AuditRecord, Role};
use app::auth::ssr::{ConsumedLink, IdentityRecord, User, UserSession, VerifiedIdentity};
use app::email::EmailAddress;
use app::error::StoreError;
use app::status::model::{
    Health, IssueStatus, KnownIssue, MaturityIndicator, RatedValue, STATUS_SCHEMA_VERSION, ServiceSummary,
    StatusReport, WorkArea,
};
use chrono::{DateTime, Utc};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MetaRow {
    pub revision: i64,
    pub stage: String,
    pub service_level: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MaturityRow {
    pub indicator: String,
    pub current_value: String,
    pub current_health: String,
    pub best_value: String,
    pub best_health: String,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct WorkAreaRow {
    pub area: String,
    pub description: String,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct KnownIssueRow {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub status: String,
    pub workaround: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// Puts the rows of one consistent read together into a report.
pub(crate) fn status_report(
    meta: Option<MetaRow>,
    maturity: Vec<MaturityRow>,
    areas: Vec<WorkAreaRow>,
    issues: Vec<KnownIssueRow>,
    issue_components: Vec<(i64, String)>,
) -> Result<StatusReport, StoreError> {
    let meta = meta.ok_or_else(|| StoreError::Corrupt("the status summary row is missing".into()))?;
    let maturity = maturity
        .into_iter()
        .map(|row| {
            Ok(MaturityIndicator {
                indicator: row.indicator,
                current: RatedValue {
                    value: row.current_value,
                    state: Health::parse(&row.current_health).map_err(corrupt)?,
                },
                best_feasible: RatedValue {
                    value: row.best_value,
                    state: Health::parse(&row.best_health).map_err(corrupt)?,
                },
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let known_issues = issues
        .into_iter()
        .map(|row| {
            Ok(KnownIssue {
                id: row.id,
                title: row.title,
                description: row.description,
                status: IssueStatus::parse(&row.status).map_err(corrupt)?,
                workaround: row.workaround,
                opened_at: row.opened_at,
                updated_at: row.updated_at,
                components: issue_components
                    .iter()
                    .filter(|(issue, _)| *issue == row.id)
                    .map(|(_, name)| name.clone())
                    .collect(),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(StatusReport {
        schema_version: STATUS_SCHEMA_VERSION,
        revision: meta.revision,
        updated_at: meta.updated_at,
        service: ServiceSummary { stage: meta.stage, service_level: meta.service_level },
        maturity,
        work_remaining: areas
            .into_iter()
            .map(|row| WorkArea { area: row.area, description: row.description })
            .collect(),
        known_issues,
        // The components' part is computed from the operations records by the status service.
        overall: app::status::model::ComponentStatus::Operational,
        components: Vec::new(),
        incidents: Vec::new(),
        maintenance: Vec::new(),
    })
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: i64,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub organisation: Option<String>,
    pub role: String,
    pub terms_version: Option<String>,
    pub terms_accepted_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        let email = self.email.map(|email| EmailAddress::parse(&email).map_err(corrupt)).transpose()?;
        Ok(User {
            id: self.id,
            email,
            display_name: self.display_name,
            organisation: self.organisation,
            role: Role::parse(&self.role).map_err(corrupt)?,
            terms: self.terms_version.zip(self.terms_accepted_at),
            disabled: self.disabled_at.is_some(),
            created_at: self.created_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserSessionRow {
    pub id: String,
    pub user_id: i64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A session joined with its user; the columns that both tables have are renamed.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SessionUserRow {
    pub session_id: String,
    pub user_id: i64,
    pub session_created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub organisation: Option<String>,
    pub role: String,
    pub terms_version: Option<String>,
    pub terms_accepted_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub user_created_at: DateTime<Utc>,
}

impl SessionUserRow {
    pub(crate) fn into_parts(self) -> Result<(UserSession, User), StoreError> {
        let user = UserRow {
            id: self.user_id,
            email: self.email,
            display_name: self.display_name,
            organisation: self.organisation,
            role: self.role,
            terms_version: self.terms_version,
            terms_accepted_at: self.terms_accepted_at,
            disabled_at: self.disabled_at,
            created_at: self.user_created_at,
        }
        .into_user()?;
        let session = UserSession {
            id: self.session_id,
            user_id: self.user_id,
            created_at: self.session_created_at,
            last_seen_at: self.last_seen_at,
            expires_at: self.expires_at,
            ip: self.ip,
            user_agent: self.user_agent,
        };
        Ok((session, user))
    }
}

impl From<UserSessionRow> for UserSession {
    fn from(row: UserSessionRow) -> Self {
        UserSession {
            id: row.id,
            user_id: row.user_id,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
            ip: row.ip,
            user_agent: row.user_agent,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct IdentityRow {
    pub provider: String,
    pub email: Option<String>,
    pub last_sign_in_at: DateTime<Utc>,
}

impl From<IdentityRow> for IdentityRecord {
    fn from(row: IdentityRow) -> Self {
        IdentityRecord { provider: row.provider, email: row.email, last_sign_in_at: row.last_sign_in_at }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub ip: Option<String>,
    pub details: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(row: AuditRow) -> Self {
        AuditRecord {
            id: row.id,
            at: row.at,
            actor: row.actor,
            action: row.action,
            target: row.target,
            ip: row.ip,
            details: row.details,
        }
    }
}

/// A used sign-in link: its address, and the identity it joins, if any.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ConsumedLinkRow {
    pub email: String,
    pub join_provider: Option<String>,
    pub join_issuer: Option<String>,
    pub join_subject: Option<String>,
}

impl ConsumedLinkRow {
    pub(crate) fn into_link(self) -> Result<ConsumedLink, StoreError> {
        let email = EmailAddress::parse(&self.email).map_err(corrupt)?;
        let joins = match (self.join_provider, self.join_issuer, self.join_subject) {
            (Some(provider), Some(issuer), Some(subject)) => {
                Some(VerifiedIdentity { provider, issuer, subject, email: Some(email.clone()) })
            }
            (None, None, None) => None,
            _ => return Err(corrupt("a sign-in link names part of an identity to join")),
        };
        Ok(ConsumedLink { email, joins })
    }
}

/// An outbox row. `Debug` hides the bodies.
#[derive(sqlx::FromRow)]
pub(crate) struct OutboxRow {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub secret_expires_at: Option<DateTime<Utc>>,
    pub list_unsubscribe: Option<String>,
}

impl std::fmt::Debug for OutboxRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRow").field("id", &self.id).field("sent_at", &self.sent_at).finish_non_exhaustive()
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct JobRow {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i32,
}

fn state_of(text: &str) -> Result<app::applications::state::ApplicationState, StoreError> {
    app::applications::state::ApplicationState::parse(text).ok_or_else(|| corrupt(format!("unknown state {text:?}")))
}

pub(crate) fn quota_of(
    cpu: i64,
    memory: i64,
    storage: i64,
    pods: i64,
    gpus: i64,
) -> Result<app::applications::model::Quota, StoreError> {
    let amount = |value: i64| u32::try_from(value).map_err(|_| corrupt(format!("quota value {value} out of range")));
    Ok(app::applications::model::Quota {
        cpu_cores: amount(cpu)?,
        memory_gib: amount(memory)?,
        storage_gib: amount(storage)?,
        pods: amount(pods)?,
        gpus: amount(gpus)?,
    })
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ApplicationRow {
    pub id: i64,
    pub applicant_id: i64,
    pub applicant_email: Option<String>,
    pub applicant_name: Option<String>,
    pub state: String,
    pub version: i64,
    pub project_name: String,
    pub title: String,
    pub purpose: String,
    pub organisation: String,
    pub end_date: Option<chrono::NaiveDate>,
    pub cpu_cores: i64,
    pub memory_gib: i64,
    pub storage_gib: i64,
    pub pods: i64,
    pub gpus: i64,
    pub quota_justification: String,
    pub billing_account_id: Option<i64>,
    pub billing_justification: Option<String>,
    pub terms_version: Option<String>,
    pub assigned_to: Option<i64>,
    pub assigned_email: Option<String>,
    pub decided_email: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
    pub project_id: Option<i64>,
    pub project_name_granted: Option<String>,
    pub project_state: Option<String>,
    pub granted_cpu_cores: Option<i64>,
    pub granted_memory_gib: Option<i64>,
    pub granted_storage_gib: Option<i64>,
    pub granted_pods: Option<i64>,
    pub granted_gpus: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
}

impl ApplicationRow {
    pub(crate) fn into_record(self) -> Result<app::applications::ssr::ApplicationRecord, StoreError> {
        use app::applications::model::{ApplicationFields, BillingChoice, ProjectName};
        let project_name = if self.project_name.is_empty() {
            None
        } else {
            Some(ProjectName::parse(&self.project_name).map_err(corrupt)?)
        };
        let billing = match (self.billing_account_id, self.billing_justification) {
            (Some(id), _) => Some(BillingChoice::Existing(id)),
            (None, Some(justification)) => Some(BillingChoice::New { justification }),
            (None, None) => None,
        };
        let project = match (self.project_id, self.project_name_granted, self.project_state) {
            (Some(id), Some(name), Some(state)) => Some(app::applications::ssr::ProjectRef {
                id,
                name,
                state,
                quota: quota_of(
                    self.granted_cpu_cores.unwrap_or_default(),
                    self.granted_memory_gib.unwrap_or_default(),
                    self.granted_storage_gib.unwrap_or_default(),
                    self.granted_pods.unwrap_or_default(),
                    self.granted_gpus.unwrap_or_default(),
                )?,
            }),
            _ => None,
        };
        Ok(app::applications::ssr::ApplicationRecord {
            id: self.id,
            applicant_id: self.applicant_id,
            applicant_email: self.applicant_email,
            applicant_name: self.applicant_name,
            state: state_of(&self.state)?,
            version: self.version,
            fields: ApplicationFields {
                project_name,
                title: self.title,
                purpose: self.purpose,
                organisation: self.organisation,
                end_date: self.end_date,
                quota: quota_of(self.cpu_cores, self.memory_gib, self.storage_gib, self.pods, self.gpus)?,
                quota_justification: self.quota_justification,
                billing,
                terms_accepted: self.terms_version.is_some(),
            },
            terms_version: self.terms_version,
            assigned_to: self.assigned_to.zip(self.assigned_email),
            decided: self.decided_email.zip(self.decided_at),
            decision_reason: self.decision_reason,
            project,
            created_at: self.created_at,
            updated_at: self.updated_at,
            submitted_at: self.submitted_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ApplicationEventRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub message: String,
    pub details: String,
}

impl ApplicationEventRow {
    pub(crate) fn into_event(self) -> Result<app::applications::ssr::ApplicationEvent, StoreError> {
        let details: serde_json::Value = serde_json::from_str(&self.details).map_err(corrupt)?;
        Ok(app::applications::ssr::ApplicationEvent {
            id: self.id,
            at: self.at,
            actor: self.actor,
            by_admin: details.get("by_admin").and_then(serde_json::Value::as_bool).unwrap_or(false),
            kind: self.kind,
            from_state: self.from_state.as_deref().map(state_of).transpose()?,
            to_state: self.to_state.as_deref().map(state_of).transpose()?,
            message: self.message,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ApplicationSummaryDbRow {
    pub id: i64,
    pub state: String,
    pub project_name: String,
    pub title: String,
    pub updated_at: DateTime<Utc>,
}

impl ApplicationSummaryDbRow {
    pub(crate) fn into_summary(self) -> Result<app::applications::ssr::ApplicationSummaryRow, StoreError> {
        Ok(app::applications::ssr::ApplicationSummaryRow {
            id: self.id,
            state: state_of(&self.state)?,
            project_name: self.project_name,
            title: self.title,
            updated_at: self.updated_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct QueueDbRow {
    pub id: i64,
    pub state: String,
    pub project_name: String,
    pub title: String,
    pub organisation: String,
    pub applicant: String,
    pub assigned_to: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub cpu_cores: i64,
    pub memory_gib: i64,
    pub storage_gib: i64,
    pub pods: i64,
    pub gpus: i64,
}

impl QueueDbRow {
    pub(crate) fn into_row(self) -> Result<app::applications::ssr::QueueRow, StoreError> {
        Ok(app::applications::ssr::QueueRow {
            id: self.id,
            state: state_of(&self.state)?,
            project_name: self.project_name,
            title: self.title,
            organisation: self.organisation,
            applicant: self.applicant,
            assigned_to: self.assigned_to,
            submitted_at: self.submitted_at,
            quota: quota_of(self.cpu_cores, self.memory_gib, self.storage_gib, self.pods, self.gpus)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProjectRefRow {
    pub id: i64,
    pub name: String,
    pub state: String,
    pub cpu_cores: i64,
    pub memory_gib: i64,
    pub storage_gib: i64,
    pub pods: i64,
    pub gpus: i64,
}

impl ProjectRefRow {
    pub(crate) fn into_project(self) -> Result<app::applications::ssr::ProjectRef, StoreError> {
        Ok(app::applications::ssr::ProjectRef {
            id: self.id,
            name: self.name,
            state: self.state,
            quota: quota_of(self.cpu_cores, self.memory_gib, self.storage_gib, self.pods, self.gpus)?,
        })
    }
}

pub(crate) fn project_state_of(text: &str) -> Result<app::projects::model::ProjectState, StoreError> {
    app::projects::model::ProjectState::parse(text).ok_or_else(|| corrupt(format!("unknown project state {text:?}")))
}

pub(crate) fn member_role_of(text: &str) -> Result<app::projects::model::MemberRole, StoreError> {
    app::projects::model::MemberRole::parse(text).ok_or_else(|| corrupt(format!("unknown member role {text:?}")))
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProjectSummaryRow {
    pub id: i64,
    pub name: String,
    pub title: String,
    pub organisation: String,
    pub state: String,
    pub cpu_cores: i64,
    pub memory_gib: i64,
    pub storage_gib: i64,
    pub pods: i64,
    pub gpus: i64,
    pub updated_at: DateTime<Utc>,
    pub role: Option<String>,
}

impl ProjectSummaryRow {
    pub(crate) fn into_summary(self) -> Result<app::projects::view::ProjectSummary, StoreError> {
        Ok(app::projects::view::ProjectSummary {
            id: self.id,
            state: project_state_of(&self.state)?,
            quota: quota_of(self.cpu_cores, self.memory_gib, self.storage_gib, self.pods, self.gpus)?,
            role: self.role.as_deref().map(member_role_of).transpose()?,
            name: self.name,
            title: self.title,
            organisation: self.organisation,
            updated_at: self.updated_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProjectRow {
    pub id: i64,
    pub name: String,
    pub title: String,
    pub organisation: String,
    pub state: String,
    pub cpu_cores: i64,
    pub memory_gib: i64,
    pub storage_gib: i64,
    pub pods: i64,
    pub gpus: i64,
    pub end_date: chrono::NaiveDate,
    pub owner: String,
    pub application_id: i64,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub provision_error: Option<String>,
    pub drift: Option<String>,
    pub drift_checked_at: Option<DateTime<Utc>>,
    pub suspend_reason: Option<String>,
    pub job_pending: bool,
    pub last_increase_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub delete_after: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub close_reason: Option<String>,
    pub expired_at: Option<DateTime<Utc>>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MemberRow {
    pub user_id: i64,
    pub email: String,
    pub display_name: Option<String>,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AttemptRow {
    pub id: i64,
    pub action: String,
    pub backend: String,
    pub generation: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: String,
    pub error: Option<String>,
}

impl ProjectRow {
    pub(crate) fn into_view(
        self,
        members: Vec<MemberRow>,
        attempts: Vec<AttemptRow>,
        invitations: Vec<InvitationRow>,
        events: Vec<EventRow>,
    ) -> Result<app::projects::view::ProjectView, StoreError> {
        use app::projects::members::{InvitationView, ProjectEventView};
        use app::projects::view::{AttemptView, DriftView, MemberView, ProjectView};
        let drift = match (self.drift, self.drift_checked_at) {
            (Some(text), Some(checked_at)) => Some(DriftView {
                checked_at,
                differences: serde_json::from_str(&text).map_err(|error| corrupt(format!("bad drift: {error}")))?,
            }),
            _ => None,
        };
        Ok(ProjectView {
            id: self.id,
            state: project_state_of(&self.state)?,
            quota: quota_of(self.cpu_cores, self.memory_gib, self.storage_gib, self.pods, self.gpus)?,
            name: self.name,
            title: self.title,
            organisation: self.organisation,
            end_date: self.end_date,
            owner: self.owner,
            application_id: self.application_id,
            approved_at: self.created_at,
            activated_at: self.activated_at,
            provision_error: self.provision_error,
            suspend_reason: self.suspend_reason,
            job_pending: self.job_pending,
            members: members
                .into_iter()
                .map(|member| {
                    Ok(MemberView {
                        role: member_role_of(&member.role)?,
                        user_id: member.user_id,
                        email: member.email,
                        name: member.display_name,
                        since: member.created_at,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            attempts: attempts
                .into_iter()
                .map(|attempt| AttemptView {
                    id: attempt.id,
                    action: attempt.action,
                    backend: attempt.backend,
                    generation: attempt.generation,
                    started_at: attempt.started_at,
                    finished_at: attempt.finished_at,
                    outcome: attempt.outcome,
                    error: attempt.error,
                })
                .collect(),
            drift,
            invitations: invitations
                .into_iter()
                .map(|row| {
                    Ok(InvitationView {
                        id: row.id,
                        role: member_role_of(&row.role)?,
                        email: row.email,
                        invited_by: row.invited_by,
                        sent_at: row.sent_at,
                        expired: row.expires_at <= Utc::now(),
                        expires_at: row.expires_at,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            events: events
                .into_iter()
                .map(|row| ProjectEventView {
                    at: row.at,
                    actor: row.actor,
                    summary: row.summary,
                    request_id: row.request_id,
                })
                .collect(),
            last_increase_at: self.last_increase_at,
            closed_at: self.closed_at,
            delete_after: self.delete_after,
            deleted_at: self.deleted_at,
            close_reason: self.close_reason,
            expired_at: self.expired_at,
            // Filled in by the service from the lifecycle store and the settings.
            requests: Vec::new(),
            max_quota: app::applications::model::Quota::STANDARD,
            quota_rules: Vec::new(),
            viewer_is_admin: false,
            viewer_id: 0,
            viewer_role: None,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct InvitationRow {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub summary: String,
    pub request_id: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RequestRow {
    pub id: i64,
    pub project_id: i64,
    pub project: String,
    pub kind: String,
    pub state: String,
    pub requested_by: String,
    pub reason: String,
    pub from_quota: Option<String>,
    pub quota: Option<String>,
    pub from_end_date: Option<chrono::NaiveDate>,
    pub end_date: Option<chrono::NaiveDate>,
    pub granted_quota: Option<String>,
    pub granted_end_date: Option<chrono::NaiveDate>,
    pub rule: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A quota as stored in a request row (JSON of the five resources).
pub(crate) fn quota_json(quota: Option<&app::applications::model::Quota>) -> Option<String> {
    quota.map(|quota| serde_json::to_string(quota).expect("quotas serialise"))
}

impl RequestRow {
    pub(crate) fn into_view(self) -> Result<(i64, app::projects::requests::RequestView), StoreError> {
        use app::projects::requests::{RequestKind, RequestState, RequestView};
        let quota = |text: Option<String>| -> Result<Option<app::applications::model::Quota>, StoreError> {
            text.map(|text| {
                serde_json::from_str(&text).map_err(|error| corrupt(format!("bad quota {text:?}: {error}")))
            })
            .transpose()
        };
        Ok((
            self.project_id,
            RequestView {
                id: self.id,
                project: self.project,
                kind: RequestKind::parse(&self.kind).ok_or_else(|| corrupt(format!("unknown kind {:?}", self.kind)))?,
                state: RequestState::parse(&self.state)
                    .ok_or_else(|| corrupt(format!("unknown request state {:?}", self.state)))?,
                requested_by: self.requested_by,
                reason: self.reason,
                from_quota: quota(self.from_quota)?,
                quota: quota(self.quota)?,
                from_end_date: self.from_end_date,
                end_date: self.end_date,
                granted_quota: quota(self.granted_quota)?,
                granted_end_date: self.granted_end_date,
                rule: self.rule,
                decided_by: self.decided_by,
                decided_at: self.decided_at,
                decision_reason: self.decision_reason,
                created_at: self.created_at,
            },
        ))
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct LifecycleCandidateRow {
    pub id: i64,
    pub name: String,
    pub state: String,
    pub end_date: chrono::NaiveDate,
    pub reminded_30_for: Option<chrono::NaiveDate>,
    pub reminded_7_for: Option<chrono::NaiveDate>,
    pub delete_after: Option<DateTime<Utc>>,
}

impl LifecycleCandidateRow {
    pub(crate) fn into_candidate(self) -> Result<app::projects::ssr::lifecycle::LifecycleCandidate, StoreError> {
        Ok(app::projects::ssr::lifecycle::LifecycleCandidate {
            id: self.id,
            name: self.name,
            state: project_state_of(&self.state)?,
            end_date: self.end_date,
            reminded_30_for: self.reminded_30_for,
            reminded_7_for: self.reminded_7_for,
            delete_after: self.delete_after,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct InvitationRecordRow {
    pub id: i64,
    pub project_id: i64,
    pub project: String,
    pub title: String,
    pub project_state: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl InvitationRecordRow {
    pub(crate) fn into_record(self) -> Result<app::projects::ssr::InvitationRecord, StoreError> {
        Ok(app::projects::ssr::InvitationRecord {
            id: self.id,
            project_id: self.project_id,
            project: self.project,
            title: self.title,
            project_state: project_state_of(&self.project_state)?,
            email: self.email,
            role: member_role_of(&self.role)?,
            invited_by: self.invited_by,
            expires_at: self.expires_at,
            accepted_at: self.accepted_at,
            revoked_at: self.revoked_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProjectSpecRow {
    pub id: i64,
    pub name: String,
    pub title: String,
    pub owner_id: i64,
    pub owner_email: String,
    pub state: String,
    pub cpu_cores: i64,
    pub memory_gib: i64,
    pub storage_gib: i64,
    pub pods: i64,
    pub gpus: i64,
    pub generation: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MemberSpecRow {
    pub project_id: i64,
    pub user_id: i64,
    pub username: String,
    pub role: String,
}

/// Each project's spec with its members, generation and approval time.
pub(crate) fn project_specs(
    projects: Vec<ProjectSpecRow>,
    members: Vec<MemberSpecRow>,
) -> Result<Vec<(app::projects::ssr::desired::ProjectSpec, i64, DateTime<Utc>)>, StoreError> {
    use app::projects::ssr::desired::{ProjectMember, ProjectSpec};
    let mut by_project: std::collections::HashMap<i64, Vec<ProjectMember>> = std::collections::HashMap::new();
    for member in members {
        by_project.entry(member.project_id).or_default().push(ProjectMember {
            user_id: member.user_id,
            role: member_role_of(&member.role)?,
            username: member.username,
        });
    }
    projects
        .into_iter()
        .map(|row| {
            let spec = ProjectSpec {
                id: row.id,
                state: project_state_of(&row.state)?,
                quota: quota_of(row.cpu_cores, row.memory_gib, row.storage_gib, row.pods, row.gpus)?,
                members: by_project.remove(&row.id).unwrap_or_default(),
                name: row.name,
                title: row.title,
                owner_id: row.owner_id,
                owner_email: row.owner_email,
            };
            Ok((spec, row.generation, row.created_at))
        })
        .collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AdminJobRow {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub outcome: Option<String>,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

impl AdminJobRow {
    /// Where the job is at `now`.
    pub(crate) fn state(&self, now: DateTime<Utc>) -> app::jobs::JobState {
        use app::jobs::JobState;
        match (self.done_at, self.outcome.as_deref()) {
            (Some(_), Some("failed")) => JobState::Failed,
            (Some(_), Some("cancelled")) => JobState::Cancelled,
            (Some(_), _) => JobState::Done,
            (None, _) if self.locked_until.is_some_and(|until| until >= now) => JobState::Running,
            (None, _) => JobState::Queued,
        }
    }

    pub(crate) fn into_view(self, now: DateTime<Utc>) -> app::jobs::JobView {
        let subject = match crate::jobs::JobPayload::parse(&self.kind, &self.payload) {
            Ok(crate::jobs::JobPayload::SendMail { outbox_id }) => format!("message {outbox_id}"),
            Ok(crate::jobs::JobPayload::ProvisionProject { project_id }) => format!("project {project_id}"),
            Ok(crate::jobs::JobPayload::ProjectLifecycle { at }) => {
                format!("projects as of {}", at.format("%Y-%m-%d %H:%M UTC"))
            }
            Ok(crate::jobs::JobPayload::UsageRollup { hour }) => {
                format!("usage up to the hour from {}", hour.format("%Y-%m-%d %H:%M UTC"))
            }
            Ok(crate::jobs::JobPayload::NotifyStatus { event_id }) => format!("status event {event_id}"),
            Ok(crate::jobs::JobPayload::DeliverWebhook { delivery_id }) => format!("webhook delivery {delivery_id}"),
            Err(reason) => reason,
        };
        app::jobs::JobView {
            state: self.state(now),
            id: self.id,
            kind: self.kind,
            subject,
            attempts: i64::from(self.attempts),
            run_at: self.run_at,
            last_error: self.last_error,
            created_at: self.created_at,
            done_at: self.done_at,
        }
    }
}
