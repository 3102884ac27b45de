//! The public status page: the components and their incidents, announced maintenance, the maturity matrix,
//! service level, work remaining and known issues; the incident history; the admins' operations page.

pub mod admin;
#[cfg(feature = "ssr")]
pub mod availability;
pub mod content;
pub mod editor;
pub mod history;
pub mod model;
pub mod notifications;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{Link, Title};
use serde::{Deserialize, Serialize};

use crate::components::ErrorNotice;
use crate::error::AppError;
use model::{ComponentStatus, IssueStatus, MaturityIndicator, RatedValue, ServiceSummary, WorkArea};

/// A date as the page shows it, made on the server (so that the browser needs no calendar code): the instant for
/// `<time datetime>` and the day in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateText {
    /// RFC 3339.
    pub instant: String,
    /// "24 November 2026".
    pub words: String,
}

/// A known issue as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageIssue {
    /// Id, for the anchor.
    pub id: i64,
    /// Title.
    pub title: String,
    /// What users see.
    pub description: String,
    /// Where it stands.
    pub status: IssueStatus,
    /// What to do meanwhile.
    pub workaround: Option<String>,
    /// First recorded.
    pub opened: DateText,
    /// Last changed.
    pub updated: DateText,
    /// The components it affects, in words ("API, Storage"); empty when none is named.
    pub affected: String,
}

/// A component as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageComponent {
    /// Name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Now.
    pub status: ComponentStatus,
    /// The last 90 days' worst status, a letter a day, oldest first (see [`day_letter`]).
    pub days: String,
    /// What happened on each day that was not operational, in words, in the order of those days in `days`.
    pub notes: Vec<String>,
    /// "99.95% available in service hours over 90 days", or why there is no figure.
    pub availability: String,
}

/// A letter for a day's worst status, as [`PageComponent::days`] holds it.
pub fn day_letter(status: ComponentStatus) -> char {
    match status {
        ComponentStatus::Operational => 'o',
        ComponentStatus::UnderMaintenance => 'm',
        ComponentStatus::Degraded => 'd',
        ComponentStatus::PartialOutage => 'p',
        ComponentStatus::MajorOutage => 'x',
    }
}

/// The bars of `days`: each day that was not operational on its own (it has a note), and each run of operational days
/// as one bar of that many days (`(letter, days)`), so that a quiet component's 90 days are one element, not 90.
pub fn day_runs(days: &str) -> Vec<(char, usize)> {
    let mut runs: Vec<(char, usize)> = Vec::new();
    for letter in days.chars() {
        match runs.last_mut() {
            Some((previous, length)) if letter == 'o' && *previous == 'o' => *length += 1,
            _ => runs.push((letter, 1)),
        }
    }
    runs
}

/// An incident as pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageIncident {
    /// Id, for the anchor.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Where it stands.
    pub status: IssueStatus,
    /// "7 December 2026 14:05 UTC".
    pub opened: String,
    /// When it was resolved, in words.
    pub resolved: Option<String>,
    /// Affected components and how, in words ("API (major outage), Storage (degraded)"); empty when none.
    pub affected: String,
    /// Updates, newest first.
    pub updates: Vec<PageUpdate>,
}

/// An incident's update as pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageUpdate {
    /// When, in words.
    pub at: String,
    /// The status it moved to.
    pub status: IssueStatus,
    /// What was found or done.
    pub message: String,
}

/// A maintenance window as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageMaintenance {
    /// Id, for the anchor.
    pub id: i64,
    /// Title.
    pub title: String,
    /// What is done.
    pub description: String,
    /// "8 December 2026 10:00 to 12:00 Europe/Helsinki time".
    pub when: String,
    /// Affected components, joined.
    pub components: String,
    /// Whether it is going on now.
    pub in_progress: bool,
}

/// What the status page shows: the report, with its dates in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPageData {
    /// The worst status of any component.
    pub overall: ComponentStatus,
    /// Components in display order.
    pub components: Vec<PageComponent>,
    /// Open incidents, newest first.
    pub incidents: Vec<PageIncident>,
    /// Maintenance in progress or to come, soonest first.
    pub maintenance: Vec<PageMaintenance>,
    /// The service hours and the availability target, in words.
    pub service_hours: String,
    /// When the content last changed.
    pub updated: DateText,
    /// Stage and service level.
    pub service: ServiceSummary,
    /// The maturity matrix.
    pub maturity: Vec<MaturityIndicator>,
    /// Work remaining.
    pub work_remaining: Vec<WorkArea>,
    /// Known issues.
    pub known_issues: Vec<PageIssue>,
}

