//! `/admin/status`: running the status page during an incident. One short form opens an incident; each open
//! incident takes updates (and is resolved by one); maintenance windows are announced and cancelled; components are
//! added and renamed. Every form works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::model::{ComponentStatus, IssueStatus};
use super::{IncidentForm, MaintenanceForm};
use crate::components::{ErrorNotice, FieldError, other_error};
use crate::error::AppError;

/// A component on the admins' page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminComponent {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Display order.
    pub position: i32,
    /// Now.
    pub status: ComponentStatus,
}

/// An open incident on the admins' page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminIncident {
    /// Id.
    pub id: i64,
    /// The version an update form is made on.
    pub version: i64,
    /// Title.
    pub title: String,
    /// Where it stands.
    pub status: IssueStatus,
    /// When it was opened, in words.
    pub opened: String,
    /// Each affected component's id, name and current impact.
    pub impacts: Vec<(i64, String, ComponentStatus)>,
    /// Updates, newest first.
    pub updates: Vec<super::PageUpdate>,
}

/// A maintenance window on the admins' page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminWindow {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// When, in words.
    pub when: String,
    /// Affected components, joined.
    pub components: String,
}

/// What the admins' status page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminStatusView {
    /// Components in display order.
    pub components: Vec<AdminComponent>,
    /// Open incidents, newest first.
    pub incidents: Vec<AdminIncident>,
    /// Maintenance windows that have not ended.
    pub maintenance: Vec<AdminWindow>,
    /// The zone maintenance times are entered in.
    pub zone: String,
}

#[cfg(feature = "ssr")]
use crate::ssr::{respond_with_error, signed_in_admin};

/// The admins' status page (admins only).
#[server(prefix = "/api", endpoint = "admin_status")]
pub async fn get_status_admin() -> Result<AdminStatusView, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    let records = state.status.operations(&auth.user).await.map_err(respond_with_error)?;
    let report = state.status.report().await.map_err(respond_with_error)?;
    let zone = match &state.status.settings().hours {
        super::availability::ServiceHours::Weekly { zone, .. } => *zone,
        super::availability::ServiceHours::Always => chrono_tz::UTC,
    };
    let name = |id: i64| records.components.iter().find(|c| c.id == id).map_or_else(String::new, |c| c.name.clone());
    Ok(AdminStatusView {
        components: records
            .components
            .iter()
            .map(|component| AdminComponent {
                id: component.id,
                name: component.name.clone(),
                description: component.description.clone(),
                position: component.position,
                status: report
                    .components
                    .iter()
                    .find(|shown| shown.id == component.id)
                    .map_or(ComponentStatus::Operational, |shown| shown.status),
            })
            .collect(),
        incidents: records
            .incidents
            .iter()
            .map(|incident| AdminIncident {
                id: incident.id,
                version: incident.version,
                title: incident.title.clone(),
                status: incident.status,
                opened: super::moment_words(incident.opened_at),
                impacts: incident
                    .current_impacts()
                    .into_iter()
                    .filter(|(_, impact)| *impact != ComponentStatus::Operational)
                    .map(|(id, impact)| (id, name(id), impact))
                    .collect(),
                updates: incident
                    .updates
                    .iter()
                    .map(|update| super::PageUpdate {
                        at: super::moment_words(update.at),
                        status: update.status,
                        message: update.message.clone(),
                    })
                    .collect(),
            })
            .collect(),
        maintenance: report
            .maintenance
            .iter()
            .map(|window| AdminWindow {
                id: window.id,
                title: window.title.clone(),
                when: super::window_words(window.starts_at, window.ends_at, zone),
                components: window.components.join(", "),
            })
            .collect(),
        zone: zone.to_string(),
    })
}

/// Opens an incident (admins only).
#[server(prefix = "/api", endpoint = "admin_incident_open")]
pub async fn open_incident(form: IncidentForm) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.status.open_incident(&auth.user, &form, &request).await.map(|_| ()).map_err(respond_with_error)
}

/// Adds an update to an incident, made on `version` of it (admins only).
#[server(prefix = "/api", endpoint = "admin_incident_update")]
pub async fn update_incident(id: i64, version: i64, form: IncidentForm) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.status.update_incident(&auth.user, id, version, &form, &request).await.map_err(respond_with_error)
}

/// Announces a maintenance window (admins only).
#[server(prefix = "/api", endpoint = "admin_maintenance_schedule")]
pub async fn schedule_maintenance(form: MaintenanceForm) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.status.schedule_maintenance(&auth.user, &form, &request).await.map(|_| ()).map_err(respond_with_error)
}

