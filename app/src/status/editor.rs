//! `/admin/status/content` and `/admin/status/revisions`: editing what the status page says about the service
//! (stage and service level, the maturity matrix, work remaining, known issues). Every saved edit is a revision with
//! who, when and what changed; each can be compared with the one before it and restored. A form carries the revision
//! it was opened on, and an edit is refused when its part changed since (no lost updates). Every form posts without
//! JavaScript.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::content::{ContentIssue, DiffLine, LineChange, StatusContent};
use super::model::{Health, IssueStatus};
use crate::components::{ErrorNotice, FieldError, field_message, other_error};
use crate::error::AppError;

/// A maturity matrix row in the editing form; every field is text as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRowForm {
    /// Indicator name; a row left blank is skipped.
    #[serde(default)]
    pub indicator: String,
    /// Current value.
    #[serde(default)]
    pub current_value: String,
    /// Current state (`ok`, `warn`, `bad`).
    #[serde(default)]
    pub current_state: String,
    /// Best feasible value.
    #[serde(default)]
    pub best_value: String,
    /// Best feasible state.
    #[serde(default)]
    pub best_state: String,
    /// Display order (a whole number; rows are sorted by it).
    #[serde(default)]
    pub position: String,
    /// Present when the row is to be removed.
    #[serde(default)]
    pub remove: Option<String>,
}

/// A work area row in the editing form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaRowForm {
    /// Area name; a row left blank is skipped.
    #[serde(default)]
    pub area: String,
    /// What remains to be done.
    #[serde(default)]
    pub description: String,
    /// Display order.
    #[serde(default)]
    pub position: String,
    /// Present when the row is to be removed.
    #[serde(default)]
    pub remove: Option<String>,
}

/// The known issue form (adding when `id` is 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownIssueForm {
    /// The issue's id, 0 for a new one.
    #[serde(default)]
    pub id: i64,
    /// One-line summary.
    #[serde(default)]
    pub title: String,
    /// What users see.
    #[serde(default)]
    pub description: String,
    /// Where it stands (stored form).
    #[serde(default)]
    pub status: String,
    /// What users can do meanwhile.
    #[serde(default)]
    pub workaround: String,
    /// The affected components' ids (the keys; a checked box sends "on").
    #[serde(default)]
    pub components: BTreeMap<String, String>,
}

/// What the editing page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentEditorView {
    /// The revision the forms are made on.
    pub revision: i64,
    /// The content as of that revision.
    pub content: StatusContent,
    /// Components (id, name) that known issues may affect.
    pub components: Vec<(i64, String)>,
    /// The latest revision in words: "Revision 4, 7 December 2026 14:05 UTC by Ada: …".
    pub latest: Option<String>,
}

/// A page of the revision list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionsView {
    /// Newest first: number, summary, author, when (in words), restored from.
    pub revisions: Vec<RevisionEntry>,
    /// The `before` of the next page, if there are older revisions.
    pub older: Option<i64>,
}

/// A revision as the pages list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionEntry {
    /// Number.
    pub revision: i64,
    /// What changed.
    pub summary: String,
    /// Who ("Berth" for the system).
    pub author: String,
    /// When, in words.
    pub at: String,
    /// The revision it restored.
    pub restored_from: Option<i64>,
}

/// One revision compared with the one before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionView {
    /// The revision.
    pub entry: RevisionEntry,
    /// The latest revision (a restore is made on it).
    pub latest: i64,
    /// Lines of the content, marked as added, removed or kept since the revision before.
    pub diff: Vec<DiffLine>,
}

#[cfg(feature = "ssr")]
use crate::ssr::{respond_with_error, signed_in_admin};

/// The content and the revision it is at (admins only).
#[server(prefix = "/api", endpoint = "admin_status_content")]
pub async fn get_content_editor() -> Result<ContentEditorView, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    ssr::editor_view(&state.status, &auth.user).await.map_err(respond_with_error)
}

/// Saves the stage and service level, edited on revision `base` (admins only).
#[server(prefix = "/api", endpoint = "admin_status_summary_save")]
pub async fn save_summary(base: i64, stage: String, service_level: String) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    ssr::save_summary(&state.status, &auth.user, base, &stage, &service_level, &request)
        .await
        .map_err(respond_with_error)
}

/// Saves the maturity matrix, edited on revision `base` (admins only).
#[server(prefix = "/api", endpoint = "admin_status_matrix_save")]
pub async fn save_matrix(base: i64, rows: BTreeMap<String, MatrixRowForm>) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    ssr::save_matrix(&state.status, &auth.user, base, &rows, &request).await.map_err(respond_with_error)
}

