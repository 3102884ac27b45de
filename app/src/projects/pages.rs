//! The project pages: `/projects` (the viewer's projects; every project for admins) and `/projects/NAME`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::api::{ReprovisionProject, ResumeProject, SuspendProject, get_project, get_projects};
use super::member_pages::{HistorySection, MemberActions, MembersSection};
use super::model::ProjectState;
use super::request_pages::{ChangeActions, CloseSection, ClosedNotice, RequestsSection};
use super::view::{AttemptView, ProjectSummary, ProjectView};
use crate::applications::model::RESOURCES;
use crate::components::ErrorNotice;

/// How often a hydrated page looks again while its project is being provisioned.
const REFRESH_MS: u64 = 1_500;

/// A project state as a badge: text and colour.
#[component]
pub fn ProjectStateBadge(state: ProjectState) -> impl IntoView {
    view! { <span class=format!("badge project-{}", state.as_str())>{state.label()}</span> }
}

/// `/projects`.
#[component]
pub fn ProjectsPage() -> impl IntoView {
    let rows = Resource::new_blocking(|| (), |()| get_projects());
    view! {
        <Title text="Projects"/>
        <h1>"Projects"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) if rows.is_empty() => view! {
                        <p>"You are not in any project yet. " <a href="/applications/new">"Apply for one"</a> "."</p>
                    }.into_any(),
                    Ok(rows) => view! { <ProjectList rows/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProjectList(rows: Vec<ProjectSummary>) -> impl IntoView {
    view! {
        <table class="data stacked">
            <thead><tr>
                <th scope="col">"Project"</th><th scope="col">"Title"</th><th scope="col">"State"</th>
                <th scope="col">"Your role"</th><th scope="col">"Quota"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|row| view! {
                    <tr>
                        <td data-label="Project"><a href=format!("/projects/{}", row.name)>{row.name.clone()}</a></td>
                        <td data-label="Title">{row.title}</td>
                        <td data-label="State"><ProjectStateBadge state=row.state/></td>
                        <td data-label="Your role">{row.role.map_or("—", |role| role.label())}</td>
                        <td data-label="Quota">{row.quota.summary()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// `/projects/NAME`. While the project is on its way to the cluster, a hydrated page looks again every 1.5 s and
/// shows what changed; without JavaScript a reload shows the new state.
#[component]
pub fn ProjectPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let reprovision = ServerAction::<ReprovisionProject>::new();
    let members = MemberActions::new();
    let changes = ChangeActions::new();
    let admin = AdminActions { reprovision, suspend: ServerAction::new(), resume: ServerAction::new() };
    let watch = ProjectWatch::new();
    let project = Resource::new_blocking(
        move || {
            (
                name(),
                reprovision.version().get(),
                admin.suspend.version().get(),
                admin.resume.version().get(),
                members.versions(),
                changes.versions(),
                watch.refresh.get(),
            )
        },
        |(name, ..)| get_project(name),
    );
    // Only in the browser: effects do not run on the server.
    Effect::new(move |_| {
        if let Some(Ok(shown)) = project.get() {
            watch.start(shown);
        }
    });
    view! {
        <Title text=move || format!("Project {}", name())/>
        <div class="project-page" node_ref=watch.page>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match project.await {
                        Ok(project) => view! { <ProjectDetails project admin members changes watch/> }.into_any(),
                        Err(error) => view! { <h1>"Project"</h1> <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// What the page watches while its project is on its way to the cluster. A newer state replaces the page, unless
/// the user has typed into one of its forms: rendering the page again would throw the typing away, so the page then
/// says what changed and offers to show it.
#[derive(Clone, Copy)]
struct ProjectWatch {
    /// Bumped to fetch and render the project again.
    refresh: RwSignal<u32>,
    /// The page's element, whose forms are checked for typing.
    page: NodeRef<leptos::html::Div>,
    /// A newer state that was not rendered because the user is typing.
    newer: RwSignal<Option<ProjectView>>,
    /// Which rendering the running watch belongs to; a watch of an older rendering stops.
    rendering: StoredValue<u64>,
}

impl ProjectWatch {
    fn new() -> Self {
        Self {
            refresh: RwSignal::new(0),
            page: NodeRef::new(),
            newer: RwSignal::new(None),
            rendering: StoredValue::new(0),
        }
    }

    /// Starts watching a freshly rendered project, if it is waiting for the cluster.
    fn start(self, shown: ProjectView) {
        self.newer.set(None);
        self.rendering.update_value(|rendering| *rendering += 1);
        if waits(&shown) {
            self.look_again(shown, self.rendering.get_value());
        }
    }

    /// Whether `rendering` is still the page's current rendering (false once the page is left).
    fn current(self, rendering: u64) -> bool {
        self.rendering.try_get_value() == Some(rendering)
    }

    fn look_again(self, shown: ProjectView, rendering: u64) {
        set_timeout(
            move || {
                leptos::task::spawn_local(async move {
                    if !self.current(rendering) {
                        return;
                    }
                    let latest = get_project(shown.name.clone()).await;
                    if !self.current(rendering) {
                        return;
                    }
                    match latest {
                        Ok(latest) if progress(&latest) != progress(&shown) => {
                            if self.page.get_untracked().is_some_and(|page| typed_into(&page)) {
                                self.newer.set(Some(latest));
                            } else {
                                self.refresh.update(|refresh| *refresh += 1);
                            }
                        }
                        // Unchanged, or a failed look (the server restarting, say): look again later.
                        _ => self.look_again(shown, rendering),
                    }
                });
            },
            std::time::Duration::from_millis(REFRESH_MS),
        );
    }
}

/// Whether the user has typed into a form under `page`: a field whose value differs from the one it was rendered
/// with. Unlike listening for input events, this also sees typing done before the page hydrated, and typing undone
/// does not count.
fn typed_into(page: &web_sys::Element) -> bool {
    use wasm_bindgen::JsCast;
    let elements = |tag: &str| {
        let found = page.get_elements_by_tag_name(tag);
        (0..found.length()).filter_map(move |index| found.item(index))
    };
    let inputs =
        elements("input").filter_map(|element| element.dyn_into::<web_sys::HtmlInputElement>().ok()).any(|input| {
            match input.type_().as_str() {
                "checkbox" | "radio" => input.checked() != input.default_checked(),
                "hidden" | "submit" | "button" | "reset" => false,
                _ => input.value() != input.default_value(),
            }
        });
    inputs
        || elements("textarea")
            .filter_map(|element| element.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
            .any(|text| text.default_value().is_ok_and(|default| text.value() != default))
        || elements("option")
            .filter_map(|element| element.dyn_into::<web_sys::HtmlOptionElement>().ok())
            .any(|option| option.selected() != option.default_selected())
}

/// What the page watches for while the project is on its way to the cluster.
fn progress(project: &ProjectView) -> (ProjectState, bool, usize, Option<&str>) {
    (project.state, project.job_pending, project.attempts.len(), project.provision_error.as_deref())
}

/// The admins' actions on the project page.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // Server actions have no Debug.
struct AdminActions {
    reprovision: ServerAction<ReprovisionProject>,
    suspend: ServerAction<SuspendProject>,
    resume: ServerAction<ResumeProject>,
}

/// Whether the page should look again soon: the project is on its way to the cluster.
fn waits(project: &ProjectView) -> bool {
    project.state == ProjectState::Provisioning || project.job_pending
}

#[component]
fn ProjectDetails(
    project: ProjectView,
    admin: AdminActions,
    members: MemberActions,
    changes: ChangeActions,
    watch: ProjectWatch,
) -> impl IntoView {
    let reprovision = admin.reprovision;
    let admin_error = move || {
        [admin.reprovision.value().get(), admin.resume.value().get()]
            .into_iter()
            .flatten()
            .find_map(Result::err)
            .or_else(|| {
                admin.suspend.value().get().and_then(Result::err).filter(|error| error.for_field("reason").is_none())
            })
    };
    let reason_error =
        move || admin.suspend.value().get().and_then(Result::err).and_then(|error| error.for_field("reason"));
    let waiting = waits(&project).then_some(if project.state == ProjectState::Provisioning {
        "Setting up the namespace, quota, limits and role bindings on the cluster. This page updates by itself; \
         without JavaScript, reload it."
    } else {
        "A change is being applied to the cluster."
    });
    let shown_state = project.state;
    let notice = move || cluster_notice(watch, shown_state, waiting);
    let failed = (project.state == ProjectState::ProvisioningFailed).then(|| {
        view! {
            <div class="notice notice-error" role="alert">
                <h2>"Provisioning failed"</h2>
                <p>"Berth stopped trying: after repeated attempts, or at once when trying again cannot help. The admins have been told."</p>
                {project.provision_error.clone().map(|error| view! { <p class="prose-text">"Last error: " {error}</p> })}
            </div>
        }
    });
    let ProjectView { name, title, organisation, state, quota, end_date, owner, application_id, .. } = project.clone();
    let billing = crate::billing::views::project_billing_resource(name.clone());
    view! {
        <Title text=format!("Project {name}")/>
        <h1>"Project " {name.clone()} " " <ProjectStateBadge state/></h1>
        <p class="lede">{title}</p>
        {notice}
        {failed}
        {(state == ProjectState::Closed).then(|| view! { <ClosedNotice project=project.clone() actions=changes/> })}
        {move || admin_error().map(|error| view! { <ErrorNotice error/> })}
        {project.suspend_reason.clone().filter(|_| state == ProjectState::Suspended).map(|reason| view! {
            <div class="notice notice-warn" role="status">
                <h2>"Suspended"</h2>
                {if project.expired_at.is_some() {
                    view! {
                        <p class="prose-text">"Berth suspended this project: " {reason} "."</p>
                        <p>"Its objects stay on the cluster, but its quota there is zero. Ask for a renewal below: once an admin approves it, the project is resumed."</p>
                    }.into_any()
                } else {
                    view! {
                        <p class="prose-text">"An admin suspended this project: " {reason}</p>
                        <p>"Its objects stay on the cluster, but its quota there is zero until an admin resumes it."</p>
                    }.into_any()
                }}
            </div>
        })}
        <section class="card" aria-labelledby="facts-heading">
            <h2 id="facts-heading">"The project"</h2>
            <dl class="facts">
                <dt>"Namespace"</dt><dd><code>{name.clone()}</code></dd>
                <dt>"State"</dt><dd>{state.label()}</dd>
                <dt>"Organisation"</dt><dd>{organisation}</dd>
                <dt>"Owner"</dt><dd>{owner}</dd>
                <dt>"Expected end"</dt><dd>{end_date.format("%-d %B %Y").to_string()}</dd>
                <dt>"Approved"</dt><dd>{project.approved_at.format("%Y-%m-%d %H:%M UTC").to_string()}</dd>
                <dt>"Active since"</dt>
                <dd>{project.activated_at.map_or_else(|| "not yet".to_owned(), |at| at.format("%Y-%m-%d %H:%M UTC").to_string())}</dd>
                <dt>"Application"</dt><dd><a href=format!("/applications/{application_id}")>{format!("Application {application_id}")}</a></dd>
            </dl>
        </section>
        <section class="card" aria-labelledby="quota-heading">
            <h2 id="quota-heading">"Granted quota"</h2>
            <table class="data quota">
                <thead><tr><th scope="col">"Resource"</th><th scope="col">"Granted"</th></tr></thead>
                <tbody>
                    {RESOURCES.into_iter().map(|resource| view! {
                        <tr><th scope="row">{resource.label()}</th><td>{quota.get(resource).to_string()}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            {matches!(state, ProjectState::Suspended | ProjectState::Closed).then(|| view! {
                <p class="hint">"While the project is suspended or closed its quota on the cluster is zero."</p>
            })}
        </section>
        <crate::billing::views::ProjectCostSection name=name.clone() billing/>
        {(state != ProjectState::Closed).then(|| view! { <RequestsSection project=project.clone() actions=changes billing/> })}
        <MembersSection project=project.clone() actions=members/>
        {project.drift.clone().map(|drift| view! {
            <section class="card" aria-labelledby="drift-heading">
                <h2 id="drift-heading">"Drift check"</h2>
                <p>"Last checked " {drift.checked_at.format("%Y-%m-%d %H:%M UTC").to_string()} ": "
                    {if drift.differences.is_empty() { "the cluster matches the project." } else { "the cluster differs from the project:" }}
                </p>
                {(!drift.differences.is_empty()).then(|| view! {
                    <ul>{drift.differences.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}</ul>
                })}
            </section>
        })}
        {project.viewer_is_admin.then(|| {
            let (suspend_name, resume_name) = (name.clone(), name.clone());
            view! {
            <section class="card" aria-labelledby="admin-heading">
                <h2 id="admin-heading">"Admin"</h2>
                <ActionForm action=reprovision attr:class="inline">
                    <input type="hidden" name="name" value=name.clone()/>
                    <button type="submit">"Reprovision"</button>
                </ActionForm>
                <p class="hint">"Applies the project's objects to the cluster again (after a failure, or to repair drift)."</p>
                {(state == ProjectState::Active).then(|| view! {
                    <ActionForm action=admin.suspend attr:class="stack">
                        <input type="hidden" name="name" value=suspend_name/>
                        <label for="suspend-reason">"Reason for suspending (the managers are told)"</label>
                        <textarea id="suspend-reason" name="reason" rows="2" maxlength="1000" required=true
                            aria-invalid=move || reason_error().map(|_| "true")
                            aria-describedby="suspend-reason-error"></textarea>
                        {move || reason_error().map(|message| view! { <p id="suspend-reason-error" class="field-error">{message}</p> })}
                        <button type="submit" class="danger">"Suspend"</button>
                    </ActionForm>
                })}
                {(state == ProjectState::Suspended).then(|| view! {
                    <ActionForm action=admin.resume attr:class="inline">
                        <input type="hidden" name="name" value=resume_name/>
                        <button type="submit">"Resume"</button>
                    </ActionForm>
                })}
            </section>
            }
        })}
        {(state != ProjectState::Closed && project.viewer_manages()).then(|| view! {
            <CloseSection project=project.clone() action=changes.close/>
        })}
        <HistorySection events=project.events.clone()/>
        <section class="card" aria-labelledby="attempts-heading">
            <h2 id="attempts-heading">"Provisioning history"</h2>
            <AttemptTable attempts=project.attempts.clone()/>
        </section>
    }
}

/// What the project page says about its way to the cluster: `waiting`, or a newer state that the page did not
/// render over the user's typing, with a button to show it.
fn cluster_notice(watch: ProjectWatch, shown_state: ProjectState, waiting: Option<&'static str>) -> AnyView {
    let Some(newer) = watch.newer.get() else {
        return waiting
            .map(|text| {
                view! {
                    <div class="notice" role="status"><p><span class="spinner" aria-hidden="true"></span>{text}</p></div>
                }
            })
            .into_any();
    };
    let what = if newer.state == shown_state {
        "The change has been applied to the cluster.".to_owned()
    } else {
        format!("The project is now {}.", newer.state.label().to_lowercase())
    };
    view! {
        <div class="notice" role="status">
            <p>{what} " The page stays as it is so that what you typed is kept. "
                <button type="button" on:click=move |_| watch.refresh.update(|refresh| *refresh += 1)>
                    "Show the new state"
                </button>
            </p>
        </div>
    }
    .into_any()
}

#[component]
fn AttemptTable(attempts: Vec<AttemptView>) -> impl IntoView {
    if attempts.is_empty() {
        return view! { <p>"No attempt yet: the job waits to run."</p> }.into_any();
    }
    view! {
        <table class="data stacked">
            <thead><tr>
                <th scope="col">"Started (UTC)"</th><th scope="col">"Action"</th><th scope="col">"Backend"</th>
                <th scope="col">"Outcome"</th><th scope="col">"Error"</th>
            </tr></thead>
            <tbody>
                {attempts.into_iter().map(|attempt| view! {
                    <tr>
                        <td data-label="Started">{attempt.started_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                        <td data-label="Action">{attempt.action} " (generation " {attempt.generation} ")"</td>
                        <td data-label="Backend">{attempt.backend}</td>
                        <td data-label="Outcome"><span class=format!("badge attempt-{}", attempt.outcome)>{attempt.outcome.clone()}</span></td>
                        <td data-label="Error" class="prose-text">{attempt.error.unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
