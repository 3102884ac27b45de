//! Feedback from users: a signed-in user reports a problem or makes a suggestion from any page (the footer links to
//! `/feedback` with the page they were on); admins triage it under `/admin/feedback` (new, acknowledged, planned,
//! declined, done) with a reply the user sees and is mailed, and can turn a report into a known issue.

#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::components::{ErrorNotice, FieldError, field_message, other_error};
use crate::error::AppError;

/// What kind of feedback it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// Something does not work.
    Problem,
    /// An idea.
    Suggestion,
}

impl FeedbackKind {
    /// Every kind, in the order forms offer them.
    pub const ALL: [FeedbackKind; 2] = [FeedbackKind::Problem, FeedbackKind::Suggestion];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Problem => "problem",
            FeedbackKind::Suggestion => "suggestion",
        }
    }

    /// From the stored form.
    pub fn parse(text: &str) -> Result<Self, crate::status::model::ParseError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| crate::status::model::ParseError::new("feedback kind", text))
    }

    /// "problem report" or "suggestion".
    pub fn noun(self) -> &'static str {
        match self {
            FeedbackKind::Problem => "problem report",
            FeedbackKind::Suggestion => "suggestion",
        }
    }
}

/// Where feedback stands after triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackStatus {
    /// Not looked at yet.
    New,
    /// Seen and understood.
    Acknowledged,
    /// Will be done.
    Planned,
    /// Will not be done.
    Declined,
    /// Done.
    Done,
}

impl FeedbackStatus {
    /// Every state, in triage order.
    pub const ALL: [FeedbackStatus; 5] = [
        FeedbackStatus::New,
        FeedbackStatus::Acknowledged,
        FeedbackStatus::Planned,
        FeedbackStatus::Declined,
        FeedbackStatus::Done,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackStatus::New => "new",
            FeedbackStatus::Acknowledged => "acknowledged",
            FeedbackStatus::Planned => "planned",
            FeedbackStatus::Declined => "declined",
            FeedbackStatus::Done => "done",
        }
    }

    /// From the stored form.
    pub fn parse(text: &str) -> Result<Self, crate::status::model::ParseError> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| crate::status::model::ParseError::new("feedback status", text))
    }

    /// The word users see.
    pub fn label(self) -> &'static str {
        match self {
            FeedbackStatus::New => "New",
            FeedbackStatus::Acknowledged => "Acknowledged",
            FeedbackStatus::Planned => "Planned",
            FeedbackStatus::Declined => "Declined",
            FeedbackStatus::Done => "Done",
        }
    }
}

/// The feedback form as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackForm {
    /// `problem` or `suggestion`.
    #[serde(default)]
    pub kind: String,
    /// What happened or what would help.
    #[serde(default)]
    pub body: String,
    /// Where: the page the user came from, editable.
    #[serde(default)]
    pub page: String,
    /// A component's id, or empty.
    #[serde(default)]
    pub component: String,
}

/// The admins' triage form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageForm {
    /// The feedback's id.
    #[serde(default)]
    pub id: i64,
    /// Its new state.
    #[serde(default)]
    pub status: String,
    /// The reply the user sees (and is mailed when it changes).
    #[serde(default)]
    pub reply: String,
}

/// Feedback as its author and the admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackItem {
    /// Id.
    pub id: i64,
    /// Problem or suggestion.
    pub kind: FeedbackKind,
    /// What it says.
    pub body: String,
    /// Where.
    pub page: String,
    /// The component's name.
    pub component: Option<String>,
    /// Triage state.
    pub status: FeedbackStatus,
    /// The admins' reply.
    pub reply: Option<String>,
    /// When it was sent, in words.
    pub sent: String,
}

/// Feedback on the admins' list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminFeedback {
    /// The item.
    pub item: FeedbackItem,
    /// Who sent it.
    pub author: String,
    /// The known issue it became.
    pub known_issue_id: Option<i64>,
}

/// The user's feedback page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackPage {
    /// What the user sent, newest first.
    pub mine: Vec<FeedbackItem>,
    /// Components to choose from: id and name.
    pub components: Vec<(i64, String)>,
}

