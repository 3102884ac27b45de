//! A project's later life on the server: quota change and renewal requests (with the auto-approval rules), closing
//! with a grace period and restoring, and the daily sweep that sends expiry reminders, suspends expired projects and
//! deletes closed ones whose grace period is over. The store contract, the pure sweep decision, and the service
//! methods.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::{ProjectService, SUSPEND_REASON_MAX};
use crate::applications::model::{
    JUSTIFICATION_MAX, Quota, check_end_date, check_quota, into_app_error, required_text,
};
use crate::auth::ssr::{MailNotice, NewAuditEntry, OutgoingMail, RequestInfo, User};
use crate::error::{AppError, FieldError, StoreError};
use crate::projects::members::MemberAction;
use crate::projects::model::ProjectState;
use crate::projects::requests::{
    QuotaDecision, QuotaFacts, RequestKind, RequestState, RequestTransition, RequestView, evaluate, next_state,
    quota_change_summary,
};
use crate::projects::view::ProjectView;

/// Storage of change requests, closing and expiry.
#[async_trait]
pub trait LifecycleStore: Send + Sync + 'static {
    /// The project's requests, newest first.
    async fn project_requests(&self, project_id: i64) -> Result<Vec<RequestView>, StoreError>;

    /// Requests waiting for an admin, oldest first.
    async fn pending_requests(&self) -> Result<Vec<RequestView>, StoreError>;

    /// One request, with its project's id.
    async fn request(&self, request_id: i64) -> Result<Option<(i64, RequestView)>, StoreError>;

    /// Records a request made on `request.basis` (refused as stale when the project changed since), and, when a
    /// rule approved it, applies it and queues the provisioning job; with its event, `mail` and audit row, in one
    /// transaction.
    async fn create_request(
        &self,
        request: &NewRequest,
        mail: &[OutgoingMail],
        audit: &NewAuditEntry,
    ) -> Result<CreateOutcome, StoreError>;

    /// Moves a pending request to `decision.state` (one conditional update: of two admins, one succeeds); an
    /// approval applies the granted values (a renewal also resumes a project its end date suspended) and queues the
    /// provisioning job; with the event, `mail` and audit row, in one transaction.
    async fn decide_request(
        &self,
        decision: &RequestDecision,
        mail: &[OutgoingMail],
        audit: &NewAuditEntry,
    ) -> Result<DecideOutcome, StoreError>;

    /// Closes a project that is not closed: its quota goes to zero through the provisioning job now, its namespace
    /// may be deleted from `delete_after`; its pending requests are withdrawn. False when it was closed already.
    async fn close_project(
        &self,
        project_id: i64,
        reason: Option<&str>,
        delete_after: DateTime<Utc>,
        mail: &[OutgoingMail],
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

    /// Reopens a closed project whose grace period has not ended (at `audit.at`), in the state it was closed in;
    /// false otherwise.
    async fn restore_project(
        &self,
        project_id: i64,
        mail: &[OutgoingMail],
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

    /// Projects the sweep may have to act on: active or suspended ones ending on or before `remind_until`, and
    /// closed ones whose namespace may be deleted at `now` and is not yet.
    async fn lifecycle_candidates(
        &self,
        remind_until: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<LifecycleCandidate>, StoreError>;

    /// Records that the `days`-day reminder for `end_date` went out, with its `mail`, event and audit row; false
    /// (and no mail) when it had been sent for that end date already.
    async fn remind_expiry(
        &self,
        project_id: i64,
        days: u32,
        end_date: NaiveDate,
        mail: &[OutgoingMail],
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

    /// Suspends an active project whose end date is before `today`, with `reason`; false when it is not (renewed,
    /// or suspended meanwhile).
    async fn expire_project(
        &self,
        project_id: i64,
        today: NaiveDate,
        reason: &str,
        mail: &[OutgoingMail],
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

    /// Queues the provisioning job that deletes a closed project's namespace once its grace period is over (at
    /// `now`); false when it is not due.
    async fn queue_deletion(
        &self,
        project_id: i64,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;

    /// Addresses of the admins who are not disabled (they review requests, and hear of failed provisioning).
    async fn admin_addresses(&self) -> Result<Vec<String>, StoreError>;

    /// Queues the sweep for `day` (one `scheduled_runs` row and the job, in one transaction); false when a
    /// process did so already.
    async fn schedule_lifecycle(&self, day: NaiveDate, at: DateTime<Utc>) -> Result<bool, StoreError>;
}

/// The project as the requester saw it; the store refuses the request if it changed since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBasis {
    /// Its state.
    pub state: ProjectState,
    /// Its quota.
    pub quota: Quota,
    /// Its end date.
    pub end_date: NaiveDate,
    /// When its quota last went up.
    pub last_increase_at: Option<DateTime<Utc>>,
}

/// A request to record.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// The project.
    pub project_id: i64,
    /// What it asks for.
    pub kind: RequestKind,
    /// Who asks.
    pub requested_by: i64,
    /// Why.
    pub reason: String,
    /// The quota asked for (quota changes).
    pub quota: Option<Quota>,
    /// The end date asked for (renewals).
    pub end_date: Option<NaiveDate>,
    /// What the project was when asked.
    pub basis: RequestBasis,
    /// Which rule approved it, or why none did (quota changes).
    pub rule: Option<String>,
    /// Whether a rule approved it (it is applied at once).
    pub auto_approved: bool,
}

/// What recording a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Recorded as request `id`; applied when a rule approved it.
    Created {
        /// The request.
        id: i64,
    },
    /// The project changed since the form was made.
    Stale,
    /// A request of that kind is waiting already.
    AlreadyPending,
}

/// A decision on a pending request.
#[derive(Debug, Clone)]
pub struct RequestDecision {
    /// The request.
    pub request_id: i64,
    /// Its project.
    pub project_id: i64,
    /// What it asks for.
    pub kind: RequestKind,
    /// Approved, rejected or withdrawn.
    pub state: RequestState,
    /// Who decided.
    pub decided_by: i64,
    /// The admin's reason.
    pub reason: Option<String>,
    /// The quota granted (quota changes).
    pub granted_quota: Option<Quota>,
    /// The end date granted (renewals).
    pub granted_end_date: Option<NaiveDate>,
    /// What was asked for, in a few words (for the history).
    pub summary: String,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideOutcome {
    /// Done.
    Done,
    /// Somebody decided first.
    AlreadyDecided {
        /// How.
        state: RequestState,
        /// Who (an address).
        by: Option<String>,
        /// When.
        at: Option<DateTime<Utc>>,
    },
    /// No such request.
    NotFound,
}

/// A project the daily sweep looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleCandidate {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// State.
    pub state: ProjectState,
    /// End date.
    pub end_date: NaiveDate,
    /// The end date the 30-day reminder went out for.
    pub reminded_30_for: Option<NaiveDate>,
    /// The end date the 7-day reminder went out for.
    pub reminded_7_for: Option<NaiveDate>,
    /// From when a closed project's namespace may be deleted.
    pub delete_after: Option<DateTime<Utc>>,
}

/// What the sweep does to one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleStep {
    /// Tell the managers that the end date is this many days away, or fewer (30 or 7).
    Remind(u32),
    /// Suspend it: its end date has passed.
    Expire,
    /// Delete its namespace: it is closed and its grace period is over.
    Delete,
}

/// The days before the end date on which the managers are reminded, the nearest last.
pub const REMINDER_DAYS: [u32; 2] = [30, 7];

/// What the sweep on `today` (at `now`) does to `project`, if anything. A reminder goes out once per end date (a
/// renewal brings them back); the nearer one wins when both are due, so a project found late gets one message.
pub fn lifecycle_step(project: &LifecycleCandidate, today: NaiveDate, now: DateTime<Utc>) -> Option<LifecycleStep> {
    match project.state {
        ProjectState::Closed => project.delete_after.filter(|at| *at <= now).map(|_| LifecycleStep::Delete),
        ProjectState::Active | ProjectState::Suspended => {
            if project.end_date < today {
                return (project.state == ProjectState::Active).then_some(LifecycleStep::Expire);
            }
            let days_left = (project.end_date - today).num_days();
            let sent = |days: u32| match days {
                7 => project.reminded_7_for == Some(project.end_date),
                _ => {
                    project.reminded_30_for == Some(project.end_date)
                        || project.reminded_7_for == Some(project.end_date)
                }
            };
            REMINDER_DAYS
                .into_iter()
                .rev()
                .find(|days| days_left <= i64::from(*days))
                .filter(|days| !sent(*days))
                .map(LifecycleStep::Remind)
        }
        ProjectState::Provisioning | ProjectState::ProvisioningFailed => None,
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifecycleReport {
    /// Reminders sent.
    pub reminded: usize,
    /// Projects suspended because their end date passed.
    pub expired: usize,
    /// Closed projects whose namespace deletion was queued.
    pub deleted: usize,
}

/// The longest reason for closing.
pub const CLOSE_REASON_MAX: usize = 1_000;

impl ProjectService {
    /// The project's page with its requests, and what the request forms need.
    pub(super) async fn add_requests(&self, project: &mut ProjectView) -> Result<(), AppError> {
        project.requests = self.lifecycle.project_requests(project.id).await?;
        project.max_quota = self.settings.rules.max_quota;
        project.quota_rules = self.settings.quota_rules.iter().map(|rule| rule.describe()).collect();
        Ok(())
    }

    /// A manager (or an admin) asks for another quota; the auto-approval rules may approve it at once (applied
    /// through the provisioner), otherwise it waits for an admin. Returns the decision's explanation.
    pub async fn request_quota(
        &self,
        user: &User,
        name: &str,
        values: &[String; 5],
        reason: &str,
        request: &RequestInfo,
    ) -> Result<QuotaDecision, AppError> {
        let project = self.project_for(user, name, MemberAction::RequestChange).await?;
        let mut errors = Vec::new();
        let quota = match check_quota(values, &self.settings.rules) {
            Ok(quota) => Some(quota),
            Err(mut quota_errors) => {
                errors.append(&mut quota_errors);
                None
            }
        };
        let reason = required_text(reason, JUSTIFICATION_MAX, true)
            .map_err(|error| errors.push(FieldError { field: "reason".into(), message: error.to_string() }))
            .ok();
        if quota.as_ref() == Some(&project.quota) {
            errors.push(FieldError {
                field: "cpu_cores".into(),
                message: "That is the quota the project has; change at least one value.".into(),
            });
        }
        let (Some(quota), Some(reason), true) = (quota, reason, errors.is_empty()) else {
            return Err(into_app_error(errors));
        };
        if project.state != ProjectState::Active {
            return Err(AppError::Conflict {
                message: format!(
                    "Only an active project's quota can change; this one is {}.",
                    project.state.label().to_lowercase()
                ),
            });
        }
        let now = Utc::now();
        let facts = QuotaFacts {
            current: project.quota,
            requested: quota,
            max: self.settings.rules.max_quota,
            last_increase_at: project.last_increase_at,
            now,
            usage: None,
        };
        let decision = evaluate(&self.settings.quota_rules, &facts);
        let auto_approved = matches!(decision, QuotaDecision::Approved { .. });
        let change = quota_change_summary(&project.quota, &quota);
        let mail = if auto_approved {
            let notice = MailNotice {
                subject: format!("Quota change approved for {}", project.name),
                paragraphs: vec![
                    format!(
                        "{} asked for a quota change of the project {}: {change}.",
                        user.audit_name(),
                        project.name
                    ),
                    decision.explanation().to_owned(),
                    "The new quota is being applied to the cluster now.".to_owned(),
                ],
                path: format!("/projects/{}", project.name),
                link_label: "See the project".to_owned(),
            };
            self.mail_to_managers(project.id, &notice).await?
        } else {
            let notice = MailNotice {
                subject: format!("Quota change waiting: {}", project.name),
                paragraphs: vec![
                    format!("{} asks for a quota change of the project {}: {change}.", user.audit_name(), project.name),
                    format!("Reason: {reason}"),
                    decision.explanation().to_owned(),
                ],
                path: format!("/projects/{}", project.name),
                link_label: "Review the request".to_owned(),
            };
            self.mail_to_admins(&notice).await?
        };
        let audit = NewAuditEntry::by(user, "project.request_quota", format!("project:{}", project.id), request)
            .with_details(serde_json::json!({
                "project": project.name, "change": change, "auto_approved": auto_approved,
                "rule": decision.explanation(),
            }));
        let new = NewRequest {
            project_id: project.id,
            kind: RequestKind::Quota,
            requested_by: user.id,
            reason,
            quota: Some(quota),
            end_date: None,
            basis: basis_of(&project),
            rule: Some(decision.explanation().to_owned()),
            auto_approved,
        };
        self.created(self.lifecycle.create_request(&new, &mail, &audit).await?, RequestKind::Quota)?;
        Ok(decision)
    }

    /// A manager (or an admin) asks for a later end date; an admin decides.
    pub async fn request_renewal(
        &self,
        user: &User,
        name: &str,
        end_date: &str,
        reason: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let project = self.project_for(user, name, MemberAction::RequestChange).await?;
        let today = Utc::now().date_naive();
        let mut errors = Vec::new();
        let date = check_end_date(end_date, &self.settings.rules, today)
            .and_then(|date| {
                if date <= project.end_date {
                    Err(format!("Choose a date after the current end date, {}.", project.end_date))
                } else {
                    Ok(date)
                }
            })
            .map_err(|message| errors.push(FieldError { field: "end_date".into(), message }))
            .ok();
        let reason = required_text(reason, JUSTIFICATION_MAX, true)
            .map_err(|error| errors.push(FieldError { field: "reason".into(), message: error.to_string() }))
            .ok();
        let (Some(date), Some(reason), true) = (date, reason, errors.is_empty()) else {
            return Err(into_app_error(errors));
        };
        if !matches!(project.state, ProjectState::Active | ProjectState::Suspended) {
            return Err(AppError::Conflict {
                message: format!(
                    "Only an active or suspended project can be renewed; this one is {}.",
                    project.state.label().to_lowercase()
                ),
            });
        }
        let notice = MailNotice {
            subject: format!("Renewal waiting: {}", project.name),
            paragraphs: vec![
                format!(
                    "{} asks to renew the project {} until {date} (it ends on {} now).",
                    user.audit_name(),
                    project.name,
                    project.end_date
                ),
                format!("Reason: {reason}"),
            ],
            path: format!("/projects/{}", project.name),
            link_label: "Review the request".to_owned(),
        };
        let mail = self.mail_to_admins(&notice).await?;
        let audit = NewAuditEntry::by(user, "project.request_renewal", format!("project:{}", project.id), request)
            .with_details(serde_json::json!({ "project": project.name, "end_date": date.to_string() }));
        let new = NewRequest {
            project_id: project.id,
            kind: RequestKind::Renewal,
            requested_by: user.id,
            reason,
            quota: None,
            end_date: Some(date),
            basis: basis_of(&project),
            rule: None,
            auto_approved: false,
        };
        self.created(self.lifecycle.create_request(&new, &mail, &audit).await?, RequestKind::Renewal)
    }

    fn created(&self, outcome: CreateOutcome, kind: RequestKind) -> Result<(), AppError> {
        match outcome {
            CreateOutcome::Created { .. } => Ok(()),
            CreateOutcome::Stale => Err(AppError::Conflict {
                message: "The project changed while you filled in the form; reload the page and ask again.".into(),
            }),
            CreateOutcome::AlreadyPending => Err(AppError::Conflict {
                message: format!(
                    "A {} request is waiting for an admin already: withdraw it first to ask for something else.",
                    kind.label().to_lowercase()
                ),
            }),
        }
    }

    /// Requests waiting for an admin, oldest first (admins only).
    pub async fn pending_requests(&self, admin: &User) -> Result<Vec<RequestView>, AppError> {
        crate::auth::ssr::require_admin(admin)?;
        Ok(self.lifecycle.pending_requests().await?)
    }

    /// An admin approves a pending quota change, possibly with other values (which need a reason).
    pub async fn approve_quota_request(
        &self,
        admin: &User,
        request_id: i64,
        values: &[String; 5],
        reason: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let (project_id, pending) = self.pending(request_id, RequestKind::Quota).await?;
        let granted = check_quota(values, &self.settings.rules).map_err(into_app_error)?;
        let reason = crate::applications::model::clean_text(reason, JUSTIFICATION_MAX, true)
            .map_err(|error| AppError::invalid("reason", error))?;
        if Some(granted) != pending.quota && reason.is_empty() {
            return Err(AppError::invalid("reason", "Say why you grant other values than those asked for."));
        }
        let decision = RequestDecision {
            request_id,
            project_id,
            kind: RequestKind::Quota,
            state: RequestState::Approved,
            decided_by: admin.id,
            reason: Some(reason).filter(|reason| !reason.is_empty()),
            granted_quota: Some(granted),
            granted_end_date: None,
            summary: pending.summary(),
        };
        let from = pending.from_quota.unwrap_or(granted);
        let mut paragraphs = vec![format!(
            "{} approved the quota change of the project {}: {}.",
            admin.audit_name(),
            pending.project,
            quota_change_summary(&from, &granted)
        )];
        if Some(granted) != pending.quota {
            paragraphs.push(format!(
                "You asked for {}; the admin granted other values: {}",
                pending.quota.map(|quota| quota.summary()).unwrap_or_default(),
                decision.reason.clone().unwrap_or_default()
            ));
        }
        paragraphs.push("The new quota is being applied to the cluster now.".to_owned());
        self.decide(admin, &pending, decision, "project.request_approve", paragraphs, request).await
    }

    /// An admin approves a pending renewal, possibly with another end date (which needs a reason).
    pub async fn approve_renewal_request(
        &self,
        admin: &User,
        request_id: i64,
        end_date: &str,
        reason: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let (project_id, pending) = self.pending(request_id, RequestKind::Renewal).await?;
        let today = Utc::now().date_naive();
        let granted = check_end_date(end_date, &self.settings.rules, today)
            .map_err(|error| AppError::invalid("end_date", error))?;
        let reason = crate::applications::model::clean_text(reason, JUSTIFICATION_MAX, true)
            .map_err(|error| AppError::invalid("reason", error))?;
        if Some(granted) != pending.end_date && reason.is_empty() {
            return Err(AppError::invalid("reason", "Say why you grant another end date than the one asked for."));
        }
        let decision = RequestDecision {
            request_id,
            project_id,
            kind: RequestKind::Renewal,
            state: RequestState::Approved,
            decided_by: admin.id,
            reason: Some(reason).filter(|reason| !reason.is_empty()),
            granted_quota: None,
            granted_end_date: Some(granted),
            summary: pending.summary(),
        };
        let mut paragraphs =
            vec![format!("{} renewed the project {}: it now ends on {granted}.", admin.audit_name(), pending.project)];
        if let Some(reason) = &decision.reason {
            paragraphs.push(format!("The admin's note: {reason}"));
        }
        self.decide(admin, &pending, decision, "project.request_approve", paragraphs, request).await
    }

    /// An admin rejects a pending request, with a reason.
    pub async fn reject_request(
        &self,
        admin: &User,
        request_id: i64,
        reason: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let (project_id, pending) = self.request_of(request_id).await?;
        let reason =
            required_text(reason, JUSTIFICATION_MAX, true).map_err(|error| AppError::invalid("reason", error))?;
        let decision = RequestDecision {
            request_id,
            project_id,
            kind: pending.kind,
            state: RequestState::Rejected,
            decided_by: admin.id,
            reason: Some(reason.clone()),
            granted_quota: None,
            granted_end_date: None,
            summary: pending.summary(),
        };
        let paragraphs = vec![
            format!(
                "{} rejected the {} request of the project {} ({}).",
                admin.audit_name(),
                pending.kind.label().to_lowercase(),
                pending.project,
                pending.summary()
            ),
            format!("Reason: {reason}"),
        ];
        self.decide(admin, &pending, decision, "project.request_reject", paragraphs, request).await
    }

    /// A manager (or an admin) withdraws a pending request of project `name`.
    pub async fn withdraw_request(
        &self,
        user: &User,
        name: &str,
        request_id: i64,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let project = self.project_for(user, name, MemberAction::RequestChange).await?;
        let pending =
            project.requests.iter().find(|pending| pending.id == request_id).cloned().ok_or(AppError::NotFound)?;
        let decision = RequestDecision {
            request_id,
            project_id: project.id,
            kind: pending.kind,
            state: RequestState::Withdrawn,
            decided_by: user.id,
            reason: None,
            granted_quota: None,
            granted_end_date: None,
            summary: pending.summary(),
        };
        self.decide(user, &pending, decision, "project.request_withdraw", Vec::new(), request).await
    }

    async fn request_of(&self, request_id: i64) -> Result<(i64, RequestView), AppError> {
        self.lifecycle.request(request_id).await?.ok_or(AppError::NotFound)
    }

    async fn pending(&self, request_id: i64, kind: RequestKind) -> Result<(i64, RequestView), AppError> {
        let (project_id, pending) = self.request_of(request_id).await?;
        if pending.kind != kind {
            return Err(AppError::invalid(
                "id",
                format!("Request {request_id} is a {}.", pending.kind.label().to_lowercase()),
            ));
        }
        Ok((project_id, pending))
    }

    /// Applies `decision` (the requester's managers are told with `paragraphs`, when there are any).
    async fn decide(
        &self,
        user: &User,
        pending: &RequestView,
        decision: RequestDecision,
        audit_action: &str,
        paragraphs: Vec<String>,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let transition = match decision.state {
            RequestState::Approved => RequestTransition::Approve,
            RequestState::Rejected => RequestTransition::Reject,
            _ => RequestTransition::Withdraw,
        };
        if next_state(pending.state, transition).is_none() {
            return Err(already_decided(pending.state, pending.decided_by.clone(), pending.decided_at));
        }
        let mail = if paragraphs.is_empty() {
            Vec::new()
        } else {
            let notice = MailNotice {
                subject: format!(
                    "{} {}: {}",
                    pending.kind.label(),
                    decision.state.label().to_lowercase(),
                    pending.project
                ),
                paragraphs,
                path: format!("/projects/{}", pending.project),
                link_label: "See the project".to_owned(),
            };
            self.mail_to_managers(decision.project_id, &notice).await?
        };
        let audit = NewAuditEntry::by(user, audit_action, format!("project:{}", decision.project_id), request)
            .with_details(serde_json::json!({
                "project": pending.project, "request": pending.id, "kind": pending.kind.as_str(),
                "state": decision.state.as_str(), "reason": decision.reason,
                "granted_quota": decision.granted_quota.map(|quota| quota.summary()),
                "granted_end_date": decision.granted_end_date.map(|date| date.to_string()),
            }));
        match self.lifecycle.decide_request(&decision, &mail, &audit).await? {
            DecideOutcome::Done => Ok(()),
            DecideOutcome::AlreadyDecided { state, by, at } => Err(already_decided(state, by, at)),
            DecideOutcome::NotFound => Err(AppError::NotFound),
        }
    }

    /// A manager or an admin closes the project (`confirm` must repeat its name): its quota goes to zero now, and
    /// its namespace is deleted after the grace period unless an admin restores it first.
    pub async fn close(
        &self,
        user: &User,
        name: &str,
        confirm: &str,
        reason: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let project = self.project_for(user, name, MemberAction::Close).await?;
        if confirm.trim() != project.name {
            return Err(AppError::invalid(
                "confirm",
                format!("Type the project's name, {}, to close it.", project.name),
            ));
        }
        let reason = crate::applications::model::clean_text(reason, CLOSE_REASON_MAX, true)
            .map_err(|error| AppError::invalid("reason", error))?;
        let now = Utc::now();
        let delete_after = now + self.settings.close_grace;
        let notice = MailNotice {
            subject: format!("Your project {} is closed", project.name),
            paragraphs: vec![
                format!(
                    "{} closed the project {}{}",
                    user.audit_name(),
                    project.name,
                    if reason.is_empty() { ".".to_owned() } else { format!(": {reason}") }
                ),
                format!(
                    "Its quota on the cluster is zero now. Its namespace, with everything in it, is deleted after {} \
                     UTC; until then an admin can restore the project.",
                    delete_after.format("%Y-%m-%d %H:%M")
                ),
            ],
            path: format!("/projects/{}", project.name),
            link_label: "See the project".to_owned(),
        };
        let mail = self.mail_to_managers(project.id, &notice).await?;
        let audit = NewAuditEntry::by(user, "project.close", format!("project:{}", project.id), request).with_details(
            serde_json::json!({ "project": project.name, "reason": reason, "delete_after": delete_after.to_rfc3339() }),
        );
        let reason = Some(reason.as_str()).filter(|reason| !reason.is_empty());
        if self.lifecycle.close_project(project.id, reason, delete_after, &mail, &audit).await? {
            Ok(())
        } else {
            Err(AppError::Conflict { message: "The project was closed meanwhile.".into() })
        }
    }

    /// An admin restores a closed project within its grace period.
    pub async fn restore(&self, admin: &User, name: &str, request: &RequestInfo) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let project = self.store.project_by_name(name, 0).await?.ok_or(AppError::NotFound)?;
        if project.state != ProjectState::Closed {
            return Err(AppError::Conflict { message: "The project is not closed.".into() });
        }
        let notice = MailNotice {
            subject: format!("Your project {} is restored", project.name),
            paragraphs: vec![format!(
                "{} restored the project {}: it is no longer closed, and its namespace stays.",
                admin.audit_name(),
                project.name
            )],
            path: format!("/projects/{}", project.name),
            link_label: "See the project".to_owned(),
        };
        let mail = self.mail_to_managers(project.id, &notice).await?;
        let audit = NewAuditEntry::by(admin, "project.restore", format!("project:{}", project.id), request)
            .with_details(serde_json::json!({ "project": project.name }));
        if self.lifecycle.restore_project(project.id, &mail, &audit).await? {
            Ok(())
        } else {
            Err(AppError::Conflict {
                message: "The grace period is over: the namespace is being deleted, and the project cannot be \
                          restored."
                    .into(),
            })
        }
    }

    /// Queues today's sweep unless a process did already (every process calls this now and then).
    pub async fn schedule_lifecycle(&self, now: DateTime<Utc>) -> Result<bool, AppError> {
        Ok(self.lifecycle.schedule_lifecycle(now.date_naive(), now).await?)
    }

    /// The daily sweep, as of `now`: expiry reminders, suspension of expired projects, deletion of closed ones
    /// whose grace period is over. Each step is one conditional change, so a sweep run twice does each once. `now`
    /// decides what is due; what the steps record and queue happens on the real clock (the audit rows' times, and
    /// the mail and jobs, due at once).
    pub async fn run_lifecycle(&self, now: DateTime<Utc>) -> Result<LifecycleReport, AppError> {
        let today = now.date_naive();
        let horizon = today + chrono::Duration::days(i64::from(REMINDER_DAYS[0]));
        let mut report = LifecycleReport::default();
        for project in self.lifecycle.lifecycle_candidates(horizon, now).await? {
            let Some(step) = lifecycle_step(&project, today, now) else { continue };
            let page = format!("/projects/{}", project.name);
            match step {
                LifecycleStep::Remind(days) => {
                    let days_left = (project.end_date - today).num_days();
                    let notice = MailNotice {
                        subject: format!("Your project {} ends on {}", project.name, project.end_date),
                        paragraphs: vec![
                            format!(
                                "The project {} ends on {} ({}).",
                                project.name,
                                project.end_date,
                                match days_left {
                                    0 => "today".to_owned(),
                                    1 => "tomorrow".to_owned(),
                                    days => format!("in {days} days"),
                                }
                            ),
                            "After that day it is suspended: its quota on the cluster goes to zero. To keep it, ask \
                             for a renewal on the project page; an admin decides."
                                .to_owned(),
                        ],
                        path: page,
                        link_label: "Ask for a renewal".to_owned(),
                    };
                    let mail = self.mail_to_managers(project.id, &notice).await?;
                    let audit =
                        NewAuditEntry::system("project.expiry_reminder", format!("project:{}", project.id), Utc::now())
                            .with_details(serde_json::json!({
                                "project": project.name, "end_date": project.end_date.to_string(), "days": days,
                            }));
                    if self.lifecycle.remind_expiry(project.id, days, project.end_date, &mail, &audit).await? {
                        report.reminded += 1;
                    }
                }
                LifecycleStep::Expire => {
                    let reason = format!("its end date, {}, has passed", project.end_date);
                    let notice = MailNotice {
                        subject: format!("Your project {} is suspended: its end date passed", project.name),
                        paragraphs: vec![
                            format!(
                                "The project {} ended on {} and was not renewed, so Berth suspended it: its objects \
                                 stay on the cluster, but its quota is zero.",
                                project.name, project.end_date
                            ),
                            "Ask for a renewal on the project page; once an admin approves it, the project is \
                             resumed."
                                .to_owned(),
                        ],
                        path: page,
                        link_label: "Ask for a renewal".to_owned(),
                    };
                    let mail = self.mail_to_managers(project.id, &notice).await?;
                    let audit = NewAuditEntry::system("project.expire", format!("project:{}", project.id), Utc::now())
                        .with_details(
                            serde_json::json!({ "project": project.name, "end_date": project.end_date.to_string() }),
                        );
                    let reason: String = reason.chars().take(SUSPEND_REASON_MAX).collect();
                    if self.lifecycle.expire_project(project.id, today, &reason, &mail, &audit).await? {
                        report.expired += 1;
                    }
                }
                LifecycleStep::Delete => {
                    let audit = NewAuditEntry::system("project.delete", format!("project:{}", project.id), Utc::now())
                        .with_details(serde_json::json!({ "project": project.name }));
                    if self.lifecycle.queue_deletion(project.id, now, &audit).await? {
                        report.deleted += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    async fn mail_to_admins(&self, notice: &MailNotice) -> Result<Vec<OutgoingMail>, AppError> {
        Ok(self.notices(&self.lifecycle.admin_addresses().await?, notice))
    }
}

fn basis_of(project: &ProjectView) -> RequestBasis {
    RequestBasis {
        state: project.state,
        quota: project.quota,
        end_date: project.end_date,
        last_increase_at: project.last_increase_at,
    }
}

fn already_decided(state: RequestState, by: Option<String>, at: Option<DateTime<Utc>>) -> AppError {
    let who = by.map_or_else(|| "by a rule".to_owned(), |by| format!("by {by}"));
    let when = at.map(|at| format!(" on {}", at.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
    AppError::Conflict { message: format!("This request was {} already, {who}{when}.", state.label().to_lowercase()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 3, d).unwrap()
    }

    fn candidate(state: ProjectState, end: NaiveDate) -> LifecycleCandidate {
        LifecycleCandidate {
            id: 1,
            name: "climate".into(),
            state,
            end_date: end,
            reminded_30_for: None,
            reminded_7_for: None,
            delete_after: None,
        }
    }

    fn noon(date: NaiveDate) -> DateTime<Utc> {
        date.and_hms_opt(12, 0, 0).unwrap().and_utc()
    }

    #[test]
    fn reminders_come_thirty_and_seven_days_before_once_per_end_date() {
        let end = day(31);
        let mut project = candidate(ProjectState::Active, end);
        let at = |date: NaiveDate, project: &LifecycleCandidate| lifecycle_step(project, date, noon(date));
        assert_eq!(at(day(1), &project), Some(LifecycleStep::Remind(30)), "30 days before");
        assert_eq!(at(end - chrono::Duration::days(31), &project), None, "31 days before: nothing yet");
        project.reminded_30_for = Some(end);
        assert_eq!(at(day(2), &project), None, "sent for this end date");
        assert_eq!(at(day(24), &project), Some(LifecycleStep::Remind(7)));
        project.reminded_7_for = Some(end);
        assert_eq!(at(day(30), &project), None);
        assert_eq!(at(day(31), &project), None, "the last day is still inside the project's time");
        // A renewal moves the end date: the reminders come again for the new one.
        project.end_date = day(31) + chrono::Duration::days(60);
        assert_eq!(at(day(31) + chrono::Duration::days(30), &project), Some(LifecycleStep::Remind(30)));
    }

    #[test]
    fn a_project_found_late_gets_the_nearer_reminder_only() {
        let project = candidate(ProjectState::Active, day(10));
        assert_eq!(lifecycle_step(&project, day(5), noon(day(5))), Some(LifecycleStep::Remind(7)));
        let mut told = project.clone();
        told.reminded_7_for = Some(day(10));
        assert_eq!(lifecycle_step(&told, day(6), noon(day(6))), None, "the 30-day one is not sent after the 7-day one");
    }

    #[test]
    fn an_active_project_past_its_end_date_expires_and_a_suspended_one_stays() {
        assert_eq!(
            lifecycle_step(&candidate(ProjectState::Active, day(9)), day(10), noon(day(10))),
            Some(LifecycleStep::Expire)
        );
        assert_eq!(lifecycle_step(&candidate(ProjectState::Suspended, day(9)), day(10), noon(day(10))), None);
        assert_eq!(lifecycle_step(&candidate(ProjectState::Provisioning, day(9)), day(10), noon(day(10))), None);
    }

    #[test]
    fn a_closed_project_is_deleted_once_its_grace_period_is_over() {
        let mut closed = candidate(ProjectState::Closed, day(9));
        assert_eq!(lifecycle_step(&closed, day(10), noon(day(10))), None, "closed without a deletion date: nothing");
        closed.delete_after = Some(noon(day(10)));
        assert_eq!(lifecycle_step(&closed, day(10), noon(day(10)) - chrono::Duration::seconds(1)), None);
        assert_eq!(lifecycle_step(&closed, day(10), noon(day(10))), Some(LifecycleStep::Delete));
    }
}
