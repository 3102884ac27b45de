//! The applications service: who may see and change what, the checks the server makes before the store is asked,
//! and the mail each change causes. Server functions call one method each.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Timelike as _, Utc};

use super::{ApplicationRecord, ApplicationStore, ChangeOutcome, NewEvent, NewProject, QueueFilter, QueueSort};
use super::{TransitionChange, billing_columns};
use crate::applications::model::{
    ApplicationFields, ApplicationInput, ApplicationRules, MESSAGE_MAX, Quota, Strictness, check_application,
    check_quota, into_app_error, required_text,
};
use crate::applications::state::{Actor, ApplicationState, Transition, next_state};
use crate::applications::view::{
    ApplicationForm, ApplicationSummaryRow, ApplicationView, FormView, QueuePage, QueueQuery, WAITING_SHOWN_UP_TO,
};
use crate::auth::model::{Role, TERMS_VERSION};
use crate::auth::ssr::{MailNotice, MailRenderer, NewAuditEntry, OutgoingMail, RequestInfo, User};
use crate::email::EmailAddress;
use crate::error::AppError;

/// Rows per page of the admins' queue.
pub const QUEUE_PAGE: u32 = 50;
/// Applications listed in the admins' daily digest.
const DIGEST_ROWS: u32 = 20;
/// The name of the daily digest's run in `scheduled_runs`.
const DIGEST_RUN: &str = "admin_application_digest";

/// Settings of the applications service.
#[derive(Debug, Clone)]
pub struct ApplicationSettings {
    /// Defaults, maximums, reserved names and the furthest end date.
    pub rules: ApplicationRules,
    /// The hour (UTC) from which the day's digest goes to admins who chose it.
    pub digest_hour_utc: u32,
    /// The BU rates the form's cost preview uses (billing's).
    pub rates: crate::billing::model::RateSchedule,
}

impl Default for ApplicationSettings {
    fn default() -> Self {
        Self {
            rules: ApplicationRules::default(),
            digest_hour_utc: 7,
            rates: crate::billing::model::RateSchedule::default(),
        }
    }
}

/// What an admin decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approve, granting this quota (as typed: one text per resource, in [`RESOURCES`](crate::applications::model::RESOURCES) order); a quota other than
    /// the one requested needs a reason.
    Approve {
        /// The granted quota, as typed.
        quota: [String; 5],
        /// Why the quota differs (may be empty when it does not).
        reason: String,
    },
    /// Reject, with a reason.
    Reject {
        /// Why.
        reason: String,
    },
    /// Ask the applicant for changes.
    RequestChanges {
        /// What to change.
        message: String,
    },
}

/// Applications: the form, the lifecycle, comments and the admins' queue.
pub struct ApplicationService {
    store: Arc<dyn ApplicationStore>,
    mail: Arc<dyn MailRenderer>,
    settings: ApplicationSettings,
}

impl std::fmt::Debug for ApplicationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicationService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl ApplicationService {
    /// The service over `store`.
    pub fn new(store: Arc<dyn ApplicationStore>, mail: Arc<dyn MailRenderer>, settings: ApplicationSettings) -> Self {
        Self { store, mail, settings }
    }

    /// The rules applications are checked against.
    pub fn rules(&self) -> &ApplicationRules {
        &self.settings.rules
    }

    /// A new, empty form for `user`: the standard quota, their organisation, and a fresh key so that saving it
    /// twice saves one draft.
    pub async fn new_form(&self, user: &User) -> Result<FormView, AppError> {
        require_signed_up(user)?;
        let input =
            ApplicationInput::new_for(user.organisation.as_deref().unwrap_or_default(), &self.rules().default_quota);
        self.form_view(
            user.id,
            ApplicationForm { draft_key: new_draft_key(), input, ..ApplicationForm::default() },
            false,
        )
        .await
    }

