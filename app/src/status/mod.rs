//! The public status page: maturity matrix, service level, work remaining and known issues.

pub mod model;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{Link, Title};
use serde::{Deserialize, Serialize};

use crate::components::ErrorNotice;
use crate::error::AppError;
use model::{IssueStatus, MaturityIndicator, RatedValue, ServiceSummary, WorkArea};

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
}

/// What the status page shows: the report, with its dates in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPageData {
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
impl From<&model::StatusReport> for StatusPageData {
    fn from(report: &model::StatusReport) -> Self {
        let date = |at: &chrono::DateTime<chrono::Utc>| DateText {
            instant: at.to_rfc3339(),
            words: at.format("%-d %B %Y").to_string(),
        };
        Self {
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
                })
                .collect(),
        }
    }
}

/// The current status report, as the page shows it.
#[server(prefix = "/api", endpoint = "status")]
pub async fn get_status() -> Result<StatusPageData, AppError> {
    let state = crate::ssr::app_state()?;
    let report = state.status.report().await.map_err(crate::ssr::respond_with_error)?;
    Ok(StatusPageData::from(&*report))
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
    let StatusPageData { updated, service, maturity, work_remaining, known_issues } = report;
    view! {
        <p class="lede">
            "Last updated " <Date at=updated/> ". Also available as "
            <a href="/status.json">"JSON"</a> " and as an " <a href="/status/feed.atom">"Atom feed"</a> "."
        </p>
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
    let PageIssue { id, title, description, status, workaround, opened, updated } = issue;
    view! {
        <article class="card known-issue" id=format!("issue-{id}")>
            <h3>{title}</h3>
            <p class=format!("issue-status status-{status}")>
                <span class="badge">{status.label()}</span>
            </p>
            <p>{description}</p>
            <dl class="issue-facts">
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
