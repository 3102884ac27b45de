//! The project page's parts for its later life: asking for another quota or a later end date (with the decision and
//! the rule that made it), admins deciding, closing and restoring; and the admins' queue of waiting requests,
//! `/admin/requests`. Every form posts without JavaScript too.

use leptos::prelude::*;
use leptos_meta::Title;

use super::api::{
    ApproveQuotaRequest, ApproveRenewalRequest, CloseProject, RejectRequest, RequestQuota, RequestRenewal,
    RestoreProject, WithdrawRequest, get_pending_requests,
};
use super::members::ProjectEventView;
use super::model::ProjectState;
use super::requests::{RequestKind, RequestState, RequestView};
use super::view::ProjectView;
use crate::applications::model::{Quota, RESOURCES};
use crate::billing::views::{ProjectBillingResource, QuotaCostPreview};
use crate::components::ErrorNotice;
use crate::error::AppError;

/// The actions of the requests and closing parts; the page reloads the project after each.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // Server actions have no Debug.
pub struct ChangeActions {
    /// Ask for another quota.
    pub quota: ServerAction<RequestQuota>,
    /// Ask for a later end date.
    pub renewal: ServerAction<RequestRenewal>,
    /// Withdraw a waiting request.
    pub withdraw: ServerAction<WithdrawRequest>,
    /// An admin approves a quota change.
    pub approve_quota: ServerAction<ApproveQuotaRequest>,
    /// An admin approves a renewal.
    pub approve_renewal: ServerAction<ApproveRenewalRequest>,
    /// An admin rejects a request.
    pub reject: ServerAction<RejectRequest>,
    /// Close the project.
    pub close: ServerAction<CloseProject>,
    /// An admin restores it.
    pub restore: ServerAction<RestoreProject>,
}

impl ChangeActions {
    /// New actions.
    pub fn new() -> Self {
        Self {
            quota: ServerAction::new(),
            renewal: ServerAction::new(),
            withdraw: ServerAction::new(),
            approve_quota: ServerAction::new(),
            approve_renewal: ServerAction::new(),
            reject: ServerAction::new(),
            close: ServerAction::new(),
            restore: ServerAction::new(),
        }
    }

    /// Changes whenever one of them completes.
    pub fn versions(&self) -> usize {
        self.quota.version().get()
            + self.renewal.version().get()
            + self.withdraw.version().get()
            + self.approve_quota.version().get()
            + self.approve_renewal.version().get()
            + self.reject.version().get()
            + self.close.version().get()
            + self.restore.version().get()
    }

    /// The last error of the actions whose forms have no fields of their own to show it by.
    fn error(&self) -> Option<AppError> {
        let by_field = |error: &AppError| matches!(error, AppError::Invalid { .. } | AppError::InvalidFields { .. });
        [
            self.withdraw.value().get(),
            self.restore.value().get(),
            self.approve_quota.value().get(),
            self.approve_renewal.value().get(),
            self.reject.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
        .or_else(|| {
            [
                self.quota.value().get().map(|result| result.map(|_| ())),
                self.renewal.value().get(),
                self.close.value().get(),
            ]
            .into_iter()
            .flatten()
            .find_map(Result::err)
            .filter(|error| !by_field(error))
        })
    }
}

impl Default for ChangeActions {
    fn default() -> Self {
        Self::new()
    }
}

/// The message for form field `field` in the last answer of `action`, if any.
fn field_message<S>(
    action: ServerAction<S>,
    field: &'static str,
) -> impl Fn() -> Option<String> + Copy + Send + Sync + 'static
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    move || action.value().get().and_then(Result::err).and_then(|error| error.for_field(field))
}

/// A field's error line, if any, with the id its input names in `aria-describedby`.
#[component]
fn FieldMessage(id: String, message: Signal<Option<String>>) -> impl IntoView {
    move || message.get().map(|message| view! { <p id=id.clone() class="field-error">{message}</p> })
}