#[cfg(feature = "ssr")]
impl StatusPageData {
    fn of(report: &model::StatusReport, level: &ssr::ServiceLevelSettings) -> Self {
        let date = |at: &chrono::DateTime<chrono::Utc>| DateText {
            instant: at.to_rfc3339(),
            words: at.format("%-d %B %Y").to_string(),
        };
        let zone = match &level.hours {
            availability::ServiceHours::Weekly { zone, .. } => *zone,
            availability::ServiceHours::Always => chrono_tz::UTC,
        };
        let now = chrono::Utc::now();
        Self {
            overall: report.overall,
            components: report.components.iter().map(|component| page_component(component, zone)).collect(),
            incidents: report
                .incidents
                .iter()
                .filter(|incident| incident.resolved_at.is_none())
                .map(page_incident)
                .collect(),
            maintenance: report
                .maintenance
                .iter()
                .map(|window| PageMaintenance {
                    id: window.id,
                    title: window.title.clone(),
                    description: window.description.clone(),
                    when: window_words(window.starts_at, window.ends_at, zone),
                    components: window.components.join(", "),
                    in_progress: window.starts_at <= now,
                })
                .collect(),
            service_hours: format!(
                "Availability counts within service hours ({}) and leaves out announced maintenance; the target is \
                 {}%.",
                level.hours.describe(),
                availability::milli_percent_text(level.target_milli_percent)
            ),
            updated: date(&report.updated_at),
            service: report.service.clone(),
            maturity: report.maturity.clone(),
            work_remaining: report.work_remaining.clone(),
            known_issues: report
                .known_issues
                .iter()
                .map(|issue| PageIssue {
                    id: issue.id,
                    title: issue.title.clone(),
                    description: issue.description.clone(),
                    status: issue.status,
                    workaround: issue.workaround.clone(),
                    opened: date(&issue.opened_at),
                    updated: date(&issue.updated_at),
                    affected: issue.components.join(", "),
                })
                .collect(),
        }
    }
}

/// An instant in words, to the minute, in UTC: "7 December 2026 14:05 UTC".
#[cfg(feature = "ssr")]
pub fn moment_words(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%-d %B %Y %H:%M UTC").to_string()
}

/// A window in the service hours' zone: "8 December 2026 10:00 to 12:00, Europe/Helsinki time".
#[cfg(feature = "ssr")]
fn window_words(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>, zone: chrono_tz::Tz) -> String {
    let (from, to) = (from.with_timezone(&zone), to.with_timezone(&zone));
    let end = if from.date_naive() == to.date_naive() { to.format("%H:%M") } else { to.format("%-d %B %Y %H:%M") };
    format!("{} to {end}, {zone} time", from.format("%-d %B %Y %H:%M"))
}

#[cfg(feature = "ssr")]
fn page_component(component: &model::Component, zone: chrono_tz::Tz) -> PageComponent {
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let count = component.last_90_days.len();
    let notes = component
        .last_90_days
        .iter()
        .enumerate()
        .filter(|(_, status)| **status != ComponentStatus::Operational)
        .map(|(index, status)| {
            let day = today - chrono::Duration::days((count - 1 - index) as i64);
            format!("{}: {}", day.format("%-d %B"), status.label())
        })
        .collect();
    PageComponent {
        name: component.name.clone(),
        description: component.description.clone(),
        status: component.status,
        days: component.last_90_days.iter().map(|status| day_letter(*status)).collect(),
        notes,
        availability: match &component.availability_90_days {
            Some(percent) => format!("{percent}% available in service hours over 90 days"),
            None => "No service hours in the last 90 days".to_owned(),
        },
    }
}

/// An incident as pages show it.
#[cfg(feature = "ssr")]
pub fn page_incident(incident: &model::Incident) -> PageIncident {
    PageIncident {
        id: incident.id,
        title: incident.title.clone(),
        status: incident.status,
        opened: moment_words(incident.opened_at),
        resolved: incident.resolved_at.map(moment_words),
        affected: incident
            .components
            .iter()
            .map(|affected| format!("{} ({})", affected.component, affected.impact.label().to_lowercase()))
            .collect::<Vec<_>>()
            .join(", "),
        updates: incident
            .updates
            .iter()
            .map(|update| PageUpdate {
                at: moment_words(update.at),
                status: update.status,
                message: update.message.clone(),
            })
            .collect(),
    }
}

/// The current status report, as the page shows it.
#[server(prefix = "/api", endpoint = "status")]
pub async fn get_status() -> Result<StatusPageData, AppError> {
    let state = crate::ssr::app_state()?;
    let report = state.status.report().await.map_err(crate::ssr::respond_with_error)?;
    Ok(StatusPageData::of(&report, state.status.settings()))
}

/// The admins' incident form: a new incident (title, status, message, impacts) or an update (status, message,
/// changed impacts). `impacts` maps a component's id to its impact; an empty choice leaves it out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentForm {
    /// One-line summary (new incidents only).
    #[serde(default)]
    pub title: String,
    /// The status from now on.
    #[serde(default)]
    pub status: String,
    /// What was found or done.
    #[serde(default)]
    pub message: String,
    /// Component id to impact.
    #[serde(default)]
    pub impacts: std::collections::BTreeMap<String, String>,
}

