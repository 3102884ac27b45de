//! The admins' side of applications: the queue (`/admin/applications`) and the review page with its actions.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::api::{
    ApproveApplication, CommentOnApplication, RejectApplication, RequestChanges, TakeApplication, WithdrawApplication,
    get_application_for_review, get_queue,
};
use super::model::RESOURCES;
use super::pages::{ApplicationDetails, StateBadge, path_id};
use super::state::ApplicationState;
use super::view::{ApplicationView, QueuePage, QueueQuery, age};
use crate::components::ErrorNotice;
use crate::error::AppError;

/// The states the queue can show, with their labels.
const QUEUE_STATES: [ApplicationState; 5] = [
    ApplicationState::Submitted,
    ApplicationState::ChangesRequested,
    ApplicationState::Approved,
    ApplicationState::Rejected,
    ApplicationState::Withdrawn,
];

/// `/admin/applications`: applications waiting for a decision, oldest first, with filters; a GET form, so that
/// every page of it can be linked to and works without JavaScript.
#[component]
pub fn AdminQueuePage() -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        let query = query.read();
        let text = |key: &str| query.get(key).unwrap_or_default();
        QueueQuery {
            state: text("state"),
            organisation: text("organisation"),
            applicant: text("applicant"),
            q: text("q"),
            sort: text("sort"),
            after: text("after"),
            after_id: query.get("after_id").and_then(|id| id.parse().ok()),
        }
    };
    let page = Resource::new_blocking(current, get_queue);
    let field_error =
        move |field: &'static str| move || page.get().and_then(Result::err).and_then(|error| error.for_field(field));
    view! {
        <Title text="Applications"/>
        <h1>"Applications"</h1>
        <form method="get" action="/admin/applications" class="filters">
            <div class="field">
                <label for="state">"State"</label>
                <select id="state" name="state">
                    {QUEUE_STATES.into_iter().map(|state| {
                        let selected = current().state == state.as_str()
                            || (current().state.is_empty() && state == ApplicationState::Submitted);
                        view! { <option value=state.as_str() selected=selected>{state.label()}</option> }
                    }).collect_view()}
                </select>
                {move || field_error("state")().map(|message| view! { <p class="field-error">{message}</p> })}
            </div>
            <div class="field">
                <label for="q">"Search name, title, applicant"</label>
                <input id="q" name="q" type="search" value=current().q/>
            </div>
            <div class="field">
                <label for="organisation">"Organisation (exactly)"</label>
                <input id="organisation" name="organisation" type="text" value=current().organisation/>
            </div>
            <div class="field">
                <label for="applicant">"Applicant's e-mail contains"</label>
                <input id="applicant" name="applicant" type="text" value=current().applicant/>
            </div>
            <div class="field">
                <label for="sort">"Sort"</label>
                <select id="sort" name="sort">
                    <option value="age" selected=current().sort != "name">"Oldest first"</option>
                    <option value="name" selected=current().sort == "name">"By name"</option>
                </select>
            </div>
            <button type="submit">"Show"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <QueueTable page/> }.into_any(),
                    Err(error) if error.for_field("state").is_some() || error.for_field("sort").is_some() => ().into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn QueueTable(page: QueuePage) -> impl IntoView {
    if page.rows.is_empty() {
        return view! { <p>"No applications match."</p> }.into_any();
    }
    let next = page.next.map(|next| {
        let mut params = leptos_router::params::ParamsMap::new();
        for (key, value) in [
            ("state", next.state),
            ("organisation", next.organisation),
            ("applicant", next.applicant),
            ("q", next.q),
            ("sort", next.sort),
            ("after", next.after),
            ("after_id", next.after_id.map(|id| id.to_string()).unwrap_or_default()),
        ] {
            if !value.is_empty() {
                params.insert(key, value);
            }
        }
        format!("/admin/applications{}", params.to_query_string())
    });
    let (now, standard) = (page.now, page.default_quota);
    view! {
        <table class="data stacked queue">
            <thead><tr>
                <th scope="col">"Project"</th><th scope="col">"Title"</th><th scope="col">"Applicant"</th>
                <th scope="col">"Organisation"</th><th scope="col">"Waiting"</th><th scope="col">"Quota"</th>
                <th scope="col">"Assigned"</th><th scope="col">"State"</th>
            </tr></thead>
            <tbody>
                {page.rows.into_iter().map(|row| {
                    let above: Vec<_> = row.quota.above(&standard).iter().map(|resource| resource.label()).collect();
                    view! {
                        <tr>
                            <td data-label="Project"><a href=format!("/admin/applications/{}", row.id)>{row.project_name}</a></td>
                            <td data-label="Title">{row.title}</td>
                            <td data-label="Applicant">{row.applicant}</td>
                            <td data-label="Organisation">{row.organisation}</td>
                            <td data-label="Waiting">{row.submitted_at.map(|at| age(at, now)).unwrap_or_default()}</td>
                            <td data-label="Quota">{if above.is_empty() {
                                "standard".to_owned()
                            } else {
                                format!("more {}", above.join(", "))
                            }}</td>
                            <td data-label="Assigned">{row.assigned_to.unwrap_or_else(|| "—".to_owned())}</td>
                            <td data-label="State"><StateBadge state=row.state/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {next.map(|href| view! { <p><a href=href>"Next page"</a></p> })}
    }
    .into_any()
}

/// `/admin/applications/{id}`: an application with what admins need to decide it.
#[component]
pub fn AdminApplicationPage() -> impl IntoView {
    let id = path_id();
    let withdraw = ServerAction::<WithdrawApplication>::new();
    let comment = ServerAction::<CommentOnApplication>::new();
    let take = ServerAction::<TakeApplication>::new();
    let approve = ServerAction::<ApproveApplication>::new();
    let reject = ServerAction::<RejectApplication>::new();
    let changes = ServerAction::<RequestChanges>::new();
    let actions = AdminActions { take, approve, reject, changes };
    let application = Resource::new_blocking(
        move || {
            (
                id(),
                comment.version().get(),
                take.version().get(),
                approve.version().get(),
                reject.version().get(),
                changes.version().get(),
            )
        },
        |(id, ..)| get_application_for_review(id),
    );
    view! {
        <Title text="Review application"/>
        <p><a href="/admin/applications">"← Back to the queue"</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match application.await {
                    Ok(view) => {
                        let admin = view! { <ReviewPanel view=view.clone() actions/> }.into_any();
                        view! { <ApplicationDetails view withdraw comment admin=Some(admin)/> }.into_any()
                    }
                    Err(error) => view! { <h1>"Application"</h1> <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The admins' actions on one application.
#[derive(Clone, Copy)]
struct AdminActions {
    take: ServerAction<TakeApplication>,
    approve: ServerAction<ApproveApplication>,
    reject: ServerAction<RejectApplication>,
    changes: ServerAction<RequestChanges>,
}

/// Take, approve (with the granted quota), request changes, reject; and who the applicant is.
#[component]
fn ReviewPanel(view: ApplicationView, actions: AdminActions) -> impl IntoView {
    let AdminActions { take, approve, reject, changes } = actions;
    let (id, version) = (view.id, view.version);
    let approve_error = move |field: &'static str| {
        move || approve.value().get().and_then(Result::err).and_then(|error| error.for_field(field))
    };
    let reject_error = move || reject.value().get().and_then(Result::err).and_then(|error| error.for_field("reason"));
    let changes_error =
        move || changes.value().get().and_then(Result::err).and_then(|error| error.for_field("message"));
    let other_error = move || {
        [
            approve.value().get().and_then(Result::err),
            reject.value().get().and_then(Result::err),
            changes.value().get().and_then(Result::err),
            take.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .find(|error| !matches!(error, AppError::Invalid { .. } | AppError::InvalidFields { .. }))
    };
    let decidable = view.state.awaits_admin();
    let can_reject = matches!(view.state, ApplicationState::Submitted | ApplicationState::ChangesRequested);
    let requested = view.fields.quota;
    view! {
        {move || other_error().map(|error| view! { <ErrorNotice error/> })}
        <section class="card review" aria-labelledby="review-heading">
            <h2 id="review-heading">"Review"</h2>
            <ActionForm action=take attr:class="inline">
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit" class="secondary">{match &view.assigned_to {
                    Some(admin) => format!("Take it over (assigned to {admin})"),
                    None => "Take it for review".to_owned(),
                }}</button>
            </ActionForm>
            {decidable.then(|| view! {
                <h3>"Approve"</h3>
                <ActionForm action=approve attr:class="stack">
                    <input type="hidden" name="id" value=id.to_string()/>
                    <input type="hidden" name="version" value=version.to_string()/>
                    <div class="quota-grid">
                        {RESOURCES.into_iter().map(|resource| {
                            let field = resource.field();
                            let input_id = format!("grant-{field}");
                            view! {
                                <div class="field">
                                    <label for=input_id.clone()>{format!("Granted {}", resource.label())}</label>
                                    <input id=input_id name=field type="number" inputmode="numeric"
                                        value=requested.get(resource).to_string()/>
                                    {move || approve_error(field)().map(|message| view! { <p class="field-error">{message}</p> })}
                                </div>
                            }
                        }).collect_view()}
                    </div>
                    <label for="approve-reason">"Reason (needed when the quota differs from the request)"</label>
                    <textarea id="approve-reason" name="reason" rows="2"></textarea>
                    {move || approve_error("reason")().map(|message| view! { <p class="field-error">{message}</p> })}
                    <button type="submit">"Approve"</button>
                </ActionForm>
                <h3>"Request changes"</h3>
                <ActionForm action=changes attr:class="stack">
                    <input type="hidden" name="id" value=id.to_string()/>
                    <input type="hidden" name="version" value=version.to_string()/>
                    <label for="changes-message">"What should change"</label>
                    <textarea id="changes-message" name="message" rows="3"></textarea>
                    {move || changes_error().map(|message| view! { <p class="field-error">{message}</p> })}
                    <button type="submit" class="secondary">"Request changes"</button>
                </ActionForm>
            })}
            {can_reject.then(|| view! {
                <h3>"Reject"</h3>
                <ActionForm action=reject attr:class="stack">
                    <input type="hidden" name="id" value=id.to_string()/>
                    <input type="hidden" name="version" value=version.to_string()/>
                    <label for="reject-reason">"Reason (the applicant sees it)"</label>
                    <textarea id="reject-reason" name="reason" rows="2"></textarea>
                    {move || reject_error().map(|message| view! { <p class="field-error">{message}</p> })}
                    <button type="submit" class="danger">"Reject"</button>
                </ActionForm>
            })}
        </section>
        <section class="card" aria-labelledby="applicant-heading">
            <h2 id="applicant-heading">"The applicant"</h2>
            <p>{view.applicant.clone()}</p>
            <h3>"Other applications"</h3>
            {if view.other_applications.is_empty() {
                view! { <p>"None."</p> }.into_any()
            } else {
                view! { <ul>{view.other_applications.iter().map(|other| view! {
                    <li><a href=format!("/admin/applications/{}", other.id)>{other.project_name.clone()}</a>
                        " " <StateBadge state=other.state/></li>
                }).collect_view()}</ul> }.into_any()
            }}
            <h3>"Projects"</h3>
            {if view.applicant_projects.is_empty() {
                view! { <p>"None."</p> }.into_any()
            } else {
                view! { <ul>{view.applicant_projects.iter().map(|project| view! {
                    <li>{project.name.clone()} " (" {project.state.clone()} ")"</li>
                }).collect_view()}</ul> }.into_any()
            }}
        </section>
    }
}