/// Cancels a maintenance window (admins only).
#[server(prefix = "/api", endpoint = "admin_maintenance_cancel")]
pub async fn cancel_maintenance(id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state.status.cancel_maintenance(&auth.user, id, &request).await.map_err(respond_with_error)
}

/// Adds a component (no `id`) or changes one (admins only).
#[server(prefix = "/api", endpoint = "admin_component_save")]
pub async fn save_component(
    id: Option<i64>,
    name: String,
    description: String,
    position: String,
) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    state
        .status
        .save_component(&auth.user, id, &name, &description, &position, &request)
        .await
        .map_err(respond_with_error)
}

/// The actions of the page, shared by its sections; the page reloads after each.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // Server actions have no Debug.
struct Actions {
    open: ServerAction<OpenIncident>,
    update: ServerAction<UpdateIncident>,
    schedule: ServerAction<ScheduleMaintenance>,
    cancel: ServerAction<CancelMaintenance>,
    component: ServerAction<SaveComponent>,
}

/// `/admin/status`.
#[component]
pub fn AdminStatusPage() -> impl IntoView {
    let actions = Actions {
        open: ServerAction::new(),
        update: ServerAction::new(),
        schedule: ServerAction::new(),
        cancel: ServerAction::new(),
        component: ServerAction::new(),
    };
    let versions = move || {
        (
            actions.open.version().get(),
            actions.update.version().get(),
            actions.schedule.version().get(),
            actions.cancel.version().get(),
            actions.component.version().get(),
        )
    };
    let page = Resource::new_blocking(versions, |_| get_status_admin());
    view! {
        <Title text="Status operations"/>
        <h1>"Status operations"</h1>
        <p>
            <a href="/status">"The public status page"</a> " · " <a href="/status/incidents">"Incident history"</a>
            " · " <a href="/admin/status/content">"Edit the matrix, service level and known issues"</a>
            " · " <a href="/admin/status/revisions">"Revisions"</a>
            " · " <a href="/admin/status/webhooks">"Webhooks"</a>
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(view) => view! { <Operations view actions/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The error of `action`'s last run, for field `name` (`None` for any other field or no error).
fn field_error<A>(action: ServerAction<A>, name: &'static str) -> impl Fn() -> Option<String> + Copy
where
    A: leptos::server_fn::ServerFn<Output = (), Error = AppError> + Clone + Send + Sync + 'static,
{
    move || action.value().get().and_then(Result::err).and_then(|error| error.for_field(name))
}

#[component]
fn Operations(view: AdminStatusView, actions: Actions) -> impl IntoView {
    let AdminStatusView { components, incidents, maintenance, zone } = view;
    let choices: Vec<(i64, String)> = components.iter().map(|c| (c.id, c.name.clone())).collect();
    view! {
        <section class="card" aria-labelledby="open-heading">
            <h2 id="open-heading">"Open an incident"</h2>
            <OpenIncidentForm choices=choices.clone() action=actions.open/>
        </section>
        <section aria-labelledby="open-incidents-heading">
            <h2 id="open-incidents-heading">"Open incidents"</h2>
            {move || other_error(actions.update)().map(|error| view! { <ErrorNotice error/> })}
            {if incidents.is_empty() {
                view! { <p>"None."</p> }.into_any()
            } else {
                incidents.into_iter().map(|incident| view! {
                    <IncidentUpdateCard incident choices=choices.clone() action=actions.update/>
                }).collect_view().into_any()
            }}
        </section>
        <section class="card" aria-labelledby="maintenance-heading">
            <h2 id="maintenance-heading">"Maintenance"</h2>
            {move || other_error(actions.cancel)().map(|error| view! { <ErrorNotice error/> })}
            {if maintenance.is_empty() {
                view! { <p>"No maintenance announced."</p> }.into_any()
            } else {
                view! {
                    <ul>{maintenance.into_iter().map(|window| view! {
                        <li>
                            <strong>{window.title}</strong> " · " {window.when} " · " {window.components} " "
                            <ActionForm action=actions.cancel attr:class="inline">
                                <input type="hidden" name="id" value=window.id.to_string()/>
                                <button type="submit" class="danger">"Cancel"</button>
                            </ActionForm>
                        </li>
                    }).collect_view()}</ul>
                }.into_any()
            }}
            <h3>"Announce a window"</h3>
            <MaintenanceWindowForm choices zone action=actions.schedule/>
        </section>
        <section class="card" aria-labelledby="components-heading">
            <h2 id="components-heading">"Components"</h2>
            <ComponentForms components action=actions.component/>
        </section>
    }
}

/// A select of incident statuses; `resolved` only when `may_resolve`.
#[component]
fn StatusSelect(id: String, current: IssueStatus, may_resolve: bool) -> impl IntoView {
    view! {
        <select id=id name="form[status]">
            {IssueStatus::ALL.into_iter().filter(|status| may_resolve || *status != IssueStatus::Resolved).map(|status| view! {
                <option value=status.as_str() selected=status == current>{status.label()}</option>
            }).collect_view()}
        </select>
    }
}

/// One impact select per component; `empty` is the label of the choice that sends nothing.
#[component]
fn ImpactSelects(prefix: String, choices: Vec<(i64, String)>, empty: &'static str, offer_end: bool) -> impl IntoView {
    view! {
        <fieldset class="impacts">
            <legend>"Affected components"</legend>
            {choices.into_iter().map(|(id, name)| {
                let field = format!("{prefix}-impact-{id}");
                view! {
                    <div class="field">
                        <label for=field.clone()>{name}</label>
                        <select id=field name=format!("form[impacts][{id}]")>
                            <option value="">{empty}</option>
                            {ComponentStatus::IMPACTS.into_iter()
                                .filter(|impact| offer_end || *impact != ComponentStatus::Operational)
                                .map(|impact| view! { <option value=impact.as_str()>{impact.label()}</option> })
                                .collect_view()}
                        </select>
                    </div>
                }
            }).collect_view()}
        </fieldset>
    }
}

#[component]
fn OpenIncidentForm(choices: Vec<(i64, String)>, action: ServerAction<OpenIncident>) -> impl IntoView {
    let (title, message, impacts) =
        (field_error(action, "title"), field_error(action, "message"), field_error(action, "impacts"));
    let done = move || action.value().get().is_some_and(|result| result.is_ok());
    view! {
        {move || other_error(action)().map(|error| view! { <ErrorNotice error/> })}
        {move || done().then(|| view! { <p role="status" class="notice">"The incident is open and on the status page."</p> })}
        <ActionForm action attr:class="stack">
            <label for="incident-title">"Title"</label>
            <input id="incident-title" name="form[title]" required=true maxlength="200"
                aria-describedby="incident-title-error" aria-invalid=move || title().map(|_| "true")/>
            <FieldError id="incident-title-error".to_owned() message=Signal::derive(title)/>
            <label for="incident-status">"Status"</label>
            <StatusSelect id="incident-status".to_owned() current=IssueStatus::Investigating may_resolve=false/>
            <ImpactSelects prefix="new".to_owned() choices empty="Not affected" offer_end=false/>
            <FieldError id="incident-impacts-error".to_owned() message=Signal::derive(impacts)/>
            <label for="incident-message">"What users notice, and what is being done"</label>
            <textarea id="incident-message" name="form[message]" rows="3" required=true maxlength="4000"
                aria-describedby="incident-message-error" aria-invalid=move || message().map(|_| "true")></textarea>
            <FieldError id="incident-message-error".to_owned() message=Signal::derive(message)/>
            <button type="submit">"Open the incident"</button>
        </ActionForm>
    }
}

#[component]
fn IncidentUpdateCard(
    incident: AdminIncident,
    choices: Vec<(i64, String)>,
    action: ServerAction<UpdateIncident>,
) -> impl IntoView {
    let AdminIncident { id, version, title, status, opened, impacts, updates } = incident;
    let prefix = format!("incident-{id}");
    let message = field_error(action, "message");
    let affected: Vec<String> =
        impacts.iter().map(|(_, name, impact)| format!("{name}: {}", impact.label().to_lowercase())).collect();
    view! {
        <article class="card incident">
            <h3>{title}</h3>
            <p><span class=format!("badge status-{status}")>{status.label()}</span> " Opened " {opened} "."</p>
            <p>"Affects: " {if affected.is_empty() { "nothing now".to_owned() } else { affected.join(", ") }}</p>
            <details>
                <summary>"Updates"</summary>
                <super::Updates updates/>
            </details>
            <ActionForm action attr:class="stack">
                <input type="hidden" name="id" value=id.to_string()/>
                <input type="hidden" name="version" value=version.to_string()/>
                <label for=format!("{prefix}-status")>"Status from now on"</label>
                <StatusSelect id=format!("{prefix}-status") current=status may_resolve=true/>
                <ImpactSelects prefix=prefix.clone() choices empty="No change" offer_end=true/>
                <label for=format!("{prefix}-message")>"Update"</label>
                <textarea id=format!("{prefix}-message") name="form[message]" rows="2" required=true maxlength="4000"
                    aria-describedby=format!("{prefix}-message-error")></textarea>
                <FieldError id=format!("{prefix}-message-error") message=Signal::derive(message)/>
                <button type="submit">"Post the update"</button>
            </ActionForm>
        </article>
    }
}

#[component]
fn MaintenanceWindowForm(
    choices: Vec<(i64, String)>,
    zone: String,
    action: ServerAction<ScheduleMaintenance>,
) -> impl IntoView {
    let errors = [
        field_error(action, "title"),
        field_error(action, "description"),
        field_error(action, "starts"),
        field_error(action, "ends"),
        field_error(action, "components"),
    ];
    view! {
        {move || other_error(action)().map(|error| view! { <ErrorNotice error/> })}
        <ActionForm action attr:class="stack">
            <label for="window-title">"Title"</label>
            <input id="window-title" name="form[title]" required=true maxlength="200" aria-describedby="window-title-error"/>
            <FieldError id="window-title-error".to_owned() message=Signal::derive(errors[0])/>
            <label for="window-starts">{format!("Starts ({zone} time)")}</label>
            <input id="window-starts" name="form[starts]" type="datetime-local" required=true aria-describedby="window-starts-error"/>
            <FieldError id="window-starts-error".to_owned() message=Signal::derive(errors[2])/>
            <label for="window-ends">{format!("Ends ({zone} time)")}</label>
            <input id="window-ends" name="form[ends]" type="datetime-local" required=true aria-describedby="window-ends-error"/>
            <FieldError id="window-ends-error".to_owned() message=Signal::derive(errors[3])/>
            <fieldset>
                <legend>"Affected components"</legend>
                {choices.into_iter().map(|(id, name)| view! {
                    <label class="check">
                        <input type="checkbox" name=format!("form[components][{id}]")/> " " {name}
                    </label>
                }).collect_view()}
            </fieldset>
            <FieldError id="window-components-error".to_owned() message=Signal::derive(errors[4])/>
            <label for="window-description">"What is done, and what users notice"</label>
            <textarea id="window-description" name="form[description]" rows="2" required=true maxlength="4000"
                aria-describedby="window-description-error"></textarea>
            <FieldError id="window-description-error".to_owned() message=Signal::derive(errors[1])/>
            <button type="submit">"Announce"</button>
        </ActionForm>
    }
}

#[component]
fn ComponentForms(components: Vec<AdminComponent>, action: ServerAction<SaveComponent>) -> impl IntoView {
    let name_error = field_error(action, "name");
    let position_error = field_error(action, "position");
    view! {
        {move || other_error(action)().map(|error| view! { <ErrorNotice error/> })}
        <p class="field-error" role="alert">{move || name_error().or_else(position_error)}</p>
        <table class="data stacked">
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"Now"</th><th scope="col">"Description"</th>
                <th scope="col">"Order"</th><th scope="col"><span class="visually-hidden">"Save"</span></th>
            </tr></thead>
            <tbody>
                {components.into_iter().map(|component| {
                    let form = format!("component-{}", component.id);
                    view! {
                        <tr>
                            <td data-label="Name">
                                <input form=form.clone() name="name" value=component.name.clone() required=true maxlength="60"
                                    aria-label=format!("Name of {}", component.name)/>
                            </td>
                            <td data-label="Now">
                                <span class=format!("badge component-{}", component.status)>{component.status.label()}</span>
                            </td>
                            <td data-label="Description">
                                <input form=form.clone() name="description" value=component.description maxlength="500"
                                    aria-label=format!("Description of {}", component.name)/>
                            </td>
                            <td data-label="Order">
                                <input form=form.clone() name="position" value=component.position.to_string() inputmode="numeric"
                                    aria-label=format!("Order of {}", component.name)/>
                            </td>
                            <td>
                                <ActionForm action attr:id=form>
                                    <input type="hidden" name="id" value=component.id.to_string()/>
                                    <button type="submit">"Save"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <h3>"Add a component"</h3>
        <ActionForm action attr:class="stack">
            <label for="component-name">"Name"</label>
            <input id="component-name" name="name" required=true maxlength="60"/>
            <label for="component-description">"Description"</label>
            <input id="component-description" name="description" maxlength="500"/>
            <label for="component-position">"Order"</label>
            <input id="component-position" name="position" inputmode="numeric" value="100"/>
            <button type="submit">"Add"</button>
        </ActionForm>
    }
}
