//! Server side of feedback: the store contract and the service (submission with a per-user limit, the user's list,
//! the admins' triage with a mailed reply, turning a report into a known issue).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::{AdminFeedback, FeedbackForm, FeedbackItem, FeedbackKind, FeedbackPage, FeedbackStatus, TriageForm};
use crate::auth::ssr::{MailNotice, MailRenderer, NewAuditEntry, OutgoingMail, RequestInfo, User, require_admin};
use crate::email::EmailAddress;
use crate::error::{AppError, StoreError};
use crate::status::ssr::{StatusService, optional_text_field, text_field};

/// Reports and suggestions one user may send per [`FEEDBACK_WINDOW`].
pub const FEEDBACK_PER_WINDOW: u32 = 5;
/// The window of the limit.
pub const FEEDBACK_WINDOW: Duration = Duration::hours(1);
/// The most items the admins' list shows at once.
pub const QUEUE_LIMIT: u32 = 200;

/// Feedback to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeedback {
    /// Who sends it.
    pub author_id: i64,
    /// Problem or suggestion.
    pub kind: FeedbackKind,
    /// What it says.
    pub body: String,
    /// Where (a path of the site, or what the user typed).
    pub page: String,
    /// The component it concerns.
    pub component_id: Option<i64>,
}

/// Stored feedback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackRecord {
    /// Id.
    pub id: i64,
    /// Who sent it: display name or address.
    pub author: String,
    /// The sender's address, if the account has one.
    pub author_email: Option<String>,
    /// Problem or suggestion.
    pub kind: FeedbackKind,
    /// What it says.
    pub body: String,
    /// Where.
    pub page: String,
    /// The component it concerns: id and name.
    pub component: Option<(i64, String)>,
    /// Triage state.
    pub status: FeedbackStatus,
    /// The admins' reply.
    pub reply: Option<String>,
    /// The known issue it became.
    pub known_issue_id: Option<i64>,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
}

/// A triage decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackTriage {
    /// The feedback.
    pub id: i64,
    /// Its new state.
    pub status: FeedbackStatus,
    /// The reply (`None`: none).
    pub reply: Option<String>,
    /// Whether the reply is new or changed (it is then stamped and mailed).
    pub reply_changed: bool,
}

/// Storage of feedback.
#[async_trait]
pub trait FeedbackStore: Send + Sync + 'static {
    /// Stores `feedback` with `audit` unless its author sent `limit` or more since `since` (`None`). Returns its id.
    async fn submit_feedback(
        &self,
        feedback: &NewFeedback,
        since: DateTime<Utc>,
        limit: u32,
        audit: &NewAuditEntry,
    ) -> Result<Option<i64>, StoreError>;

    /// What `author_id` sent, newest first.
    async fn feedback_of(&self, author_id: i64) -> Result<Vec<FeedbackRecord>, StoreError>;

    /// Up to `limit` items in `status` (or any), newest first.
    async fn feedback_queue(
        &self,
        status: Option<FeedbackStatus>,
        limit: u32,
    ) -> Result<Vec<FeedbackRecord>, StoreError>;

    /// One item.
    async fn feedback_by_id(&self, id: i64) -> Result<Option<FeedbackRecord>, StoreError>;

    /// Records `triage` with `audit`, queueing `mail` in the same transaction. Returns whether the item exists.
    async fn triage_feedback(
        &self,
        triage: &FeedbackTriage,
        mail: Option<&OutgoingMail>,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError>;
}

/// Feedback: what users send and how admins answer it.
pub struct FeedbackService {
    store: Arc<dyn FeedbackStore>,
    status: Arc<StatusService>,
    mail: Arc<dyn MailRenderer>,
}

impl std::fmt::Debug for FeedbackService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedbackService").finish_non_exhaustive()
    }
}

impl FeedbackService {
    /// A service over `store`; components come from `status`, which also adds known issues.
    pub fn new(store: Arc<dyn FeedbackStore>, status: Arc<StatusService>, mail: Arc<dyn MailRenderer>) -> Self {
        Self { store, status, mail }
    }

    /// The user's feedback page: what they sent and the components to choose from.
    pub async fn page(&self, user: &User) -> Result<FeedbackPage, AppError> {
        let mine = self.store.feedback_of(user.id).await?.into_iter().map(item).collect();
        Ok(FeedbackPage { mine, components: self.status.component_choices().await? })
    }