/// A reason (or note) field: its label, the text area and its error line.
#[component]
fn ReasonField(id: String, label: &'static str, required: bool, message: Signal<Option<String>>) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <label for=id.clone()>{label}</label>
        <textarea id=id name="reason" rows="2" maxlength="1000" required=required
            aria-invalid=move || message.get().map(|_| "true") aria-describedby=error_id.clone()></textarea>
        <FieldMessage id=error_id message/>
    }
}

/// A request state as a badge: text and colour.
#[component]
pub fn RequestStateBadge(state: RequestState) -> impl IntoView {
    view! { <span class=format!("badge request-{}", state.as_str())>{state.label()}</span> }
}

/// A notice at the top of a closed project's page.
#[component]
pub fn ClosedNotice(project: ProjectView, actions: ChangeActions) -> impl IntoView {
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string());
    let restore = (project.viewer_is_admin && project.deleted_at.is_none()).then(|| {
        let name = project.name.clone();
        view! {
            <ActionForm action=actions.restore attr:class="inline">
                <input type="hidden" name="name" value=name/>
                <button type="submit">"Restore the project"</button>
            </ActionForm>
        }
    });
    view! {
        <div class="notice notice-warn" role="status">
            <h2>"Closed"</h2>
            <p class="prose-text">
                "This project was closed on " {when(project.closed_at).unwrap_or_default()}
                {project.close_reason.clone().map(|reason| format!(": {reason}"))} "."
            </p>
            {match (when(project.deleted_at), when(project.delete_after)) {
                (Some(deleted), _) => view! { <p>"Its namespace was deleted on " {deleted} "."</p> }.into_any(),
                (None, Some(after)) => view! {
                    <p>"Its quota is zero. Its namespace, with everything in it, is deleted after " {after}
                       "; until then an admin can restore the project."</p>
                }.into_any(),
                (None, None) => ().into_any(),
            }}
            {restore}
        </div>
    }
}