    /// The form around `form` (what was typed, or what is stored) for the applicant `applicant_id`, whose billing
    /// accounts it offers.
    pub async fn form_view(
        &self,
        applicant_id: i64,
        form: ApplicationForm,
        resubmission: bool,
    ) -> Result<FormView, AppError> {
        let accounts = self.store.billing_accounts_of(applicant_id).await?;
        Ok(FormView {
            form,
            rules: self.rules().clone(),
            billing_balances: accounts.iter().map(|(id, _, balance)| (*id, *balance)).collect(),
            billing_accounts: accounts.into_iter().map(|(id, name, _)| (id, name)).collect(),
            rates: self.settings.rates.at(chrono::Utc::now()),
            terms_version: TERMS_VERSION.to_owned(),
            resubmission,
            today: today(),
        })
    }

    /// Saves the form as a draft, or submits it (`form.intent == "submit"`); returns the application's id.
    pub async fn save(&self, user: &User, form: &ApplicationForm, request: &RequestInfo) -> Result<i64, AppError> {
        require_signed_up(user)?;
        let strictness = match form.intent.as_str() {
            "submit" => Strictness::Submit,
            "save" | "" => Strictness::Draft,
            _ => return Err(AppError::invalid("intent", "Choose Save draft or Submit.")),
        };
        let id = parse_number(&form.id, "id")?;
        let fields = check_application(&form.input, self.rules(), today(), strictness).map_err(into_app_error)?;
        if let Some(crate::applications::model::BillingChoice::Existing(account_id)) = &fields.billing {
            let accounts = self.store.billing_accounts_of(user.id).await?;
            if !accounts.iter().any(|(id, _, _)| id == account_id) {
                return Err(AppError::invalid("billing", "Choose one of your billing accounts, or ask for a new one."));
            }
        }
        if let Some(name) = &fields.project_name
            && self.store.name_taken(name.as_str(), id).await?
        {
            return Err(name_taken(name.as_str()));
        }
        let event = NewEvent { actor_id: user.id, actor: user.audit_name(), by_admin: false, message: String::new() };
        let (id, version, state) = match id {
            None => {
                let key = form.draft_key.trim();
                if key.is_empty() || key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(AppError::Conflict {
                        message: "This form is out of date. Reload the page and fill it in again.".to_owned(),
                    });
                }
                let audit = audit(user, "application.save", "application:new", request, saved_details(&fields));
                let (id, version) = self.store.save_new_draft(user.id, key, &fields, &event, &audit).await?;
                (id, version, ApplicationState::Draft)
            }
            Some(id) => {
                let record = self.own(user, id).await?;
                let version = parse_number(&form.version, "version")?.unwrap_or(record.version);
                if !record.state.is_editable() {
                    return Err(self.stale(&record));
                }
                if strictness == Strictness::Submit {
                    // Submitting writes the fields with the state: one change, one event.
                    (id, version, record.state)
                } else {
                    let audit = audit(user, "application.save", &target(id), request, saved_details(&fields));
                    match self.store.save_changes(id, user.id, version, &fields, &event, &audit).await? {
                        ChangeOutcome::Done { version, .. } => (id, version, record.state),
                        other => return Err(self.refused(other, fields.project_name.as_ref().map(|n| n.as_str()))),
                    }
                }
            }
        };
        if strictness == Strictness::Submit {
            self.submit(user, id, version, state, fields, request).await?;
        }
        Ok(id)
    }

    async fn submit(
        &self,
        user: &User,
        id: i64,
        version: i64,
        from: ApplicationState,
        fields: ApplicationFields,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let to = next_state(from, Transition::Submit, Actor::Applicant).map_err(|error| conflict(&error))?;
        let name = fields.project_name.as_ref().map_or_else(String::new, |name| name.as_str().to_owned());
        let resubmitted = from == ApplicationState::ChangesRequested;
        let notice = MailNotice {
            subject: format!("{} application: {name}", if resubmitted { "Resubmitted" } else { "New" }),
            paragraphs: vec![
                format!(
                    "{} {} an application for the project {name}: {}.",
                    user.audit_name(),
                    if resubmitted { "changed and resubmitted" } else { "submitted" },
                    fields.title
                ),
                format!("Requested quota: {}.", quota_words(&fields.quota)),
            ],
            path: format!("/admin/applications/{id}"),
            link_label: "Review the application".to_owned(),
        };
        let mail = self.mail_to(self.store.admins_mailed_each().await?, Some(user), &notice);
        let change = TransitionChange {
            application_id: id,
            transition: Transition::Submit,
            from,
            to,
            version,
            event: NewEvent { actor_id: user.id, actor: user.audit_name(), by_admin: false, message: String::new() },
            audit: audit(user, "application.submit", &target(id), request, saved_details(&fields)),
            submitted: Some((fields, TERMS_VERSION.to_owned())),
            project: None,
            mail,
        };
        match self.store.transition(&change).await? {
            ChangeOutcome::Done { .. } => Ok(()),
            other => Err(self.refused(other, Some(&name))),
        }
    }

    /// The applicant withdraws their application.
    pub async fn withdraw(&self, user: &User, id: i64, version: i64, request: &RequestInfo) -> Result<(), AppError> {
        let record = self.own(user, id).await?;
        let to = next_state(record.state, Transition::Withdraw, Actor::Applicant).map_err(|_| self.stale(&record))?;
        let mail = match &record.assigned_to {
            Some((_, admin)) => self.mail_to(
                vec![admin.clone()],
                Some(user),
                &self.notice_for_admin(&record, "Application withdrawn", "withdrew the application", ""),
            ),
            None => Vec::new(),
        };
        let change = TransitionChange {
            application_id: id,
            transition: Transition::Withdraw,
            from: record.state,
            to,
            version,
            event: NewEvent { actor_id: user.id, actor: user.audit_name(), by_admin: false, message: String::new() },
            submitted: None,
            project: None,
            mail,
            audit: audit(user, "application.withdraw", &target(id), request, serde_json::json!({})),
        };
        match self.store.transition(&change).await? {
            ChangeOutcome::Done { .. } => Ok(()),
            other => Err(self.refused(other, None)),
        }
    }

    /// An admin decides (or asks for changes) on the version of the application they saw.
    pub async fn decide(
        &self,
        admin: &User,
        id: i64,
        version: i64,
        decision: Decision,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let record = self.store.application(id).await?.ok_or(AppError::NotFound)?;
        let (transition, message, field) = match &decision {
            Decision::Approve { reason, .. } => (Transition::Approve, reason, "reason"),
            Decision::Reject { reason } => (Transition::Reject, reason, "reason"),
            Decision::RequestChanges { message } => (Transition::RequestChanges, message, "message"),
        };
        let message = crate::applications::model::clean_text(message, MESSAGE_MAX, true)
            .map_err(|error| AppError::invalid(field, error))?;
        let to = next_state(record.state, transition, Actor::Admin).map_err(|_| self.stale(&record))?;
        let requested = record.fields.quota;
        let mut project = None;
        let mut details = serde_json::json!({ "reason": message });
        let (subject, paragraphs) = match &decision {
            Decision::Approve { quota, .. } => {
                let granted = self.granted_quota(quota)?;
                if granted != requested && message.is_empty() {
                    return Err(AppError::invalid("reason", "Say why the granted quota differs from the request."));
                }
                let (Some(name), Some(end_date)) = (record.fields.project_name.clone(), record.fields.end_date) else {
                    return Err(AppError::Conflict { message: "This application is incomplete.".to_owned() });
                };
                details = serde_json::json!({
                    "reason": message, "project": name.as_str(),
                    "requested": quota_words(&requested), "granted": quota_words(&granted),
                });
                project = Some(NewProject {
                    name: name.as_str().to_owned(),
                    owner_id: record.applicant_id,
                    title: record.fields.title.clone(),
                    organisation: record.fields.organisation.clone(),
                    end_date,
                    quota: granted,
                    billing_account_id: billing_columns(record.fields.billing.as_ref()).0,
                });
                let mut paragraphs = vec![format!(
                    "Your application for the project {name} was approved. The project is being set up on the \
                     cluster."
                )];
                if granted == requested {
                    paragraphs.push(format!("Granted quota: {}.", quota_words(&granted)));
                } else {
                    paragraphs.push(format!("You asked for: {}.", quota_words(&requested)));
                    paragraphs.push(format!("Granted: {}.", quota_words(&granted)));
                    paragraphs.push(format!("Why: {message}"));
                }
                (format!("Approved: {name}"), paragraphs)
            }
            Decision::Reject { .. } | Decision::RequestChanges { .. } if message.is_empty() => {
                let words = if transition == Transition::Reject {
                    "Give the reason for the rejection; the applicant sees it."
                } else {
                    "Say what should change; the applicant sees it."
                };
                return Err(AppError::invalid(field, words));
            }
            Decision::Reject { .. } => (
                format!("Not approved: {}", project_name(&record)),
                vec![
                    format!("Your application for the project {} was not approved.", project_name(&record)),
                    format!("Reason: {message}"),
                ],
            ),
            Decision::RequestChanges { .. } => (
                format!("Changes requested: {}", project_name(&record)),
                vec![
                    format!(
                        "An admin asked for changes to your application for the project {}:",
                        project_name(&record)
                    ),
                    message.clone(),
                    "Edit the application and submit it again.".to_owned(),
                ],
            ),
        };
        let notice = MailNotice {
            subject,
            paragraphs,
            path: format!("/applications/{id}"),
            link_label: "See the application".to_owned(),
        };
        let mail = self.mail_to(record.applicant_email.iter().cloned().collect(), None, &notice);
        let change = TransitionChange {
            application_id: id,
            transition,
            from: record.state,
            to,
            version,
            event: NewEvent { actor_id: admin.id, actor: admin.audit_name(), by_admin: true, message },
            submitted: None,
            project,
            mail,
            audit: audit(admin, &format!("application.{}", transition.as_str()), &target(id), request, details),
        };
        match self.store.transition(&change).await? {
            ChangeOutcome::Done { .. } => Ok(()),
            other => Err(self.refused(other, record.fields.project_name.as_ref().map(|name| name.as_str()))),
        }
    }

    fn granted_quota(&self, texts: &[String; 5]) -> Result<Quota, AppError> {
        check_quota(texts, self.rules()).map_err(into_app_error)
    }

    /// Adds a comment by the applicant or an admin; the other side is told by mail.
    pub async fn comment(&self, user: &User, id: i64, text: &str, request: &RequestInfo) -> Result<(), AppError> {
        let record = self.visible(user, id).await?;
        let message = required_text(text, MESSAGE_MAX, true).map_err(|error| AppError::invalid("message", error))?;
        let by_admin = user.role == Role::Admin && user.id != record.applicant_id;
        let mail = if by_admin {
            let notice = MailNotice {
                subject: format!("New comment on your application: {}", project_name(&record)),
                paragraphs: vec![
                    format!(
                        "{} commented on your application for the project {}:",
                        user.audit_name(),
                        project_name(&record)
                    ),
                    message.clone(),
                ],
                path: format!("/applications/{id}"),
                link_label: "Reply on the application page".to_owned(),
            };
            self.mail_to(record.applicant_email.iter().cloned().collect(), Some(user), &notice)
        } else {
            let to: Vec<String> = record.assigned_to.iter().map(|(_, email)| email.clone()).collect();
            self.mail_to(to, Some(user), &self.notice_for_admin(&record, "New comment", "commented", &message))
        };
        let event = NewEvent { actor_id: user.id, actor: user.audit_name(), by_admin, message };
        let audit = audit(user, "application.comment", &target(id), request, serde_json::json!({}));
        if self.store.comment(id, &event, &mail, &audit).await? { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// An admin takes an application, so that the others see who reviews it.
    pub async fn take(&self, admin: &User, id: i64, request: &RequestInfo) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let event = NewEvent { actor_id: admin.id, actor: admin.audit_name(), by_admin: true, message: String::new() };
        let audit = audit(admin, "application.take", &target(id), request, serde_json::json!({}));
        if self.store.take(id, &event, &audit).await? { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// One application as `user` may see it: their own, or any for an admin; anything else is not found.
    pub async fn view(&self, user: &User, id: i64) -> Result<ApplicationView, AppError> {
        let record = self.visible(user, id).await?;
        let is_admin = user.role == Role::Admin;
        let is_applicant = record.applicant_id == user.id;
        let events = self.store.events(id).await?;
        let (other_applications, applicant_projects) = if is_admin {
            let others = self.store.applications_of(record.applicant_id).await?;
            let others = others.into_iter().filter(|row| row.id != id && row.state != ApplicationState::Draft);
            (others.collect(), self.store.projects_of(record.applicant_id).await?)
        } else {
            (Vec::new(), Vec::new())
        };
        let form = (is_applicant && record.state.is_editable()).then(|| {
            let form = ApplicationForm {
                id: record.id.to_string(),
                version: record.version.to_string(),
                draft_key: String::new(),
                intent: String::new(),
                input: ApplicationInput::from_fields(&record.fields),
            };
            (form, record.state == ApplicationState::ChangesRequested)
        });
        let form = match form {
            Some((form, resubmission)) => Some(self.form_view(record.applicant_id, form, resubmission).await?),
            None => None,
        };
        Ok(ApplicationView {
            id: record.id,
            state: record.state,
            version: record.version,
            applicant: match (&record.applicant_name, &record.applicant_email) {
                (Some(name), Some(email)) => format!("{name} <{email}>"),
                (name, email) => {
                    name.clone().or(email.clone()).unwrap_or_else(|| format!("user {}", record.applicant_id))
                }
            },
            applicant_id: record.applicant_id,
            fields: record.fields,
            terms_version: record.terms_version,
            assigned_to: record.assigned_to.map(|(_, email)| email),
            decided: record.decided,
            decision_reason: record.decision_reason,
            project: record.project,
            events,
            created_at: record.created_at,
            updated_at: record.updated_at,
            submitted_at: record.submitted_at,
            viewer_is_applicant: is_applicant,
            viewer_is_admin: is_admin,
            rules: self.rules().clone(),
            form,
            other_applications,
            applicant_projects,
        })
    }

    /// The user's applications, last changed first.
    pub async fn mine(&self, user: &User) -> Result<Vec<ApplicationSummaryRow>, AppError> {
        Ok(self.store.applications_of(user.id).await?)
    }

    /// One page of the admins' queue.
    pub async fn queue(&self, admin: &User, query: &QueueQuery) -> Result<QueuePage, AppError> {
        crate::auth::ssr::require_admin(admin)?;
        let state = match query.state.trim() {
            "" => None,
            // Drafts are the applicants' own until submitted.
            text => Some(
                ApplicationState::parse(text)
                    .filter(|state| *state != ApplicationState::Draft)
                    .ok_or_else(|| AppError::invalid("state", "Choose a state from the list."))?,
            ),
        };
        let sort = match query.sort.trim() {
            "" | "age" => QueueSort::Age,
            "name" => QueueSort::Name,
            _ => return Err(AppError::invalid("sort", "Sort by age or by name.")),
        };
        let text = |text: &str| Some(text.trim().chars().take(200).collect::<String>()).filter(|text| !text.is_empty());
        let filter = QueueFilter {
            state,
            organisation: text(&query.organisation),
            applicant: text(&query.applicant),
            search: text(&query.q),
            sort,
            after: query.after_id.zip(text(&query.after)).map(|(id, key)| (key, id)),
        };
        let mut rows = self.store.queue(&filter, QUEUE_PAGE + 1).await?;
        let next = (rows.len() > QUEUE_PAGE as usize).then(|| {
            rows.truncate(QUEUE_PAGE as usize);
            let last = rows.last().expect("a full page has a last row");
            let after = match sort {
                QueueSort::Age => last.submitted_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
                QueueSort::Name => last.project_name.clone(),
            };
            QueueQuery { after, after_id: Some(last.id), ..query.clone() }
        });
        Ok(QueuePage { rows, next, default_quota: self.rules().default_quota, now: Utc::now() })
    }

    /// How many applications wait for a decision, at most [`WAITING_SHOWN_UP_TO`] (which the header shows as
    /// "100+"); `None` for anyone but an admin.
    pub async fn waiting_count(&self, user: &User) -> Result<Option<i64>, AppError> {
        if user.role != Role::Admin {
            return Ok(None);
        }
        Ok(Some(self.store.waiting_count(WAITING_SHOWN_UP_TO).await?))
    }

    /// Whether `user` gets one daily digest instead of a message per application.
    pub async fn wants_digest(&self, user: &User) -> Result<bool, AppError> {
        Ok(self.store.application_mail_daily(user.id).await?)
    }

    /// Records `user`'s choice between a message per application and the daily digest (admins only).
    pub async fn set_digest(&self, user: &User, daily: bool, request: &RequestInfo) -> Result<(), AppError> {
        crate::auth::ssr::require_admin(user)?;
        let audit = audit(
            user,
            "user.application_mail",
            &format!("user:{}", user.id),
            request,
            serde_json::json!({ "mail": if daily { "daily" } else { "each" } }),
        );
        Ok(self.store.set_application_mail_daily(user.id, daily, &audit).await?)
    }

    /// Queues the day's digest for the admins who chose it, once per day whichever process gets there first;
    /// returns whether this call queued it. Before the configured hour it does nothing.
    pub async fn send_daily_digest(&self, now: DateTime<Utc>) -> Result<bool, AppError> {
        if now.hour() < self.settings.digest_hour_utc {
            return Ok(false);
        }
        let admins = self.store.admins_mailed_daily().await?;
        let waiting = self.store.waiting_count(i64::MAX).await?;
        let mail = if admins.is_empty() || waiting == 0 {
            Vec::new()
        } else {
            let rows = self.store.queue(&QueueFilter::default(), DIGEST_ROWS).await?;
            let mut paragraphs = vec![format!(
                "{waiting} application{} wait{} for a decision. The oldest:",
                if waiting == 1 { "" } else { "s" },
                if waiting == 1 { "s" } else { "" }
            )];
            paragraphs.extend(rows.iter().map(|row| {
                let age = row.submitted_at.map(|at| crate::applications::view::age(at, now)).unwrap_or_default();
                format!("{} ({}), from {}, waiting {age}", row.project_name, row.title, row.applicant)
            }));
            let notice = MailNotice {
                subject: format!("{waiting} application{} waiting", if waiting == 1 { "" } else { "s" }),
                paragraphs,
                path: "/admin/applications".to_owned(),
                link_label: "Open the queue".to_owned(),
            };
            self.mail_to(admins, None, &notice)
        };
        Ok(self.store.run_once(DIGEST_RUN, &now.date_naive().to_string(), &mail, now).await?)
    }

    /// The application, if `user` applied for it.
    async fn own(&self, user: &User, id: i64) -> Result<ApplicationRecord, AppError> {
        match self.store.application(id).await? {
            Some(record) if record.applicant_id == user.id => Ok(record),
            _ => Err(AppError::NotFound),
        }
    }

    /// The application, if `user` applied for it or is an admin; to anyone else it does not exist.
    async fn visible(&self, user: &User, id: i64) -> Result<ApplicationRecord, AppError> {
        match self.store.application(id).await? {
            Some(record) if record.applicant_id == user.id || user.role == Role::Admin => Ok(record),
            _ => Err(AppError::NotFound),
        }
    }

    /// The error for a change the store refused.
    fn refused(&self, outcome: ChangeOutcome, name: Option<&str>) -> AppError {
        match outcome {
            ChangeOutcome::Done { .. } => {
                crate::error::report_internal(&Unexpected("a refused change reported as done"))
            }
            ChangeOutcome::Stale(record) => self.stale(&record),
            ChangeOutcome::NameTaken => name_taken(name.unwrap_or_default()),
            ChangeOutcome::NotFound => AppError::NotFound,
        }
    }

    /// What to tell someone whose change came too late: who decided and when, or that the page is out of date.
    fn stale(&self, now: &ApplicationRecord) -> AppError {
        let message = match (&now.decided, now.state) {
            (Some((who, at)), state) if state.is_final() || state == ApplicationState::ChangesRequested => format!(
                "This application was already {} by {who} on {} UTC. Reload the page to see it.",
                state_verb(state),
                at.format("%-d %B %Y at %H:%M")
            ),
            (_, state) => format!(
                "This application changed since you opened the page; it is now {}. Reload the page and try again.",
                state.label().to_lowercase()
            ),
        };
        AppError::Conflict { message }
    }

    fn notice_for_admin(&self, record: &ApplicationRecord, subject: &str, did: &str, message: &str) -> MailNotice {
        let mut paragraphs = vec![format!(
            "{} {did} on the application for the project {}.",
            record.applicant_email.as_deref().unwrap_or("The applicant"),
            project_name(record)
        )];
        if !message.is_empty() {
            paragraphs.push(message.to_owned());
        }
        MailNotice {
            subject: format!("{subject}: {}", project_name(record)),
            paragraphs,
            path: format!("/admin/applications/{}", record.id),
            link_label: "Open the application".to_owned(),
        }
    }

    /// One message per address, leaving out the person who acted (they know).
    fn mail_to(&self, to: Vec<String>, except: Option<&User>, notice: &MailNotice) -> Vec<OutgoingMail> {
        let except = except.and_then(|user| user.email.as_ref());
        to.iter()
            .filter_map(|address| EmailAddress::parse(address).ok())
            .filter(|address| Some(address) != except)
            .map(|address| self.mail.notice(&address, notice))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Unexpected(&'static str);

/// Applying needs a completed sign-up (name, organisation, current terms).
fn require_signed_up(user: &User) -> Result<(), AppError> {
    if user.needs_sign_up() { Err(AppError::Forbidden) } else { Ok(()) }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn new_draft_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn parse_number(text: &str, field: &str) -> Result<Option<i64>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| AppError::invalid(field, "This form is out of date; reload the page."))
}

fn name_taken(name: &str) -> AppError {
    AppError::invalid(
        "project_name",
        format!("The name \"{name}\" is taken by another project or application; choose another."),
    )
}

fn conflict(error: &dyn std::fmt::Display) -> AppError {
    AppError::Conflict { message: format!("This cannot be done now: {error}. Reload the page.") }
}

fn target(id: i64) -> String {
    format!("application:{id}")
}

fn project_name(record: &ApplicationRecord) -> String {
    record.fields.project_name.as_ref().map_or_else(|| "(unnamed)".to_owned(), |name| name.as_str().to_owned())
}

fn state_verb(state: ApplicationState) -> &'static str {
    match state {
        ApplicationState::Approved => "approved",
        ApplicationState::Rejected => "rejected",
        ApplicationState::Withdrawn => "withdrawn",
        ApplicationState::ChangesRequested => "sent back for changes",
        ApplicationState::Submitted => "submitted",
        ApplicationState::Draft => "saved as a draft",
    }
}

/// The quota in words: "4 CPU cores, 16 GiB memory, 100 GiB storage, 50 pods, 0 GPUs".
pub fn quota_words(quota: &Quota) -> String {
    format!(
        "{} CPU cores, {} GiB memory, {} GiB storage, {} pods, {} GPUs",
        quota.cpu_cores, quota.memory_gib, quota.storage_gib, quota.pods, quota.gpus
    )
}

fn saved_details(fields: &ApplicationFields) -> serde_json::Value {
    serde_json::json!({
        "project_name": fields.project_name.as_ref().map(|name| name.as_str()),
        "quota": quota_words(&fields.quota),
    })
}

fn audit(user: &User, action: &str, target: &str, request: &RequestInfo, details: serde_json::Value) -> NewAuditEntry {
    NewAuditEntry::by(user, action, target.to_owned(), request).with_details(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_read_as_words() {
        assert_eq!(quota_words(&Quota::STANDARD), "4 CPU cores, 16 GiB memory, 100 GiB storage, 50 pods, 0 GPUs");
    }

    #[test]
    fn form_numbers_are_optional_but_must_be_numbers() {
        assert_eq!(parse_number(" ", "id").unwrap(), None);
        assert_eq!(parse_number("42", "id").unwrap(), Some(42));
        assert!(parse_number("4x", "version").unwrap_err().for_field("version").is_some());
    }
}