/// The admins' maintenance form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceForm {
    /// One-line summary.
    #[serde(default)]
    pub title: String,
    /// What is done and what users notice.
    #[serde(default)]
    pub description: String,
    /// Start, local time (`YYYY-MM-DDTHH:MM`).
    #[serde(default)]
    pub starts: String,
    /// End, local time.
    #[serde(default)]
    pub ends: String,
    /// The components' ids (the keys; a checked box sends "on").
    #[serde(default)]
    pub components: std::collections::BTreeMap<String, String>,
}

/// `/status`.
#[component]
pub fn StatusPage() -> impl IntoView {
    let report = Resource::new_blocking(|| (), |()| get_status());
    view! {
        <Title text="Service status"/>
        <Link rel="alternate" type_="application/atom+xml" href="/status/feed.atom" title="Berth known issues"/>
        <h1>"Service status"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading the service status…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => view! { <StatusReportView report/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn StatusReportView(report: StatusPageData) -> impl IntoView {
    let StatusPageData {
        overall,
        components,
        incidents,
        maintenance,
        service_hours,
        updated,
        service,
        maturity,
        work_remaining,
        known_issues,
    } = report;
    let overall_text = match overall {
        ComponentStatus::Operational => "All components are operational.",
        ComponentStatus::UnderMaintenance => "Maintenance is in progress.",
        ComponentStatus::Degraded => "Some components are degraded.",
        ComponentStatus::PartialOutage => "Some components have a partial outage.",
        ComponentStatus::MajorOutage => "Some components have a major outage.",
    };
    view! {
        <p class=format!("overall component-{overall}")>
            <span class="badge">{overall.label()}</span> " " {overall_text}
        </p>
        <p class="lede">
            "Last updated " <Date at=updated/> ". Also as " <a href="/status.json">"JSON"</a>
            " and as Atom feeds of " <a href="/status/incidents.atom">"incidents"</a> ", "
            <a href="/status/maintenance.atom">"maintenance"</a> " and " <a href="/status/feed.atom">"known issues"</a>
            ". " <a href="/status/incidents">"Past incidents and availability"</a> ". "
            <a href="/status/subscribe">"Get incidents and maintenance by e-mail"</a> "."
        </p>
        {(!incidents.is_empty()).then(|| view! {
            <section aria-labelledby="incidents-heading">
                <h2 id="incidents-heading">"Open incidents"</h2>
                {incidents.into_iter().map(|incident| view! { <IncidentCard incident/> }).collect_view()}
            </section>
        })}
        <Components components service_hours/>
        {(!maintenance.is_empty()).then(|| view! {
            <section aria-labelledby="maintenance-heading">
                <h2 id="maintenance-heading">"Maintenance"</h2>
                {maintenance.into_iter().map(|window| view! {
                    <article class="card" id=format!("maintenance-{}", window.id)>
                        <h3>{window.title}</h3>
                        <p>
                            <span class="badge">{if window.in_progress { "In progress" } else { "Announced" }}</span>
                            " " {window.when} ". Affects " {window.components} "."
                        </p>
                        <p class="prose-text">{window.description}</p>
                    </article>
                }).collect_view()}
            </section>
        })}
        <section aria-labelledby="service-heading" class="card">
            <h2 id="service-heading">"Service level"</h2>
            <p class="service-level">
                <span class="stage">{service.stage}</span> " " {service.service_level}
            </p>
        </section>
        <MaturityMatrix rows=maturity/>
        <WorkRemaining areas=work_remaining/>
        <KnownIssues issues=known_issues/>
    }
}

#[component]
fn Components(components: Vec<PageComponent>, service_hours: String) -> impl IntoView {
    view! {
        <section aria-labelledby="components-heading">
            <h2 id="components-heading">"Components"</h2>
            <p class="hint">{service_hours}</p>
            <ul class="components">
                {components.into_iter().map(|component| {
                    let PageComponent { name, description, status, days, notes, availability } = component;
                    let label = format!("{name}, last 90 days: {availability}.");
                    let mut notes = notes.into_iter();
                    view! {
                        <li class="component">
                            <p>
                                <strong>{name}</strong> " "
                                <span class=format!("badge component-{status}")>{status.label()}</span>
                            </p>
                            <p class="hint">{description}</p>
                            <p class="days" role="img" aria-label=label>
                                {day_runs(&days).into_iter().map(|(letter, length)| {
                                    let note = if letter == 'o' { None } else { notes.next() };
                                    let class = if length == 1 { letter.to_string() } else { format!("{letter} r{length}") };
                                    view! { <i class=class title=note></i> }
                                }).collect_view()}
                            </p>
                            <p class="hint">{availability}</p>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// An incident with its affected components and updates.
#[component]
pub fn IncidentCard(incident: PageIncident) -> impl IntoView {
    let PageIncident { id, title, status, opened, resolved, affected, updates } = incident;
    view! {
        <article class="card incident" id=format!("incident-{id}")>
            <h3>{title}</h3>
            <p>
                <span class=format!("badge status-{status}")>{status.label()}</span>
                " Opened " {opened} {resolved.map(|at| format!("; resolved {at}"))} "."
            </p>
            {(!affected.is_empty()).then(|| view! { <p>"Affects: " {affected}</p> })}
            <Updates updates/>
        </article>
    }
}

/// An incident's updates, newest first.
#[component]
pub fn Updates(updates: Vec<PageUpdate>) -> impl IntoView {
    view! {
        <ol class="updates">
            {updates.into_iter().map(|update| view! {
                <li>
                    <strong>{update.status.label()}</strong> " · " <span class="hint">{update.at}</span>
                    <p class="prose-text">{update.message}</p>
                </li>
            }).collect_view()}
        </ol>
    }
}

#[component]
fn MaturityMatrix(rows: Vec<MaturityIndicator>) -> impl IntoView {
    view! {
        <section aria-labelledby="maturity-heading">
            <h2 id="maturity-heading">"Maturity"</h2>
            <table class="matrix">
                <caption>"How ready each part of the service is today, and the best it can feasibly be."</caption>
                <thead>
                    <tr>
                        <th scope="col">"Indicator"</th>
                        <th scope="col">"Current value"</th>
                        <th scope="col">"Best feasible value"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            view! {
                                <tr>
                                    <th scope="row">{row.indicator}</th>
                                    <RatedCell label="Current value" rated=row.current/>
                                    <RatedCell label="Best feasible value" rated=row.best_feasible/>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn RatedCell(label: &'static str, rated: RatedValue) -> impl IntoView {
    view! {
        <td class=format!("rated rated-{}", rated.state) data-label=label>
            <span class="badge">{rated.state.label()}</span>
            " "
            <span class="value">{rated.value}</span>
        </td>
    }
}

#[component]
fn WorkRemaining(areas: Vec<WorkArea>) -> impl IntoView {
    view! {
        <section aria-labelledby="work-heading">
            <h2 id="work-heading">"Work remaining before production"</h2>
            <div class="work-areas">
                {areas
                    .into_iter()
                    .map(|area| {
                        view! {
                            <article class="card work-area">
                                <h3>{area.area}</h3>
                                <p>{area.description}</p>
                            </article>
                        }
                    })
                    .collect_view()}
            </div>
        </section>
    }
}

#[component]
fn KnownIssues(issues: Vec<PageIssue>) -> impl IntoView {
    let empty = issues.is_empty();
    view! {
        <section aria-labelledby="issues-heading">
            <h2 id="issues-heading">"Known issues"</h2>
            <Show when=move || empty>
                <p>"There are no known issues."</p>
            </Show>
            {issues.into_iter().map(|issue| view! { <KnownIssueCard issue/> }).collect_view()}
        </section>
    }
}

#[component]
fn KnownIssueCard(issue: PageIssue) -> impl IntoView {
    let PageIssue { id, title, description, status, workaround, opened, updated, affected } = issue;
    view! {
        <article class="card known-issue" id=format!("issue-{id}")>
            <h3>{title}</h3>
            <p class=format!("issue-status status-{status}")>
                <span class="badge">{status.label()}</span>
            </p>
            <p>{description}</p>
            <dl class="issue-facts">
                {(!affected.is_empty()).then(|| view! { <dt>"Affects"</dt><dd>{affected}</dd> })}
                <dt>"Workaround"</dt>
                <dd>{workaround.unwrap_or_else(|| "None yet.".to_owned())}</dd>
                <dt>"Opened"</dt>
                <dd><Date at=opened/></dd>
                <dt>"Updated"</dt>
                <dd><Date at=updated/></dd>
            </dl>
        </article>
    }
}

/// A `<time>` element showing a date in words, with the exact instant in `datetime`.
#[component]
fn Date(at: DateText) -> impl IntoView {
    view! { <time datetime=at.instant>{at.words}</time> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operational_days_run_together_and_other_days_stand_alone() {
        assert_eq!(day_runs("ooodxxoo"), vec![('o', 3), ('d', 1), ('x', 1), ('x', 1), ('o', 2)]);
        assert_eq!(day_runs(&"o".repeat(90)), vec![('o', 90)]);
        assert!(day_runs("").is_empty());
        let days = "moopoo";
        let total: usize = day_runs(days).iter().map(|(_, length)| length).sum();
        assert_eq!(total, days.len(), "every day is in one bar");
    }
}