/// Saves the work remaining, edited on revision `base` (admins only).
#[server(prefix = "/api", endpoint = "admin_status_areas_save")]
pub async fn save_areas(base: i64, rows: BTreeMap<String, AreaRowForm>) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    ssr::save_areas(&state.status, &auth.user, base, &rows, &request).await.map_err(respond_with_error)
}

/// Adds or changes a known issue, edited on revision `base` (admins only).
#[server(prefix = "/api", endpoint = "admin_known_issue_save")]
pub async fn save_known_issue(base: i64, form: KnownIssueForm) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    ssr::save_known_issue(&state.status, &auth.user, base, &form, &request).await.map_err(respond_with_error)
}

/// Removes a known issue from the page, on revision `base` (admins only; a restore brings it back).
#[server(prefix = "/api", endpoint = "admin_known_issue_remove")]
pub async fn remove_known_issue(base: i64, id: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    ssr::remove_known_issue(&state.status, &auth.user, base, id, &request).await.map_err(respond_with_error)
}

/// A page of revisions, newest first, older than `before` (admins only).
#[server(prefix = "/api", endpoint = "admin_status_revisions")]
pub async fn get_revisions(before: Option<i64>) -> Result<RevisionsView, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    ssr::revisions(&state.status, &auth.user, before).await.map_err(respond_with_error)
}

/// One revision and what it changed (admins only).
#[server(prefix = "/api", endpoint = "admin_status_revision")]
pub async fn get_revision(revision: i64) -> Result<RevisionView, AppError> {
    let (state, auth, _) = signed_in_admin()?;
    ssr::revision(&state.status, &auth.user, revision).await.map_err(respond_with_error)
}

/// Makes the content what it was at `revision`, as a new revision on `base` (admins only).
#[server(prefix = "/api", endpoint = "admin_status_restore")]
pub async fn restore_revision(base: i64, revision: i64) -> Result<(), AppError> {
    let (state, auth, request) = signed_in_admin()?;
    ssr::restore(&state.status, &auth.user, base, revision, &request).await.map_err(respond_with_error)
}

/// The page's actions; the page reloads after each.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // Server actions have no Debug.
struct EditActions {
    summary: ServerAction<SaveSummary>,
    matrix: ServerAction<SaveMatrix>,
    areas: ServerAction<SaveAreas>,
    issue: ServerAction<SaveKnownIssue>,
    remove: ServerAction<RemoveKnownIssue>,
}