#[cfg(feature = "ssr")]
use crate::ssr::{respond_with_error, signed_in, signed_in_admin};

/// The user's feedback and the components (signed-in users).
#[server(prefix = "/api", endpoint = "feedback_page")]
pub async fn get_feedback_page() -> Result<FeedbackPage, AppError> {
    let (state, auth, _) = signed_in()?;
    state.feedback.page(&auth.user).await.map_err(respond_with_error)
}

/// Sends a report or suggestion (signed-in users, a few an hour).
#[server(prefix = "/api", endpoint = "feedback_send")]
pub async fn send_feedback(form: FeedbackForm) -> Result<(), AppError> {
    let (state, auth, request) = signed_in()?;
    state.feedback.submit(&auth.user, &form, &request).await.map(|_| ()).map_err(respond_with_error)
}

/// The admins' list, of one state or all (admins only).
#[server(prefix = "/api", endpoint = "admin_feedback")]
pub async fn get_feedback_queue(status: Option<String>) -> Result<Vec<AdminFeedback>, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    let status = status.as_deref().and_then(|status| FeedbackStatus::parse(status).ok());
    state.feedback.queue(&auth.user, status).await.map_err(respond_with_error)
}

/// Triage: state and reply (admins only).
#[server(prefix = "/api", endpoint = "admin_feedback_triage")]
pub async fn triage_feedback(form: TriageForm) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.feedback.triage(&auth.user, &form, &request).await.map_err(respond_with_error)
}

/// Turns a report into a known issue (admins only).
#[server(prefix = "/api", endpoint = "admin_feedback_to_issue")]
pub async fn feedback_to_issue(id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.feedback.to_known_issue(&auth.user, id, &request).await.map_err(respond_with_error)
}

