//! The applicant's pages: "My applications", the form, and one application with its timeline and comments. The
//! admins' actions on the same page come from [`super::admin`].

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::{
    CommentOnApplication, SaveApplication, WithdrawApplication, get_application, get_my_applications,
    get_new_application,
};
use super::model::{ApplicationInput, MESSAGE_MAX, Quota, RESOURCES, Strictness, check_application};
use super::state::ApplicationState;
use super::view::{ApplicationSummaryRow, ApplicationView, FormView};
use crate::components::ErrorNotice;
use crate::error::AppError;

/// The id in the path (`/applications/{id}`); an id that is not a number is one that does not exist.
pub(crate) fn path_id() -> impl Fn() -> i64 + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get("id").and_then(|id| id.parse().ok()).unwrap_or(0)
}

/// A state as a badge: text and colour.
#[component]
pub fn StateBadge(state: ApplicationState) -> impl IntoView {
    view! { <span class=format!("badge state-{}", state.as_str())>{state.label()}</span> }
}

/// `/applications`: the signed-in user's applications.
#[component]
pub fn MyApplicationsPage() -> impl IntoView {
    let rows = Resource::new_blocking(|| (), |()| get_my_applications());
    view! {
        <Title text="My applications"/>
        <h1>"My applications"</h1>
        <p><a class="button" href="/applications/new">"Apply for a project"</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) if rows.is_empty() => view! {
                        <p>"You have not applied for a project yet."</p>
                    }.into_any(),
                    Ok(rows) => view! { <ApplicationList rows/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ApplicationList(rows: Vec<ApplicationSummaryRow>) -> impl IntoView {
    view! {
        <table class="data stacked">
            <thead><tr>
                <th scope="col">"Project"</th><th scope="col">"Title"</th>
                <th scope="col">"State"</th><th scope="col">"Last change (UTC)"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|row| {
                    let name = if row.project_name.is_empty() { "(no name yet)".to_owned() } else { row.project_name };
                    view! {
                        <tr>
                            <td data-label="Project"><a href=format!("/applications/{}", row.id)>{name}</a></td>
                            <td data-label="Title">{row.title}</td>
                            <td data-label="State"><StateBadge state=row.state/></td>
                            <td data-label="Last change">{row.updated_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// `/applications/new`: the application form.
#[component]
pub fn NewApplicationPage() -> impl IntoView {
    let form = Resource::new_blocking(|| (), |()| get_new_application());
    view! {
        <Title text="Apply for a project"/>
        <h1>"Apply for a project"</h1>
        <p>"Save a draft at any time; admins see the application once you submit it."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match form.await {
                    Ok(view) => view! { <ApplicationFormView view/> }.into_any(),
                    Err(AppError::Forbidden) => view! {
                        <div class="notice" role="status">
                            <p>"Before you apply, " <a href="/signup">"complete your sign-up"</a> "."</p>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The form fields every application has, in the order people fill them in (for the error summary).
const FORM_FIELDS: [(&str, &str); 15] = [
    ("project_name", "Project name"),
    ("title", "Title"),
    ("purpose", "Purpose"),
    ("organisation", "Organisation"),
    ("end_date", "Expected end date"),
    ("cpu_cores", "CPU cores"),
    ("memory_gib", "Memory (GiB)"),
    ("storage_gib", "Storage (GiB)"),
    ("pods", "Pods"),
    ("gpus", "GPUs"),
    ("quota_justification", "Why more than the standard quota"),
    ("billing", "Billing"),
    ("billing_justification", "Why a new billing account"),
    ("accept_terms", "Terms of use"),
    ("intent", "Action"),
];

/// The application form. Checked as the user types once hydrated; the server checks again and decides.
#[component]
pub fn ApplicationFormView(view: FormView) -> impl IntoView {
    let FormView { form, rules, billing_accounts, billing_balances, rates, terms_version, resubmission, today } = view;
    let action = ServerAction::<SaveApplication>::new();
    let input = RwSignal::new(form.input.clone());
    let touched = RwSignal::new(Vec::<&'static str>::new());
    let rules = StoredValue::new(rules);
    let live = Memo::new(move |_| {
        check_application(&input.read(), &rules.read_value(), today, Strictness::Draft).err().unwrap_or_default()
    });
    let server_error = move || action.value().get().and_then(Result::err);
    let error_for = move |field: &'static str| {
        Signal::derive(move || {
            if touched.read().contains(&field) {
                live.read().iter().find(|error| error.field == field).map(|error| error.message.clone())
            } else {
                server_error().and_then(|error| error.for_field(field))
            }
        })
    };
    let set = move |field: &'static str| {
        Callback::new(move |value: String| {
            input.update(|input| input.set(field, value));
            touched.update(|touched| {
                if !touched.contains(&field) {
                    touched.push(field);
                }
            });
        })
    };
    let summary = move || {
        let error = server_error()?;
        let fields: Vec<_> = FORM_FIELDS
            .iter()
            .filter_map(|(field, label)| error.for_field(field).map(|message| (*field, *label, message)))
            .collect();
        if fields.is_empty() {
            return Some(view! { <ErrorNotice error/> }.into_any());
        }
        Some(
            view! {
                <div class="notice notice-error" role="alert">
                    <h2>"Some fields need your attention"</h2>
                    <ul>{fields.into_iter().map(|(field, label, message)| view! {
                        <li><a href=format!("#{field}")>{label}</a> ": " {message}</li>
                    }).collect_view()}</ul>
                </div>
            }
            .into_any(),
        )
    };
    let rules_now = rules.get_value();
    let above = move || {
        let input = input.read();
        RESOURCES.iter().any(|resource| {
            input
                .quota_text(*resource)
                .trim()
                .parse::<u32>()
                .is_ok_and(|value| value > rules.read_value().default_quota.get(*resource))
        })
    };
    let new_billing = move || input.read().billing == "new";
    // What the requested quota costs at today's rates, and how long the chosen account lasts at that: computed
    // from the fields as typed (and, without JavaScript, from what was last sent).
    let cost = move || {
        let input = input.read();
        let mut quota = Quota::default();
        for resource in RESOURCES {
            quota.set(resource, input.quota_text(resource).trim().parse().unwrap_or(0));
        }
        let balance =
            billing_balances.iter().find(|(id, _)| id.to_string() == input.billing).map(|(_, balance)| *balance);
        crate::billing::model::describe_preview(&quota, &rates, balance)
    };
    // Fields that only matter for some answers are hidden once the page runs in the browser (effects run only
    // there); without JavaScript every field stays visible.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let typed: ApplicationInput = form.input.clone();
    let submit_label = if resubmission { "Resubmit for review" } else { "Submit for review" };
    view! {
        {summary}
        <ActionForm action attr:class="application-form" attr:novalidate="">
            <input type="hidden" name="form[id]" value=form.id.clone()/>
            <input type="hidden" name="form[version]" value=form.version.clone()/>
            <input type="hidden" name="form[draft_key]" value=form.draft_key.clone()/>
            <fieldset>
                <legend>"The project"</legend>
                <FormField name="project_name" label="Project name" value=typed.project_name.clone()
                    hint="Becomes the namespace: lower-case letters, digits and \"-\", starting with a letter, at most 63 characters."
                    error=error_for("project_name") on_input=set("project_name") autocomplete="off"/>
                <FormField name="title" label="Title" value=typed.title.clone() hint="At most 100 characters."
                    error=error_for("title") on_input=set("title")/>
                <FormField name="purpose" label="Purpose" kind="textarea" value=typed.purpose.clone()
                    hint="What the project is for, in a few sentences (at most 4,000 characters)."
                    error=error_for("purpose") on_input=set("purpose")/>
                <FormField name="organisation" label="Organisation" value=typed.organisation.clone()
                    error=error_for("organisation") on_input=set("organisation") autocomplete="organization"/>
                <FormField name="end_date" label="Expected end date" kind="date" value=typed.end_date.clone()
                    hint=format!("YYYY-MM-DD, at most {} months ahead.", rules_now.max_months)
                    error=error_for("end_date") on_input=set("end_date")/>
            </fieldset>
            <fieldset>
                <legend>"Requested quota"</legend>
                <p class="hint">"The standard quota is granted without questions; more needs a reason."</p>
                <div class="quota-grid">
                    {RESOURCES.into_iter().map(|resource| {
                        let field = resource.field();
                        view! {
                            <FormField name=field label=resource.label() kind="number"
                                value=typed.quota_text(resource).to_owned()
                                hint=format!("Standard {}, at most {}.", rules_now.default_quota.get(resource), rules_now.max_quota.get(resource))
                                error=error_for(field) on_input=set(field)/>
                        }
                    }).collect_view()}
                </div>
                <div class:hidden-field=move || hydrated.get() && !above()>
                    <FormField name="quota_justification" label="Why more than the standard quota" kind="textarea"
                        value=typed.quota_justification.clone() error=error_for("quota_justification")
                        on_input=set("quota_justification")/>
                </div>
            </fieldset>
            <fieldset>
                <legend>"Billing"</legend>
                {if billing_accounts.is_empty() {
                    view! {
                        <input type="hidden" name="form[billing]" value="new"/>
                        <p class="hint">"You have no billing account yet: ask for a new one."</p>
                    }.into_any()
                } else {
                    let chosen = typed.billing.clone();
                    view! {
                        <label for="billing">"Billing account"</label>
                        <select id="billing" name="form[billing]"
                            on:change=move |ev| set("billing").run(event_target_value(&ev))>
                            {billing_accounts.into_iter().map(|(id, name)| {
                                let value = id.to_string();
                                let selected = value == chosen;
                                view! { <option value=value selected=selected>{name}</option> }
                            }).collect_view()}
                            <option value="new" selected=chosen == "new">"Ask for a new billing account"</option>
                        </select>
                    }.into_any()
                }}
                <p class="cost-preview" id="cost-preview" aria-live="polite">{cost}</p>
                <div class:hidden-field=move || hydrated.get() && !new_billing()>
                    <FormField name="billing_justification" label="Why a new billing account" kind="textarea"
                        value=typed.billing_justification.clone() error=error_for("billing_justification")
                        on_input=set("billing_justification")/>
                </div>
            </fieldset>
            <div class="checkbox">
                <input id="accept_terms" name="form[accept_terms]" type="checkbox" value="yes"
                    checked=typed.accept_terms.is_some() aria-describedby="accept_terms-error"/>
                <label for="accept_terms">
                    "I accept the " <a href="/terms">"terms of use"</a> {format!(" (version {terms_version})")}
                </label>
            </div>
            {move || error_for("accept_terms").get().map(|message| view! {
                <p id="accept_terms-error" class="field-error">{message}</p>
            })}
            <div class="actions">
                <button type="submit" name="form[intent]" value="save" class="secondary">"Save draft"</button>
                <button type="submit" name="form[intent]" value="submit">{submit_label}</button>
            </div>
        </ActionForm>
    }
}

/// One labelled form field with its hint and error; the error replaces nothing the user typed.
#[component]
fn FormField(
    name: &'static str,
    label: &'static str,
    value: String,
    #[prop(into)] error: Signal<Option<String>>,
    on_input: Callback<String>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "on")] autocomplete: &'static str,
) -> impl IntoView {
    let form_name = format!("form[{name}]");
    let (hint_id, error_id) = (format!("{name}-hint"), format!("{name}-error"));
    let described = if hint.is_some() { format!("{hint_id} {error_id}") } else { error_id.clone() };
    let control = if kind == "textarea" {
        view! {
            <textarea id=name name=form_name rows="5" aria-describedby=described
                aria-invalid=move || error.get().map(|_| "true")
                on:input=move |ev| on_input.run(event_target_value(&ev))>{value}</textarea>
        }
        .into_any()
    } else {
        view! {
            <input id=name name=form_name type=kind value=value autocomplete=autocomplete aria-describedby=described
                inputmode=(kind == "number").then_some("numeric")
                aria-invalid=move || error.get().map(|_| "true")
                on:input=move |ev| on_input.run(event_target_value(&ev))/>
        }
        .into_any()
    };
    view! {
        <div class="field">
            <label for=name>{label}</label>
            {hint.map(|hint| view! { <p id=hint_id class="hint">{hint}</p> })}
            {control}
            {move || error.get().map(|message| view! { <p id=error_id.clone() class="field-error">{message}</p> })}
        </div>
    }
}

/// `/applications/{id}`: one application, for its applicant (and for admins, who also find it in the queue).
#[component]
pub fn ApplicationPage() -> impl IntoView {
    let id = path_id();
    let withdraw = ServerAction::<WithdrawApplication>::new();
    let comment = ServerAction::<CommentOnApplication>::new();
    let application = Resource::new_blocking(
        move || (id(), withdraw.version().get(), comment.version().get()),
        |(id, ..)| get_application(id),
    );
    view! {
        <Title text="Application"/>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match application.await {
                    Ok(view) => view! { <ApplicationDetails view withdraw comment admin=None/> }.into_any(),
                    Err(error) => view! { <h1>"Application"</h1> <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// An application: its decision, fields, form (when its applicant may edit it), timeline and comments; `admin`
/// holds the admins' actions when the page is theirs.
#[component]
pub fn ApplicationDetails(
    view: ApplicationView,
    withdraw: ServerAction<WithdrawApplication>,
    comment: ServerAction<CommentOnApplication>,
    admin: Option<AnyView>,
) -> impl IntoView {
    let query = use_query_map();
    let notice = move || match query.read().get("notice").as_deref() {
        Some("saved") => Some("Saved. Submit it when it is ready."),
        Some("submitted") => Some("Submitted. The admins will review it; you will get an e-mail when they decide."),
        _ => None,
    };
    let name = view
        .fields
        .project_name
        .as_ref()
        .map(|name| name.as_str().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "(no name yet)".to_owned());
    let can_withdraw = view.viewer_is_applicant && !view.state.is_final();
    let (id, version) = (view.id, view.version);
    let action_error =
        move || withdraw.value().get().and_then(Result::err).or_else(|| comment.value().get().and_then(Result::err));
    let comment_error =
        move || comment.value().get().and_then(Result::err).and_then(|error| error.for_field("message"));
    let ApplicationView { state, fields, rules, events, form, project, decided, decision_reason, .. } = view.clone();
    view! {
        <Title text=format!("Application: {name}")/>
        <h1>"Application: " {name.clone()} " " <StateBadge state/></h1>
        {move || notice().map(|text| view! { <div class="notice" role="status"><p>{text}</p></div> })}
        {move || action_error().filter(|error| error.for_field("message").is_none()).map(|error| view! { <ErrorNotice error/> })}
        <Decision state decided decision_reason project requested=fields.quota/>
        {admin}
        <section class="card" aria-labelledby="fields-heading">
            <h2 id="fields-heading">"What was asked for"</h2>
            <dl class="facts">
                <dt>"Applicant"</dt><dd>{view.applicant.clone()}</dd>
                <dt>"Title"</dt><dd>{fields.title.clone()}</dd>
                <dt>"Purpose"</dt><dd class="prose-text">{fields.purpose.clone()}</dd>
                <dt>"Organisation"</dt><dd>{fields.organisation.clone()}</dd>
                <dt>"Expected end date"</dt>
                <dd>{fields.end_date.map_or_else(|| "—".to_owned(), |date| date.to_string())}</dd>
                <dt>"Billing"</dt>
                <dd>{match &fields.billing {
                    Some(super::model::BillingChoice::Existing(account)) => format!("Billing account {account}"),
                    Some(super::model::BillingChoice::New { justification }) => format!("A new billing account: {justification}"),
                    None => "—".to_owned(),
                }}</dd>
                <dt>"Terms of use"</dt>
                <dd>{view.terms_version.clone().map_or_else(|| "not yet accepted".to_owned(), |version| format!("version {version} accepted"))}</dd>
                <dt>"Assigned to"</dt><dd>{view.assigned_to.clone().unwrap_or_else(|| "nobody yet".to_owned())}</dd>
            </dl>
            <QuotaTable requested=fields.quota rules=rules.clone() granted=view.project.as_ref().map(|project| project.quota)/>
            {(!fields.quota_justification.is_empty()).then(|| view! {
                <p><strong>"Why more than the standard quota: "</strong><span class="prose-text">{fields.quota_justification.clone()}</span></p>
            })}
        </section>
        {form.map(|form| view! {
            <section class="card" aria-labelledby="edit-heading">
                <h2 id="edit-heading">{if state == ApplicationState::ChangesRequested { "Change and resubmit" } else { "Edit the draft" }}</h2>
                <ApplicationFormView view=form/>
            </section>
        })}
        <section class="card" aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Timeline and comments"</h2>
            <ol class="timeline">
                {events.into_iter().map(|event| view! {
                    <li class:by-admin=event.by_admin class:comment=event.kind == "comment">
                        <p class="meta">
                            <strong>{event.summary()}</strong> " · " {event.actor.clone()} " · "
                            <time datetime=event.at.to_rfc3339()>{event.at.format("%Y-%m-%d %H:%M UTC").to_string()}</time>
                        </p>
                        {(!event.message.is_empty()).then(|| view! { <p class="prose-text">{event.message.clone()}</p> })}
                    </li>
                }).collect_view()}
            </ol>
            <ActionForm action=comment attr:class="stack">
                <input type="hidden" name="id" value=id.to_string()/>
                <label for="comment-message">"Add a comment"</label>
                <textarea id="comment-message" name="message" rows="3" aria-describedby="comment-message-error"
                    aria-invalid=move || comment_error().map(|_| "true")></textarea>
                {move || comment_error().map(|message| view! { <p id="comment-message-error" class="field-error">{message}</p> })}
                <p class="hint">{format!("At most {MESSAGE_MAX} characters. The other side gets an e-mail.")}</p>
                <button type="submit">"Comment"</button>
            </ActionForm>
        </section>
        {can_withdraw.then(|| view! {
            <section class="card" aria-labelledby="withdraw-heading">
                <h2 id="withdraw-heading">"Withdraw"</h2>
                <p>"Withdrawing ends the application; you can apply again later."</p>
                <ActionForm action=withdraw>
                    <input type="hidden" name="id" value=id.to_string()/>
                    <input type="hidden" name="version" value=version.to_string()/>
                    <button type="submit" class="danger">"Withdraw the application"</button>
                </ActionForm>
            </section>
        })}
    }
}

/// The decision, its reason and the project it created.
#[component]
fn Decision(
    state: ApplicationState,
    decided: Option<(String, chrono::DateTime<chrono::Utc>)>,
    decision_reason: Option<String>,
    project: Option<super::view::ProjectRef>,
    requested: super::model::Quota,
) -> impl IntoView {
    let by = decided.map(|(who, at)| format!(" by {who} on {}", at.format("%-d %B %Y %H:%M UTC")));
    let heading = match state {
        ApplicationState::Approved => "Approved",
        ApplicationState::Rejected => "Not approved",
        ApplicationState::ChangesRequested => "Changes requested",
        ApplicationState::Withdrawn => "Withdrawn",
        ApplicationState::Draft | ApplicationState::Submitted => return ().into_any(),
    };
    let class = if state == ApplicationState::Rejected { "notice notice-error" } else { "notice" };
    let changed = project.as_ref().is_some_and(|project| project.quota != requested);
    view! {
        <section class=class aria-labelledby="decision-heading">
            <h2 id="decision-heading">{heading} {by}</h2>
            {decision_reason.map(|reason| view! {
                <p><strong>{if state == ApplicationState::ChangesRequested { "What to change: " } else { "Reason: " }}</strong>
                <span class="prose-text">{reason}</span></p>
            })}
            {project.map(|project| view! {
                <p id="project">
                    "Project " <a href=format!("/projects/{}", project.name)><strong>{project.name.clone()}</strong></a>
                    " (" {project_state_label(&project.state)} ")"
                    {changed.then_some(": the granted quota differs from the request, see the table below")} "."
                </p>
            })}
        </section>
    }
    .into_any()
}

fn project_state_label(state: &str) -> &'static str {
    match state {
        "provisioning" => "being set up on the cluster",
        "active" => "active",
        "provisioning_failed" => "provisioning failed; the admins have been told",
        "suspended" => "suspended",
        "closed" => "closed",
        _ => "unknown state",
    }
}

/// The requested quota next to the standard and the maximum (and the granted quota, once approved); values above
/// the standard are marked.
#[component]
pub fn QuotaTable(
    requested: super::model::Quota,
    rules: super::model::ApplicationRules,
    granted: Option<super::model::Quota>,
) -> impl IntoView {
    view! {
        <table class="data quota">
            <caption>"Quota"</caption>
            <thead><tr>
                <th scope="col">"Resource"</th><th scope="col">"Requested"</th>
                {granted.map(|_| view! { <th scope="col">"Granted"</th> })}
                <th scope="col">"Standard"</th><th scope="col">"Maximum"</th>
            </tr></thead>
            <tbody>
                {RESOURCES.into_iter().map(|resource| {
                    let value = requested.get(resource);
                    let standard = rules.default_quota.get(resource);
                    let above = value > standard;
                    view! {
                        <tr class:above=above>
                            <th scope="row">{resource.label()}</th>
                            <td>{value.to_string()} {above.then(|| view! { <span class="mark">" above standard"</span> })}</td>
                            {granted.map(|granted| {
                                let differs = granted.get(resource) != value;
                                view! { <td class:changed=differs>{granted.get(resource).to_string()}
                                    {differs.then(|| view! { <span class="mark">" changed"</span> })}</td> }
                            })}
                            <td>{standard.to_string()}</td>
                            <td>{rules.max_quota.get(resource).to_string()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