/// `/admin/status/content`.
#[component]
pub fn StatusContentPage() -> impl IntoView {
    let actions = EditActions {
        summary: ServerAction::new(),
        matrix: ServerAction::new(),
        areas: ServerAction::new(),
        issue: ServerAction::new(),
        remove: ServerAction::new(),
    };
    let versions = move || {
        (
            actions.summary.version().get(),
            actions.matrix.version().get(),
            actions.areas.version().get(),
            actions.issue.version().get(),
            actions.remove.version().get(),
        )
    };
    let page = Resource::new_blocking(versions, |_| get_content_editor());
    view! {
        <Title text="Status page content"/>
        <h1>"Status page content"</h1>
        <p>
            <a href="/admin/status">"Status operations"</a> " · " <a href="/admin/status/revisions">"Revisions"</a>
            " · " <a href="/status">"The public status page"</a>
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(view) => view! { <ContentForms view actions/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ContentForms(view: ContentEditorView, actions: EditActions) -> impl IntoView {
    let ContentEditorView { revision, content, components, latest } = view;
    let StatusContent { service, maturity, work_remaining, known_issues } = content;
    let base = revision.to_string();
    let (matrix_base, areas_base, issues_base) = (base.clone(), base.clone(), base.clone());
    view! {
        <p class="hint">{latest.unwrap_or_else(|| "No revision yet.".to_owned())}</p>
        <section class="card" aria-labelledby="summary-heading">
            <h2 id="summary-heading">"Stage and service level"</h2>
            {move || other_error(actions.summary)().map(|error| view! { <ErrorNotice error/> })}
            <ActionForm action=actions.summary attr:class="stack">
                <input type="hidden" name="base" value=base/>
                <label for="stage">"Stage"</label>
                <input id="stage" name="stage" required=true maxlength="60" value=service.stage aria-describedby="stage-error"/>
                <FieldError id="stage-error".to_owned() message=field_message(actions.summary, "stage")/>
                <label for="service-level">"Service level"</label>
                <textarea id="service-level" name="service_level" rows="2" required=true maxlength="1000"
                    aria-describedby="service-level-error">{service.service_level}</textarea>
                <FieldError id="service-level-error".to_owned() message=field_message(actions.summary, "service_level")/>
                <button type="submit">"Save"</button>
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="matrix-heading">
            <h2 id="matrix-heading">"Maturity matrix"</h2>
            <p class="hint">"Rows are shown in the order of their position. Leave the last row blank unless you add one."</p>
            {move || other_error(actions.matrix)().map(|error| view! { <ErrorNotice error/> })}
            <MatrixForm base=matrix_base rows=maturity action=actions.matrix/>
        </section>
        <section class="card" aria-labelledby="areas-heading">
            <h2 id="areas-heading">"Work remaining before production"</h2>
            {move || other_error(actions.areas)().map(|error| view! { <ErrorNotice error/> })}
            <AreasForm base=areas_base areas=work_remaining action=actions.areas/>
        </section>
        <section aria-labelledby="issues-heading">
            <h2 id="issues-heading">"Known issues"</h2>
            {move || other_error(actions.issue)().map(|error| view! { <ErrorNotice error/> })}
            {move || other_error(actions.remove)().map(|error| view! { <ErrorNotice error/> })}
            {known_issues.into_iter().map(Some).chain(std::iter::once(None)).map(|issue| view! {
                <KnownIssueEditor base=issues_base.clone() issue components=components.clone() actions/>
            }).collect_view()}
        </section>
    }
}

#[component]
fn HealthSelect(name: String, label: String, current: Option<Health>) -> impl IntoView {
    view! {
        <select name=name aria-label=label>
            {Health::ALL.into_iter().map(|health| view! {
                <option value=health.as_str() selected=current == Some(health)>{health.label()}</option>
            }).collect_view()}
        </select>
    }
}

#[component]
fn MatrixForm(
    base: String,
    rows: Vec<super::model::MaturityIndicator>,
    action: ServerAction<SaveMatrix>,
) -> impl IntoView {
    let blank = rows.len();
    view! {
        <ActionForm action attr:class="stack">
            <input type="hidden" name="base" value=base/>
            <table class="edit-table">
                <thead><tr>
                    <th scope="col">"Position"</th><th scope="col">"Indicator"</th><th scope="col">"Now"</th>
                    <th scope="col">"State"</th><th scope="col">"Best feasible"</th><th scope="col">"State"</th>
                    <th scope="col">"Remove"</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(Some).chain(std::iter::once(None)).enumerate().map(|(index, row)| {
                        let name = move |field: &str| format!("rows[{index}][{field}]");
                        let label = row.as_ref().map_or_else(|| "new row".to_owned(), |row| row.indicator.clone());
                        let (indicator, now, now_state, best, best_state) = row.map_or_else(
                            || (String::new(), String::new(), None, String::new(), None),
                            |row| (row.indicator, row.current.value, Some(row.current.state), row.best_feasible.value, Some(row.best_feasible.state)),
                        );
                        view! {
                            <tr>
                                <td><input name=name("position") inputmode="numeric" size="3" value=((index + 1) * 10).to_string()
                                    aria-label=format!("Position of {label}")/></td>
                                <td>
                                    <input name=name("indicator") maxlength="80" value=indicator aria-label=format!("Indicator ({label})")/>
                                    <FieldError id=format!("rows-{index}-error") message=field_message(action, name("indicator"))/>
                                </td>
                                <td>
                                    <input name=name("current_value") maxlength="200" value=now aria-label=format!("Now, {label}")/>
                                    <FieldError id=format!("rows-{index}-now-error") message=field_message(action, name("current_value"))/>
                                </td>
                                <td><HealthSelect name=name("current_state") label=format!("State now, {label}") current=now_state/></td>
                                <td>
                                    <input name=name("best_value") maxlength="200" value=best aria-label=format!("Best feasible, {label}")/>
                                    <FieldError id=format!("rows-{index}-best-error") message=field_message(action, name("best_value"))/>
                                </td>
                                <td><HealthSelect name=name("best_state") label=format!("Best feasible state, {label}") current=best_state/></td>
                                <td>{(index < blank).then(|| view! {
                                    <input type="checkbox" name=name("remove") aria-label=format!("Remove {label}")/>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <button type="submit">"Save the matrix"</button>
        </ActionForm>
    }
}

#[component]
fn AreasForm(base: String, areas: Vec<super::model::WorkArea>, action: ServerAction<SaveAreas>) -> impl IntoView {
    let blank = areas.len();
    view! {
        <ActionForm action attr:class="stack">
            <input type="hidden" name="base" value=base/>
            {areas.into_iter().map(Some).chain(std::iter::once(None)).enumerate().map(|(index, area)| {
                let name = move |field: &str| format!("rows[{index}][{field}]");
                let label = area.as_ref().map_or_else(|| "New area".to_owned(), |area| area.area.clone());
                let (title, description) = area.map_or_else(Default::default, |area| (area.area, area.description));
                view! {
                    <fieldset>
                        <legend>{label.clone()}</legend>
                        <label>"Position " <input name=name("position") inputmode="numeric" size="3" value=((index + 1) * 10).to_string()/></label>
                        <label>"Area " <input name=name("area") maxlength="80" value=title/></label>
                        <FieldError id=format!("areas-{index}-error") message=field_message(action, name("area"))/>
                        <label>"What remains" <textarea name=name("description") rows="2" maxlength="1000">{description}</textarea></label>
                        <FieldError id=format!("areas-{index}-description-error") message=field_message(action, name("description"))/>
                        {(index < blank).then(|| view! {
                            <label class="check"><input type="checkbox" name=name("remove")/> " Remove " {label}</label>
                        })}
                    </fieldset>
                }
            }).collect_view()}
            <button type="submit">"Save the work remaining"</button>
        </ActionForm>
    }
}

#[component]
fn KnownIssueEditor(
    base: String,
    issue: Option<ContentIssue>,
    components: Vec<(i64, String)>,
    actions: EditActions,
) -> impl IntoView {
    let id = issue.as_ref().map_or(0, |issue| issue.id);
    let prefix = format!("issue-{id}");
    let (title, description, status, workaround, affected) = issue.map_or_else(
        || (String::new(), String::new(), IssueStatus::Investigating, String::new(), Vec::new()),
        |issue| {
            (issue.title, issue.description, issue.status, issue.workaround.unwrap_or_default(), issue.component_ids)
        },
    );
    let heading = if id == 0 { "Add a known issue".to_owned() } else { format!("#{id} {title}") };
    // The same action serves every issue's form; its field names carry the issue's id.
    let error = move |field: &'static str| field_message(actions.issue, format!("{id}.{field}"));
    let [title_id, status_id, description_id, workaround_id] =
        ["title", "status", "description", "workaround"].map(|field| format!("{prefix}-{field}"));
    let remove_base = base.clone();
    view! {
        <article class="card" id=prefix>
            <h3>{heading}</h3>
            <ActionForm action=actions.issue attr:class="stack">
                <input type="hidden" name="base" value=base/>
                <input type="hidden" name="form[id]" value=id.to_string()/>
                <label for=title_id.clone()>"Title"</label>
                <input id=title_id.clone() name="form[title]" maxlength="120" required=true value=title
                    aria-describedby=format!("{title_id}-error")/>
                <FieldError id=format!("{title_id}-error") message=error("title")/>
                <label for=status_id.clone()>"Status"</label>
                <select id=status_id name="form[status]">
                    {IssueStatus::ALL.into_iter().map(|choice| view! {
                        <option value=choice.as_str() selected=choice == status>{choice.label()}</option>
                    }).collect_view()}
                </select>
                <label for=description_id.clone()>"What users see"</label>
                <textarea id=description_id.clone() name="form[description]" rows="3" required=true maxlength="4000"
                    aria-describedby=format!("{description_id}-error")>{description}</textarea>
                <FieldError id=format!("{description_id}-error") message=error("description")/>
                <label for=workaround_id.clone()>"Workaround (optional)"</label>
                <textarea id=workaround_id.clone() name="form[workaround]" rows="2" maxlength="4000"
                    aria-describedby=format!("{workaround_id}-error")>{workaround}</textarea>
                <FieldError id=format!("{workaround_id}-error") message=error("workaround")/>
                <fieldset>
                    <legend>"Affected components"</legend>
                    {components.into_iter().map(|(component, name)| view! {
                        <label class="check">
                            <input type="checkbox" name=format!("form[components][{component}]") checked=affected.contains(&component)/>
                            " " {name}
                        </label>
                    }).collect_view()}
                </fieldset>
                <button type="submit">{if id == 0 { "Add" } else { "Save" }}</button>
            </ActionForm>
            {(id != 0).then(|| view! {
                <ActionForm action=actions.remove attr:class="inline">
                    <input type="hidden" name="base" value=remove_base/>
                    <input type="hidden" name="id" value=id.to_string()/>
                    <button type="submit" class="danger">"Remove from the page"</button>
                </ActionForm>
            })}
        </article>
    }
}

/// `/admin/status/revisions`.
#[component]
pub fn StatusRevisionsPage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let before = move || query.with(|query| query.get("before").and_then(|before| before.parse::<i64>().ok()));
    let page = Resource::new_blocking(before, get_revisions);
    view! {
        <Title text="Status page revisions"/>
        <h1>"Status page revisions"</h1>
        <p><a href="/admin/status/content">"Edit the content"</a> " · " <a href="/admin/status">"Status operations"</a></p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(RevisionsView { revisions, older }) => view! {
                        <ol class="revisions" reversed=true>
                            {revisions.into_iter().map(|entry| view! {
                                <li><RevisionSummary entry link=true/></li>
                            }).collect_view()}
                        </ol>
                        {older.map(|before| view! { <p><a href=format!("/admin/status/revisions?before={before}")>"Older revisions"</a></p> })}
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RevisionSummary(entry: RevisionEntry, link: bool) -> impl IntoView {
    let RevisionEntry { revision, summary, author, at, restored_from } = entry;
    let name = format!("Revision {revision}");
    view! {
        {if link { view! { <a href=format!("/admin/status/revisions/{revision}")>{name}</a> }.into_any() } else { view! { <strong>{name}</strong> }.into_any() }}
        " · " {at} " · " {author}
        {restored_from.map(|from| format!(" · restores revision {from}"))}
        <p>{summary}</p>
    }
}

/// `/admin/status/revisions/:revision`.
#[component]
pub fn StatusRevisionPage() -> impl IntoView {
    let params = use_params_map();
    let number =
        move || params.with(|params| params.get("revision").and_then(|text| text.parse::<i64>().ok()).unwrap_or(0));
    let restore = ServerAction::<RestoreRevision>::new();
    let page =
        Resource::new_blocking(move || (number(), restore.version().get()), |(revision, _)| get_revision(revision));
    view! {
        <Title text="Status page revision"/>
        <h1>"Status page revision"</h1>
        <p><a href="/admin/status/revisions">"All revisions"</a> " · " <a href="/admin/status/content">"Edit the content"</a></p>
        {move || other_error(restore)().map(|error| view! { <ErrorNotice error/> })}
        {move || restore.value().get().and_then(Result::ok).map(|()| view! {
            <p class="notice" role="status">"Restored: the content is as it was, in a new revision."</p>
        })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(RevisionView { entry, latest, diff }) => {
                        let revision = entry.revision;
                        view! {
                            <RevisionSummary entry link=false/>
                            <h2>{format!("Changes from revision {}", revision - 1)}</h2>
                            <pre class="diff">
                                {diff.into_iter().map(|line| {
                                    let (class, mark) = match line.change {
                                        LineChange::Same => ("diff-same", "  "),
                                        LineChange::Added => ("diff-added", "+ "),
                                        LineChange::Removed => ("diff-removed", "- "),
                                    };
                                    view! { <span class=class>{mark}{line.text}"\n"</span> }
                                }).collect_view()}
                            </pre>
                            {(revision != latest).then(|| view! {
                                <ActionForm action=restore attr:class="stack">
                                    <input type="hidden" name="base" value=latest.to_string()/>
                                    <input type="hidden" name="revision" value=revision.to_string()/>
                                    <button type="submit">{format!("Restore revision {revision}")}</button>
                                </ActionForm>
                            })}
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    //! The editing service: each edit loads the content, checks the part it changes against the revision its form
    //! was made on, applies itself and saves the whole content as the next revision.

    use std::collections::BTreeMap;

    use super::{
        AreaRowForm, ContentEditorView, KnownIssueForm, MatrixRowForm, RevisionEntry, RevisionView, RevisionsView,
    };
    use crate::auth::ssr::{NewAuditEntry, RequestInfo, User, require_admin};
    use crate::error::{AppError, FieldError};
    use crate::status::content::{
        ContentIssue, ContentPart, RevisionLine, StatusContent, content_lines, describe_changes, diff_lines,
    };
    use crate::status::model::{Health, IssueStatus, MaturityIndicator, RatedValue, ServiceSummary, WorkArea};
    use crate::status::ssr::{ContentChange, StatusService, optional_text_field, text_field};

    /// Revisions per page of the list.
    const REVISIONS_PAGE: u32 = 50;

    fn entry(line: RevisionLine) -> RevisionEntry {
        RevisionEntry {
            revision: line.revision,
            summary: line.summary,
            author: if line.author.is_empty() { "Berth".to_owned() } else { line.author },
            at: crate::status::moment_words(line.at),
            restored_from: line.restored_from,
        }
    }

    pub(super) async fn editor_view(service: &StatusService, admin: &User) -> Result<ContentEditorView, AppError> {
        require_admin(admin)?;
        let (revision, content) = service.store().load_content().await?.ok_or_else(not_seeded)?;
        let latest = service.store().content_revisions(None, 1).await?.into_iter().next().map(|line| {
            let entry = entry(line);
            format!("Revision {}, {} by {}: {}", entry.revision, entry.at, entry.author, entry.summary)
        });
        Ok(ContentEditorView { revision, content, components: service.component_choices().await?, latest })
    }

    fn not_seeded() -> AppError {
        AppError::Conflict { message: "The status page has no content yet; Berth adds it when it starts.".to_owned() }
    }

    /// Applies `edit` to the content of the latest revision and saves it as the next one, unless `part` changed
    /// since revision `base`, which the form was made on.
    async fn edit(
        service: &StatusService,
        admin: &User,
        base: i64,
        part: ContentPart,
        (action, request): (&str, &RequestInfo),
        (restored_from, from_feedback): (Option<i64>, Option<i64>),
        edit: impl FnOnce(&mut StatusContent) -> Result<(), AppError>,
    ) -> Result<(), AppError> {
        require_admin(admin)?;
        let store = service.store();
        let (latest, current) = store.load_content().await?.ok_or_else(not_seeded)?;
        if base != latest {
            let at_base = store.content_revision(base).await?.map(|record| record.content);
            if !at_base.is_some_and(|at_base| part.same_in(&at_base, &current)) {
                return Err(stale(service).await);
            }
        }
        let mut next = current.clone();
        edit(&mut next)?;
        if next == current {
            return Ok(());
        }
        let mut summary = describe_changes(&current, &next);
        if let Some(revision) = restored_from {
            summary = format!("Restored revision {revision}: {summary}");
        }
        let touched = next
            .known_issues
            .iter()
            .filter(|issue| {
                issue.id != 0
                    && current
                        .known_issues
                        .iter()
                        .find(|before| before.id == issue.id)
                        .is_none_or(|before| before.differs_from(issue))
            })
            .map(|issue| issue.id)
            .collect();
        let audit = NewAuditEntry::by(admin, action, "status:content".to_owned(), request)
            .with_details(serde_json::json!({ "summary": summary, "base": base }));
        let change = ContentChange { expected: latest, content: next, touched, summary, restored_from, from_feedback };
        match store.save_content(&change, &audit).await? {
            Some(_) => {
                service.changed().await;
                Ok(())
            }
            None => Err(stale(service).await),
        }
    }

    /// The refusal of an edit made on an older revision, naming the change it would have overwritten.
    async fn stale(service: &StatusService) -> AppError {
        let latest = service.store().content_revisions(None, 1).await.ok().and_then(|lines| lines.into_iter().next());
        let by = latest.map_or_else(String::new, |line| {
            let entry = entry(line);
            format!(" {} changed it at {} (revision {}: {}).", entry.author, entry.at, entry.revision, entry.summary)
        });
        AppError::Conflict {
            message: format!(
                "Your change was not saved: this part of the status page changed after you opened the form.{by} \
                 Reload the page to see the current version, then make your change again."
            ),
        }
    }

    pub(super) async fn save_summary(
        service: &StatusService,
        admin: &User,
        base: i64,
        stage: &str,
        service_level: &str,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let stage = text_field("stage", stage, 60);
        let service_level = text_field("service_level", service_level, 1000);
        let summary = match (stage, service_level) {
            (Ok(stage), Ok(service_level)) => ServiceSummary { stage, service_level },
            (stage, level) => return Err(AppError::from_fields([stage.err(), level.err()].into_iter().flatten())),
        };
        edit(service, admin, base, ContentPart::Summary, ("status.content.summary", request), (None, None), |content| {
            content.service = summary;
            Ok(())
        })
        .await
    }

    /// The rows to keep, in order of position (then of the form), with their keys.
    fn ordered<T>(
        rows: &BTreeMap<String, T>,
        position: impl Fn(&T) -> &str,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Vec<(&str, &T)>, AppError> {
        let mut kept = Vec::new();
        let mut errors = Vec::new();
        for (key, row) in rows.iter().filter(|(_, row)| keep(row)) {
            let index: u32 = key.parse().unwrap_or(u32::MAX);
            match position(row).trim() {
                "" => kept.push(((i32::MAX, index), key.as_str(), row)),
                text => match text.parse::<i32>() {
                    Ok(position) => kept.push(((position, index), key.as_str(), row)),
                    Err(_) => errors.push(FieldError {
                        field: format!("rows[{key}][position]"),
                        message: "Give the position as a whole number.".to_owned(),
                    }),
                },
            }
        }
        if !errors.is_empty() {
            return Err(AppError::InvalidFields { errors });
        }
        kept.sort_by_key(|(order, _, _)| *order);
        Ok(kept.into_iter().map(|(_, key, row)| (key, row)).collect())
    }

    fn field_in(key: &str, field: &str, result: Result<String, AppError>, errors: &mut Vec<FieldError>) -> String {
        match result {
            Ok(text) => text,
            Err(error) => {
                let message = error.for_field(field).unwrap_or_else(|| error.to_string());
                errors.push(FieldError { field: format!("rows[{key}][{field}]"), message });
                String::new()
            }
        }
    }

    /// A row's name must not repeat (compared without case).
    fn unique(key: &str, field: &str, name: &str, seen: &mut Vec<String>, errors: &mut Vec<FieldError>) {
        if name.is_empty() {
            return;
        }
        if seen.contains(&name.to_lowercase()) {
            errors.push(FieldError {
                field: format!("rows[{key}][{field}]"),
                message: "Another row has this name.".to_owned(),
            });
        }
        seen.push(name.to_lowercase());
    }

    pub(super) async fn save_matrix(
        service: &StatusService,
        admin: &User,
        base: i64,
        rows: &BTreeMap<String, MatrixRowForm>,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let blank = |row: &MatrixRowForm| {
            [&row.indicator, &row.current_value, &row.best_value].iter().all(|text| text.trim().is_empty())
        };
        let kept = ordered(rows, |row| &row.position, |row| row.remove.is_none() && !blank(row))?;
        let (mut errors, mut seen, mut matrix) = (Vec::new(), Vec::new(), Vec::new());
        for (key, row) in kept {
            let indicator = field_in(key, "indicator", text_field("indicator", &row.indicator, 80), &mut errors);
            unique(key, "indicator", &indicator, &mut seen, &mut errors);
            let current =
                field_in(key, "current_value", text_field("current_value", &row.current_value, 200), &mut errors);
            let best = field_in(key, "best_value", text_field("best_value", &row.best_value, 200), &mut errors);
            let state = |text: &str, field: &str, errors: &mut Vec<FieldError>| {
                Health::parse(text).unwrap_or_else(|_| {
                    errors
                        .push(FieldError { field: format!("rows[{key}][{field}]"), message: "Choose a state.".into() });
                    Health::Warn
                })
            };
            let current_state = state(&row.current_state, "current_state", &mut errors);
            let best_state = state(&row.best_state, "best_state", &mut errors);
            matrix.push(MaturityIndicator {
                indicator,
                current: RatedValue { value: current, state: current_state },
                best_feasible: RatedValue { value: best, state: best_state },
            });
        }
        if !errors.is_empty() {
            return Err(AppError::InvalidFields { errors });
        }
        edit(
            service,
            admin,
            base,
            ContentPart::Maturity,
            ("status.content.maturity", request),
            (None, None),
            |content| {
                content.maturity = matrix;
                Ok(())
            },
        )
        .await
    }

    pub(super) async fn save_areas(
        service: &StatusService,
        admin: &User,
        base: i64,
        rows: &BTreeMap<String, AreaRowForm>,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let blank = |row: &AreaRowForm| row.area.trim().is_empty() && row.description.trim().is_empty();
        let kept = ordered(rows, |row| &row.position, |row| row.remove.is_none() && !blank(row))?;
        let (mut errors, mut seen, mut areas) = (Vec::new(), Vec::new(), Vec::new());
        for (key, row) in kept {
            let area = field_in(key, "area", text_field("area", &row.area, 80), &mut errors);
            unique(key, "area", &area, &mut seen, &mut errors);
            let description =
                field_in(key, "description", text_field("description", &row.description, 1000), &mut errors);
            areas.push(WorkArea { area, description });
        }
        if !errors.is_empty() {
            return Err(AppError::InvalidFields { errors });
        }
        edit(
            service,
            admin,
            base,
            ContentPart::WorkRemaining,
            ("status.content.work_remaining", request),
            (None, None),
            |content| {
                content.work_remaining = areas;
                Ok(())
            },
        )
        .await
    }

    pub(super) async fn save_known_issue(
        service: &StatusService,
        admin: &User,
        base: i64,
        form: &KnownIssueForm,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        let id = form.id;
        // Field names carry the issue's id: one page has a form per issue.
        let named = |field: &str, result: Result<String, AppError>| {
            result.map_err(|error| {
                AppError::invalid(&format!("{id}.{field}"), error.for_field(field).unwrap_or_default())
            })
        };
        let title = named("title", text_field("title", &form.title, 120));
        let description = named("description", text_field("description", &form.description, 4000));
        let workaround = named("workaround", optional_text_field("workaround", &form.workaround, 4000));
        let status = IssueStatus::parse(&form.status)
            .map_err(|_| AppError::invalid(&format!("{id}.status"), "Choose a status."));
        let (title, description, workaround, status) = match (title, description, workaround, status) {
            (Ok(title), Ok(description), Ok(workaround), Ok(status)) => (title, description, workaround, status),
            (a, b, c, d) => {
                return Err(AppError::from_fields([a.err(), b.err(), c.err(), d.err()].into_iter().flatten()));
            }
        };
        let component_ids = service.chosen_components(form.components.keys()).await?;
        let issue = ContentIssue {
            id,
            title,
            description,
            status,
            workaround: (!workaround.is_empty()).then_some(workaround),
            component_ids,
        };
        let action = if id == 0 { "status.known_issue.create" } else { "status.known_issue.update" };
        edit(service, admin, base, ContentPart::Issue(id), (action, request), (None, None), |content| {
            if id == 0 {
                content.known_issues.push(issue);
                return Ok(());
            }
            let stored = content.known_issues.iter_mut().find(|stored| stored.id == id).ok_or(AppError::NotFound)?;
            *stored = issue;
            Ok(())
        })
        .await
    }

    pub(super) async fn remove_known_issue(
        service: &StatusService,
        admin: &User,
        base: i64,
        id: i64,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        edit(
            service,
            admin,
            base,
            ContentPart::Issue(id),
            ("status.known_issue.remove", request),
            (None, None),
            |content| {
                let before = content.known_issues.len();
                content.known_issues.retain(|issue| issue.id != id);
                if content.known_issues.len() == before { Err(AppError::NotFound) } else { Ok(()) }
            },
        )
        .await
    }

    pub(super) async fn revisions(
        service: &StatusService,
        admin: &User,
        before: Option<i64>,
    ) -> Result<RevisionsView, AppError> {
        require_admin(admin)?;
        let mut lines = service.store().content_revisions(before, REVISIONS_PAGE + 1).await?;
        let older = (lines.len() > REVISIONS_PAGE as usize).then(|| {
            lines.truncate(REVISIONS_PAGE as usize);
            lines.last().map_or(0, |line| line.revision)
        });
        Ok(RevisionsView { revisions: lines.into_iter().map(entry).collect(), older })
    }

    pub(super) async fn revision(
        service: &StatusService,
        admin: &User,
        revision: i64,
    ) -> Result<RevisionView, AppError> {
        require_admin(admin)?;
        let store = service.store();
        let record = store.content_revision(revision).await?.ok_or(AppError::NotFound)?;
        let previous = match revision {
            ..=1 => None,
            _ => store.content_revision(revision - 1).await?.map(|record| record.content),
        };
        let names: BTreeMap<i64, String> = service.component_choices().await?.into_iter().collect();
        let old = previous.map(|content| content_lines(&content, &names)).unwrap_or_default();
        let diff = diff_lines(&old, &content_lines(&record.content, &names));
        let latest = store.load_content().await?.map_or(revision, |(latest, _)| latest);
        Ok(RevisionView { entry: entry(record.line), latest, diff })
    }

    /// Adds `issue`, made from feedback `feedback_id`, and links the two in the same transaction (admins only).
    pub(crate) async fn add_issue_from_feedback(
        service: &StatusService,
        admin: &User,
        issue: ContentIssue,
        feedback_id: i64,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        require_admin(admin)?;
        let base = service.store().load_content().await?.ok_or_else(not_seeded)?.0;
        let origin = (None, Some(feedback_id));
        edit(service, admin, base, ContentPart::Issue(0), ("status.known_issue.create", request), origin, |content| {
            content.known_issues.push(issue);
            Ok(())
        })
        .await
    }

    pub(super) async fn restore(
        service: &StatusService,
        admin: &User,
        base: i64,
        revision: i64,
        request: &RequestInfo,
    ) -> Result<(), AppError> {
        require_admin(admin)?;
        let record = service.store().content_revision(revision).await?.ok_or(AppError::NotFound)?;
        edit(
            service,
            admin,
            base,
            ContentPart::Everything,
            ("status.content.restore", request),
            (Some(revision), None),
            |content| {
                *content = record.content;
                Ok(())
            },
        )
        .await
    }
}