/// `/feedback`.
#[component]
pub fn FeedbackPageView() -> impl IntoView {
    let send = ServerAction::<SendFeedback>::new();
    let page = Resource::new_blocking(move || send.version().get(), |_| get_feedback_page());
    let query = use_query_map();
    let from = move || query.with(|query| query.get("from").unwrap_or_default());
    let error = move |field: &'static str| field_message(send, field);
    view! {
        <Title text="Feedback"/>
        <h1>"Report a problem or make a suggestion"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(FeedbackPage { mine, components }) => view! {
                        {move || send.value().get().map(|result| match result {
                            Ok(()) => view! { <p class="notice" role="status">"Thank you: the team will read it and reply here."</p> }.into_any(),
                            Err(AppError::Invalid { .. } | AppError::InvalidFields { .. }) => ().into_any(),
                            Err(error) => view! { <ErrorNotice error/> }.into_any(),
                        })}
                        <ActionForm action=send attr:class="stack card">
                            <fieldset>
                                <legend>"What is it?"</legend>
                                {FeedbackKind::ALL.into_iter().map(|kind| view! {
                                    <label class="check">
                                        <input type="radio" name="form[kind]" value=kind.as_str() checked=kind == FeedbackKind::Problem/>
                                        " " {if kind == FeedbackKind::Problem { "A problem" } else { "A suggestion" }}
                                    </label>
                                }).collect_view()}
                            </fieldset>
                            <label for="feedback-body">"What happened, or what would help?"</label>
                            <textarea id="feedback-body" name="form[body]" rows="5" required=true maxlength="4000"
                                aria-describedby="feedback-body-error"></textarea>
                            <FieldError id="feedback-body-error".to_owned() message=error("body")/>
                            <label for="feedback-page">"Where (the page you were on)"</label>
                            <input id="feedback-page" name="form[page]" maxlength="300" value=from aria-describedby="feedback-page-error"/>
                            <FieldError id="feedback-page-error".to_owned() message=error("page")/>
                            <label for="feedback-component">"Which part of the service (optional)"</label>
                            <select id="feedback-component" name="form[component]" aria-describedby="feedback-component-error">
                                <option value="">"Not sure, or none"</option>
                                {components.into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                            </select>
                            <FieldError id="feedback-component-error".to_owned() message=error("component")/>
                            <button type="submit">"Send"</button>
                        </ActionForm>
                        <h2>"What you sent"</h2>
                        {if mine.is_empty() {
                            view! { <p>"Nothing yet."</p> }.into_any()
                        } else {
                            mine.into_iter().map(|item| view! { <FeedbackCard item author=None/> }).collect_view().into_any()
                        }}
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn FeedbackCard(item: FeedbackItem, author: Option<String>) -> impl IntoView {
    let FeedbackItem { id, kind, body, page, component, status, reply, sent } = item;
    view! {
        <article class="card feedback" id=format!("feedback-{id}")>
            <p>
                <strong>{if kind == FeedbackKind::Problem { "Problem" } else { "Suggestion" }}</strong>
                " · " <span class=format!("badge feedback-{}", status.as_str())>{status.label()}</span>
                " · " <span class="hint">{sent} {author.map(|author| format!(" by {author}"))}</span>
            </p>
            <p class="prose-text">{body}</p>
            <p class="hint">
                {(!page.is_empty()).then(|| format!("Where: {page}. "))}
                {component.map(|component| format!("Component: {component}."))}
            </p>
            {reply.map(|reply| view! { <div class="reply"><strong>"Reply: "</strong><p class="prose-text">{reply}</p></div> })}
        </article>
    }
}

/// `/admin/feedback`.
#[component]
pub fn AdminFeedbackPage() -> impl IntoView {
    let triage = ServerAction::<TriageFeedback>::new();
    let convert = ServerAction::<FeedbackToIssue>::new();
    let query = use_query_map();
    let status = move || query.with(|query| query.get("status"));
    let items = Resource::new_blocking(
        move || (status(), triage.version().get(), convert.version().get()),
        |(status, _, _)| get_feedback_queue(status),
    );
    view! {
        <Title text="Feedback"/>
        <h1>"Feedback"</h1>
        <nav aria-label="Filter by state">
            <a href="/admin/feedback">"All"</a>
            {FeedbackStatus::ALL.into_iter().map(|status| view! {
                " · " <a href=format!("/admin/feedback?status={}", status.as_str())>{status.label()}</a>
            }).collect_view()}
        </nav>
        {move || other_error(triage)().map(|error| view! { <ErrorNotice error/> })}
        {move || other_error(convert)().map(|error| view! { <ErrorNotice error/> })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match items.await {
                    Ok(items) if items.is_empty() => view! { <p>"No feedback here."</p> }.into_any(),
                    Ok(items) => items.into_iter().map(|AdminFeedback { item, author, known_issue_id }| {
                        let (id, status, reply) = (item.id, item.status, item.reply.clone().unwrap_or_default());
                        view! {
                            <FeedbackCard item author=Some(author)/>
                            <ActionForm action=triage attr:class="stack">
                                <input type="hidden" name="form[id]" value=id.to_string()/>
                                <label for=format!("triage-{id}-status")>"State"</label>
                                <select id=format!("triage-{id}-status") name="form[status]">
                                    {FeedbackStatus::ALL.into_iter().map(|choice| view! {
                                        <option value=choice.as_str() selected=choice == status>{choice.label()}</option>
                                    }).collect_view()}
                                </select>
                                <label for=format!("triage-{id}-reply")>"Reply (the sender sees it and is mailed when it changes)"</label>
                                <textarea id=format!("triage-{id}-reply") name="form[reply]" rows="2" maxlength="4000">{reply}</textarea>
                                <button type="submit">"Save"</button>
                            </ActionForm>
                            {match known_issue_id {
                                Some(issue) => view! { <p><a href=format!("/status#issue-{issue}")>{format!("Known issue #{issue}")}</a></p> }.into_any(),
                                None => view! {
                                    <ActionForm action=convert attr:class="inline">
                                        <input type="hidden" name="id" value=id.to_string()/>
                                        <button type="submit">"Turn into a known issue"</button>
                                    </ActionForm>
                                }.into_any(),
                            }}
                        }
                    }).collect_view().into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