    /// Stores a report or suggestion from `user`, at most [`FEEDBACK_PER_WINDOW`] an hour.
    pub async fn submit(&self, user: &User, form: &FeedbackForm, request: &RequestInfo) -> Result<i64, AppError> {
        let kind =
            FeedbackKind::parse(&form.kind).map_err(|_| AppError::invalid("kind", "Choose a problem or a suggestion."));
        let body = text_field("body", &form.body, 4000);
        let page = optional_text_field("page", &form.page, 300);
        let component = match form.component.trim() {
            "" => Ok(None),
            text => match text.parse::<i64>() {
                Ok(id) if self.status.component_choices().await?.iter().any(|(known, _)| *known == id) => Ok(Some(id)),
                _ => Err(AppError::invalid("component", "Choose a component from the list, or none.")),
            },
        };
        let (kind, body, page, component_id) = match (kind, body, page, component) {
            (Ok(kind), Ok(body), Ok(page), Ok(component)) => (kind, body, page, component),
            (a, b, c, d) => {
                return Err(AppError::from_fields([a.err(), b.err(), c.err(), d.err()].into_iter().flatten()));
            }
        };
        let feedback = NewFeedback { author_id: user.id, kind, body, page, component_id };
        let audit = NewAuditEntry::by(user, "feedback.create", "feedback:new".to_owned(), request)
            .with_details(serde_json::json!({ "kind": kind.as_str() }));
        let since = audit.at - FEEDBACK_WINDOW;
        self.store.submit_feedback(&feedback, since, FEEDBACK_PER_WINDOW, &audit).await?.ok_or(AppError::RateLimited {
            retry_after_minutes: u32::try_from(FEEDBACK_WINDOW.num_minutes()).unwrap_or(60),
        })
    }

    /// The admins' list, optionally of one state (admins only).
    pub async fn queue(&self, admin: &User, status: Option<FeedbackStatus>) -> Result<Vec<AdminFeedback>, AppError> {
        require_admin(admin)?;
        let records = self.store.feedback_queue(status, QUEUE_LIMIT).await?;
        Ok(records
            .into_iter()
            .map(|record| AdminFeedback {
                author: record.author.clone(),
                known_issue_id: record.known_issue_id,
                item: item(record),
            })
            .collect())
    }

    /// Sets an item's state and reply; a new or changed reply is mailed to its author (admins only).
    pub async fn triage(&self, admin: &User, form: &TriageForm, request: &RequestInfo) -> Result<(), AppError> {
        require_admin(admin)?;
        let status = FeedbackStatus::parse(&form.status).map_err(|_| AppError::invalid("status", "Choose a state."))?;
        let reply = optional_text_field("reply", &form.reply, 4000)?;
        let record = self.store.feedback_by_id(form.id).await?.ok_or(AppError::NotFound)?;
        let reply = (!reply.is_empty()).then_some(reply);
        let reply_changed = reply.is_some() && reply != record.reply;
        let mail = match (&reply, reply_changed, record.author_email.as_deref().map(EmailAddress::parse)) {
            (Some(text), true, Some(Ok(to))) => Some(self.mail.notice(
                &to,
                &MailNotice {
                    subject: format!("Reply to your {}", record.kind.noun()),
                    paragraphs: vec![
                        format!("You wrote: {}", excerpt(&record.body)),
                        format!("The Berth team replied ({}): {text}", status.label().to_lowercase()),
                    ],
                    path: "/feedback".to_owned(),
                    link_label: "See your feedback".to_owned(),
                },
            )),
            _ => None,
        };
        let triage = FeedbackTriage { id: record.id, status, reply, reply_changed };
        let audit = NewAuditEntry::by(admin, "feedback.triage", format!("feedback:{}", record.id), request)
            .with_details(serde_json::json!({ "status": status.as_str(), "replied": reply_changed }));
        if self.store.triage_feedback(&triage, mail.as_ref(), &audit).await? { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// Adds a known issue from a report (title from its first line, its text as the description, its component) and
    /// links the two (admins only).
    pub async fn to_known_issue(&self, admin: &User, id: i64, request: &RequestInfo) -> Result<(), AppError> {
        require_admin(admin)?;
        let record = self.store.feedback_by_id(id).await?.ok_or(AppError::NotFound)?;
        if let Some(issue) = record.known_issue_id {
            return Err(AppError::Conflict { message: format!("This is known issue #{issue} already.") });
        }
        let first_line = record.body.lines().next().unwrap_or_default().trim();
        let title: String = first_line.chars().take(120).collect();
        let issue = crate::status::content::ContentIssue {
            id: 0,
            title: if title.is_empty() { format!("Reported {}", record.kind.noun()) } else { title },
            description: record.body.chars().take(4000).collect(),
            status: crate::status::model::IssueStatus::Investigating,
            workaround: None,
            component_ids: record.component.iter().map(|(id, _)| *id).collect(),
        };
        crate::status::editor::ssr::add_issue_from_feedback(&self.status, admin, issue, id, request).await
    }
}

fn excerpt(text: &str) -> String {
    let short: String = text.chars().take(300).collect();
    if short.len() < text.len() { format!("{short}…") } else { short }
}

fn item(record: FeedbackRecord) -> FeedbackItem {
    FeedbackItem {
        id: record.id,
        kind: record.kind,
        body: record.body,
        page: record.page,
        component: record.component.map(|(_, name)| name),
        status: record.status,
        reply: record.reply,
        sent: crate::status::moment_words(record.created_at),
    }
}