/// Quota changes and renewals: the forms for managers, the requests with their decisions, and admins' decisions.
#[component]
pub fn RequestsSection(project: ProjectView, actions: ChangeActions, billing: ProjectBillingResource) -> impl IntoView {
    let manages = project.viewer_manages();
    let name = project.name.clone();
    let quota_form = (manages && project.state == ProjectState::Active).then(|| {
        view! { <QuotaRequestForm project=project.clone() action=actions.quota billing/> }
    });
    let renewal_form =
        (manages && matches!(project.state, ProjectState::Active | ProjectState::Suspended)).then(|| {
            view! { <RenewalForm project=project.clone() action=actions.renewal/> }
        });
    let rules = project.quota_rules.clone();
    let requests = project.requests.clone();
    let events = project.events.clone();
    let is_admin = project.viewer_is_admin;
    view! {
        <section class="card" id="requests" aria-labelledby="requests-heading">
            <h2 id="requests-heading">"Quota and end date"</h2>
            {move || actions.error().map(|error| view! { <ErrorNotice error/> })}
            {quota_form}
            {renewal_form}
            <details>
                <summary>"How quota changes are decided"</summary>
                {if rules.is_empty() {
                    view! { <p>"An admin decides every quota change."</p> }.into_any()
                } else {
                    view! {
                        <p>"The first of these rules that applies approves a change at once; otherwise an admin decides."</p>
                        <ol>{rules.into_iter().map(|rule| view! { <li>{rule}</li> }).collect_view()}</ol>
                    }.into_any()
                }}
            </details>
            <h3>"Requests"</h3>
            {if requests.is_empty() {
                view! { <p>"No request yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="requests">
                        {requests.into_iter().map(|request| {
                            let timeline: Vec<ProjectEventView> =
                                events.iter().filter(|event| event.request_id == Some(request.id)).cloned().collect();
                            view! { <RequestItem request timeline name=name.clone() manages is_admin actions billing/> }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn QuotaRequestForm(
    project: ProjectView,
    action: ServerAction<RequestQuota>,
    billing: ProjectBillingResource,
) -> impl IntoView {
    let reason_error = field_message(action, "reason");
    let decided = move || action.value().get().and_then(Result::ok);
    let max = project.max_quota;
    // The quota as typed, for the cost preview; a field that does not read as a number counts as 0 until it does.
    let asked = RwSignal::new(project.quota);
    view! {
        <h3>"Ask for another quota"</h3>
        {move || decided().map(|explanation| view! {
            <div class="notice" role="status"><p class="prose-text">{explanation}</p></div>
        })}
        <ActionForm action=action attr:class="stack">
            <input type="hidden" name="name" value=project.name.clone()/>
            <table class="data quota">
                <thead><tr>
                    <th scope="col">"Resource"</th><th scope="col">"Now"</th><th scope="col">"Asked for"</th>
                    <th scope="col">"Most"</th>
                </tr></thead>
                <tbody>
                    {RESOURCES.into_iter().map(|resource| {
                        let field = resource.field();
                        let id = format!("quota-{field}");
                        let error_id = format!("{id}-error");
                        let message = field_message(action, field);
                        view! {
                            <tr>
                                <th scope="row"><label for=id.clone()>{resource.label()}</label></th>
                                <td>{project.quota.get(resource).to_string()}</td>
                                <td>
                                    <input id=id name=field type="number" inputmode="numeric" required=true
                                        min=resource.minimum().to_string() max=max.get(resource).to_string()
                                        value=project.quota.get(resource).to_string()
                                        aria-invalid=move || message().map(|_| "true")
                                        aria-describedby=error_id.clone()
                                        on:input=move |ev| asked.update(|quota| {
                                            quota.set(resource, event_target_value(&ev).trim().parse().unwrap_or(0));
                                        })/>
                                    <FieldMessage id=error_id message=Signal::derive(message)/>
                                </td>
                                <td>{max.get(resource).to_string()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <QuotaCostPreview billing quota=asked.into() id="quota-cost-preview".to_owned()/>
            <ReasonField id="quota-reason".to_owned() label="Why the project needs it" required=true
                message=Signal::derive(reason_error)/>
            <button type="submit">"Ask for this quota"</button>
        </ActionForm>
    }
}

#[component]
fn RenewalForm(project: ProjectView, action: ServerAction<RequestRenewal>) -> impl IntoView {
    let date_error = field_message(action, "end_date");
    let reason_error = field_message(action, "reason");
    view! {
        <h3>"Ask for a later end date"</h3>
        <p>"The project ends on " {project.end_date.format("%-d %B %Y").to_string()}
           ". Managers are reminded 30 and 7 days before; after that day it is suspended until an admin renews it."</p>
        <ActionForm action=action attr:class="stack">
            <input type="hidden" name="name" value=project.name.clone()/>
            <label for="renewal-date">"New end date"</label>
            <input id="renewal-date" name="end_date" type="date" required=true
                min=(project.end_date + chrono::Duration::days(1)).to_string()
                aria-invalid=move || date_error().map(|_| "true") aria-describedby="renewal-date-error"/>
            <FieldMessage id="renewal-date-error".to_owned() message=Signal::derive(date_error)/>
            <ReasonField id="renewal-reason".to_owned() label="Why the project goes on" required=true
                message=Signal::derive(reason_error)/>
            <button type="submit">"Ask for a renewal"</button>
        </ActionForm>
    }
}

#[component]
fn RequestItem(
    request: RequestView,
    timeline: Vec<ProjectEventView>,
    name: String,
    manages: bool,
    is_admin: bool,
    actions: ChangeActions,
    billing: ProjectBillingResource,
) -> impl IntoView {
    let pending = request.state == RequestState::Pending;
    // What a waiting quota change would cost: without JavaScript this is where the preview shows after submit.
    let cost = request.quota.filter(|_| pending).map(|asked| {
        let id = format!("request-{}-cost", request.id);
        view! { <QuotaCostPreview billing quota=Signal::stored(asked) id/> }
    });
    let id = request.id.to_string();
    let decided = request.decided_at.map(|at| {
        format!(
            "{} {}",
            request.decided_by.clone().map_or_else(|| "By a rule".to_owned(), |by| format!("By {by}")),
            at.format("on %Y-%m-%d %H:%M UTC")
        )
    });
    let granted_other = match request.kind {
        RequestKind::Quota => {
            request.granted_quota.filter(|granted| Some(*granted) != request.quota).map(|granted| granted.summary())
        }
        RequestKind::Renewal => request
            .granted_end_date
            .filter(|granted| Some(*granted) != request.end_date)
            .map(|granted| granted.to_string()),
    };
    let withdraw = (pending && manages).then(|| {
        let (name, id) = (name.clone(), id.clone());
        view! {
            <ActionForm action=actions.withdraw attr:class="inline">
                <input type="hidden" name="name" value=name/>
                <input type="hidden" name="request_id" value=id/>
                <button type="submit" class="secondary">"Withdraw"</button>
            </ActionForm>
        }
    });
    let decide = (pending && is_admin).then(|| view! { <DecideForms request=request.clone() actions/> });
    view! {
        <li class="request">
            <p>
                <strong>{request.kind.label()}</strong> ": " {request.summary()} " "
                <RequestStateBadge state=request.state/>
            </p>
            <p class="hint">"Asked by " {request.requested_by.clone()} " on "
                {request.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</p>
            <p class="prose-text">"Reason: " {request.reason.clone()}</p>
            {cost}
            {request.rule.clone().map(|rule| view! { <p class="prose-text rule">{rule}</p> })}
            {decided.map(|decided| view! { <p>{decided}</p> })}
            {granted_other.map(|granted| view! { <p>"Granted instead: " {granted}</p> })}
            {request.decision_reason.clone().map(|reason| view! { <p class="prose-text">"Decision: " {reason}</p> })}
            {withdraw}
            {decide}
            {(!timeline.is_empty()).then(|| view! {
                <details>
                    <summary>"Timeline"</summary>
                    <ol class="timeline">
                        {timeline.into_iter().rev().map(|event| view! {
                            <li>
                                <time datetime=event.at.to_rfc3339()>{event.at.format("%Y-%m-%d %H:%M UTC").to_string()}</time>
                                " " {event.actor} ": " {event.summary}
                            </li>
                        }).collect_view()}
                    </ol>
                </details>
            })}
        </li>
    }
}

/// An admin's approve (with editable values) and reject forms for a pending request.
#[component]
fn DecideForms(request: RequestView, actions: ChangeActions) -> impl IntoView {
    let id = request.id.to_string();
    let reject_error = field_message(actions.reject, "reason");
    let approve = match request.kind {
        RequestKind::Quota => {
            let asked = request.quota.unwrap_or(Quota::STANDARD);
            let reason_error = field_message(actions.approve_quota, "reason");
            let id = id.clone();
            view! {
                <ActionForm action=actions.approve_quota attr:class="stack">
                    <input type="hidden" name="request_id" value=id.clone()/>
                    <fieldset>
                        <legend>"Grant (change values to grant other amounts)"</legend>
                        {RESOURCES.into_iter().map(|resource| {
                            let field = resource.field();
                            let input_id = format!("grant-{id}-{field}");
                            let message = field_message(actions.approve_quota, field);
                            view! {
                                <label for=input_id.clone()>{resource.label()}</label>
                                <input id=input_id name=field type="number" inputmode="numeric" required=true
                                    min=resource.minimum().to_string() value=asked.get(resource).to_string()
                                    aria-invalid=move || message().map(|_| "true")/>
                                {move || message().map(|message| view! { <p class="field-error">{message}</p> })}
                            }
                        }).collect_view()}
                    </fieldset>
                    <ReasonField id=format!("grant-{id}-reason") label="Note (needed when you grant other values)"
                        required=false message=Signal::derive(reason_error)/>
                    <button type="submit">"Approve"</button>
                </ActionForm>
            }
            .into_any()
        }
        RequestKind::Renewal => {
            let asked = request.end_date.map(|date| date.to_string()).unwrap_or_default();
            let date_error = field_message(actions.approve_renewal, "end_date");
            let reason_error = field_message(actions.approve_renewal, "reason");
            let id = id.clone();
            view! {
                <ActionForm action=actions.approve_renewal attr:class="stack">
                    <input type="hidden" name="request_id" value=id.clone()/>
                    <label for=format!("grant-{id}-date")>"End date to grant"</label>
                    <input id=format!("grant-{id}-date") name="end_date" type="date" required=true value=asked
                        aria-invalid=move || date_error().map(|_| "true")/>
                    {move || date_error().map(|message| view! { <p class="field-error">{message}</p> })}
                    <ReasonField id=format!("grant-{id}-reason") label="Note (needed when you grant another date)"
                        required=false message=Signal::derive(reason_error)/>
                    <button type="submit">"Approve"</button>
                </ActionForm>
            }
            .into_any()
        }
    };
    view! {
        <div class="decide">
            {approve}
            <ActionForm action=actions.reject attr:class="stack">
                <input type="hidden" name="request_id" value=id.clone()/>
                <ReasonField id=format!("reject-{id}-reason") label="Reason for rejecting (the managers are told)"
                    required=true message=Signal::derive(reject_error)/>
                <button type="submit" class="danger">"Reject"</button>
            </ActionForm>
        </div>
    }
}

/// The form that closes the project (managers and admins).
#[component]
pub fn CloseSection(project: ProjectView, action: ServerAction<CloseProject>) -> impl IntoView {
    let confirm_error = field_message(action, "confirm");
    let reason_error = field_message(action, "reason");
    view! {
        <section class="card" aria-labelledby="close-heading">
            <h2 id="close-heading">"Close the project"</h2>
            <p>"Closing sets the quota to zero at once. The namespace, with everything in it, is deleted after a grace
               period; until then an admin can restore the project."</p>
            <ActionForm action=action attr:class="stack">
                <input type="hidden" name="name" value=project.name.clone()/>
                <label for="close-confirm">"Type the project's name, " <code>{project.name.clone()}</code> ", to confirm"</label>
                <input id="close-confirm" name="confirm" type="text" autocomplete="off" required=true
                    aria-invalid=move || confirm_error().map(|_| "true") aria-describedby="close-confirm-error"/>
                <FieldMessage id="close-confirm-error".to_owned() message=Signal::derive(confirm_error)/>
                <ReasonField id="close-reason".to_owned() label="Reason (optional)" required=false
                    message=Signal::derive(reason_error)/>
                <button type="submit" class="danger">"Close the project"</button>
            </ActionForm>
        </section>
    }
}

/// `/admin/requests`: quota changes and renewals waiting for an admin, oldest first.
#[component]
pub fn AdminRequestsPage() -> impl IntoView {
    let rows = Resource::new_blocking(|| (), |()| get_pending_requests());
    view! {
        <Title text="Waiting requests"/>
        <h1>"Quota changes and renewals waiting"</h1>
        <p>"Each is decided on its project's page, where the project's quota, members and history are."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) if rows.is_empty() => view! { <p>"Nothing is waiting."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="data stacked wide">
                            <thead><tr>
                                <th scope="col">"Asked (UTC)"</th><th scope="col">"Project"</th><th scope="col">"Kind"</th>
                                <th scope="col">"What"</th><th scope="col">"By"</th><th scope="col">"Why no rule applied"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|row| view! {
                                    <tr>
                                        <td data-label="Asked">{row.asked_at}</td>
                                        <td data-label="Project">
                                            <a href=format!("/projects/{}#requests", row.project)>{row.project.clone()}</a>
                                        </td>
                                        <td data-label="Kind">{row.kind}</td>
                                        <td data-label="What">{row.summary}</td>
                                        <td data-label="By">{row.requested_by}</td>
                                        <td data-label="Why no rule applied" class="prose-text">{row.rule}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
