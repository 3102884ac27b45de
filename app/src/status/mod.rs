//! The public status page: maturity matrix, service level, work remaining and known issues.

pub mod model;
#[cfg(feature = "ssr")]
pub mod ssr;

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::{Link, Title};

use crate::components::ErrorNotice;
use crate::error::AppError;
use model::{KnownIssue, MaturityIndicator, RatedValue, StatusReport, WorkArea};

/// The current status report.
#[server(prefix = "/api", endpoint = "status")]
pub async fn get_status() -> Result<StatusReport, AppError> {
    let state = crate::ssr::app_state()?;
    let report = state.status.report().await.map_err(crate::ssr::respond_with_error)?;
    Ok(StatusReport::clone(&report))
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
fn StatusReportView(report: StatusReport) -> impl IntoView {
    let StatusReport { updated_at, service, maturity, work_remaining, known_issues, .. } = report;
    view! {
        <p class="lede">
            "Last updated " <Date at=updated_at/> ". Also available as "
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
fn KnownIssues(issues: Vec<KnownIssue>) -> impl IntoView {
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
fn KnownIssueCard(issue: KnownIssue) -> impl IntoView {
    let KnownIssue { id, title, description, status, workaround, opened_at, updated_at } = issue;
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
                <dd><Date at=opened_at/></dd>
                <dt>"Updated"</dt>
                <dd><Date at=updated_at/></dd>
            </dl>
        </article>
    }
}

/// A `<time>` element showing a date in words, with the exact instant in `datetime`.
#[component]
fn Date(at: DateTime<Utc>) -> impl IntoView {
    view! { <time datetime=at.to_rfc3339()>{at.format("%-d %B %Y").to_string()}</time> }
}
